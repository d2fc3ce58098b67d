"""Lists given on the command line (`--bits 8,6,4`, `--gpus 0,1`, `-m standard,sam`), split one way.

Items are separated by commas or spaces, and an option may be repeated. An empty
item (`0,,1`, `8,`, `""`) is refused rather than dropped: it is usually a typo
that would otherwise change what runs without a word.
"""

from __future__ import annotations

from typing import Iterable

from .errors import NawtError


def split_items(values: str | Iterable[str] | None, what: str) -> list[str]:
    """The items of ``values`` (one string or the option's repeats); NawtError naming ``what``
    for an empty item."""
    if values is None:
        return []
    out = []
    for value in [values] if isinstance(values, str) else list(values):
        pieces = value.split(",")
        if any(not p.strip() for p in pieces):
            raise NawtError(f"{what} has an empty item in {value!r}: separate items by one comma")
        out += [token for p in pieces for token in p.split()]
    return out


def numbers(values: str | Iterable[str] | None, what: str, kind: type = float) -> list:
    """``split_items`` read as numbers of ``kind`` (float or int)."""
    items = split_items(values, what)
    try:
        return [kind(v) for v in items]
    except ValueError:
        noun = "whole numbers" if kind is int else "numbers"
        raise NawtError(f"{what} must be {noun} separated by commas (got {', '.join(items)!r})") from None


__all__ = ["numbers", "split_items"]
