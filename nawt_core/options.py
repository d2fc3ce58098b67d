"""One option of a command, described once, without torch: the training methods'
options (spec.py) and the evaluations' (evalspec.py) are ``Option``s.

An ``Option`` knows its type, default, bounds, help and how a form labels it;
``check`` gives the one error line for a bad value and ``parse`` reads the text
a user typed (``0,0.05 0.1``: lists are comma- or space-separated). The CLI,
``TrainConfig.validate()``, the evaluations' checks and the TUI's forms all
use these, so a value is read and refused the same way everywhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .errors import NawtError
from .lists import numbers, split_items

UNSET: Any = object()  # Option.assumed when a stored config without the key is taken as is


def split(text: str | list[str] | None, what: str = "the list") -> list[str]:
    """The items of ``0,0.05 0.1`` (or of repeated options, a list of such texts); blank text
    holds none; an empty item (``0,,1``) is refused (lists.split_items)."""
    texts = [text] if isinstance(text, str) else list(text or [])
    return split_items([t for t in texts if t.strip()], what)


def parse_list(text: str | list[str] | None, what: str, item: type = float) -> list | None:
    """Numbers from ``text``; None when it holds none; one error line when one is not a number
    or an item is empty (lists.numbers, as every list nawt reads)."""
    texts = [text] if isinstance(text, str) else list(text or [])
    return numbers([t for t in texts if t.strip()], what, item) or None


@dataclass(frozen=True)
class Option:
    """One option: a ``TrainConfig`` field of a method, or a setting of an evaluation."""

    name: str
    kind: type  # float | int | bool | str (one of choices) | list (of ``item``)
    default: Any
    help: str
    low: float | None = None  # inclusive bounds (lists: every element)
    high: float | None = None
    choices: tuple[str, ...] = ()  # kind str: the allowed values
    item: type = float  # kind list: float or int
    short: str = ""  # a one-letter CLI alias, e.g. "-s"
    label: str = ""  # a form's label [default: the title]
    hint: str = ""  # a form's placeholder
    choice_labels: tuple[str, ...] = ()  # a form's text for each choice
    form: bool = True  # shown in the TUI's forms
    assumed: Any = UNSET  # what a stored config that lacks the key meant (older versions)

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def off_flag(self) -> str:
        """The flag that turns a boolean option off (e.g. --no-noise-last-epoch)."""
        return "--no-" + self.name.replace("_", "-")

    @property
    def title(self) -> str:
        return self.name.replace("_", " ")

    @property
    def form_label(self) -> str:
        return self.label or self.title

    def check(self, value) -> str | None:
        """The error line for a bad value, or None (lists: every element)."""
        if self.kind is bool:
            return None
        if self.kind is str:
            return None if value in self.choices else (
                f"{self.title} must be one of {', '.join(self.choices)} (got {value!r})")
        values = list(value) if self.kind is list else [value]
        for v in values:
            if not isinstance(v, (int, float)) or v != v or v in (float("inf"), float("-inf")):
                return f"{self.title} must be {'finite numbers' if self.kind is list else 'a finite number'} (got {value})"
            if self.low is not None and v < self.low:
                what = "must not be negative" if self.low == 0 else f"must be at least {self.low:g}"
                return f"{self.title} {what} (got {value})"
            if self.high is not None and v > self.high:
                return f"{self.title} must be at most {self.high:g} (got {value})"
        return None

    def parse(self, text: Any) -> Any:
        """The value of what a user typed (a form's text, a CLI string); None for a blank
        number or list (the default applies). Raises NawtError for text that is not one."""
        if self.kind is bool:
            return bool(text)
        if self.kind is list:
            return parse_list(text, self.title, self.item)
        raw = "" if text is None else str(text).strip()
        if self.kind is str:
            return raw or None
        if raw == "":
            return None
        try:
            value = self.kind(raw)
        except ValueError:
            raise NawtError(f"{self.title} must be {'a whole number' if self.kind is int else 'a number'} "
                            f"(got {raw!r})") from None
        if self.kind is float and not math.isfinite(value):
            raise NawtError(f"{self.title} must be a finite number (got {raw})")
        return value

    def text(self, value: Any) -> str:
        """A value as a user would type it (``0,0.05,0.1``; a form's default)."""
        if value is None:
            return ""
        if isinstance(value, (list, tuple)):
            return ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
        return f"{value:g}" if isinstance(value, float) else str(value)


__all__ = ["UNSET", "Option", "parse_list", "split"]
