"""The evaluate dialog's fields and checks, from the evaluation registry (what `nawt eval` itself checks).

Every registered evaluation (nawt_core/evalspec.py) brings its options as
fields: a choice as a select, a flag as a check box, a number or a list as a
text field pre-filled with its default. A value is parsed by the option
(``Option.parse``) and checked by the spec with the other options at their
defaults, so each field gets the error line `nawt eval` would print.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nawt_core import evalspec
from nawt_core.config import PRECISIONS
from nawt_core.errors import NawtError
from nawt_core.options import Option


@dataclass(frozen=True)
class Field:
    """One field of the dialog: an option, the evaluations that show it, its widget id."""

    option: Option
    kinds: tuple[str, ...]  # evaluation names
    id: str


def kinds() -> list[tuple[str, str]]:
    """(label, name) of the evaluation select."""
    return [(s.text.choice, s.name) for s in evalspec.evaluations()]


def fields() -> list[Field]:
    """Every form option of every evaluation, in registry order; an option that two evaluations
    share unchanged is one field, one of the same name but other settings gets its own id."""
    out: list[Field] = []
    for s in evalspec.evaluations():
        for o in (o for o in s.options if o.form):
            same = next((i for i, f in enumerate(out) if f.option == o), None)
            if same is not None:
                out[same] = Field(o, (*out[same].kinds, s.name), out[same].id)
                continue
            taken = any(f.option.name == o.name for f in out)
            out.append(Field(o, (s.name,), f"eval-{s.ident}-{o.name}" if taken else f"eval-{o.name.replace('_', '-')}"))
    return out


def default_text(kind: str, option: Option, values: dict[str, Any] | None = None) -> str:
    """What a field shows before the user types: the checked default, given the other ``values``
    (a list whose default follows another option, e.g. the strengths of a perturbation mode)."""
    s = evalspec.evaluation(kind)
    given = {k: v for k, v in (values or {}).items() if k in {o.name for o in s.options} and k != option.name}
    try:
        return option.text(s.checked(given)[option.name])
    except NawtError:
        return option.text(option.default)


def variant_defaults(kind: str, option: Option) -> set[str]:
    """The default texts of ``option`` for every value of its evaluation's variant (untouched fields follow it)."""
    s = evalspec.evaluation(kind)
    if s.variant is None:
        return {default_text(kind, option)}
    return {default_text(kind, option, {s.variant: v}) for v in s.option(s.variant).choices}


def _value(s: evalspec.EvalSpec, o: Option, raw: Any) -> Any:
    """A field's value: parsed (NawtError if it is not one); blank: the default where it has none fixed."""
    if o.kind is bool:
        return bool(raw)
    if o.kind is str:
        return raw or o.default
    v = o.parse(raw)
    if v is None and o.kind is list and o.default is not None:
        return []  # a blank list that has a fixed default: the spec says what it needs
    if v is None and o.kind is not list:
        raise NawtError(f"{o.title} is required")
    return v


def validate_eval(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Dialog values (``kind``, the kind's option names, ``precision``, ``device``) to `nawt eval`
    options, and an error message per bad field (keyed by option name)."""
    out: dict[str, Any] = {}
    errors: dict[str, str] = {}
    try:
        s = evalspec.evaluation(values.get("kind") or "")
    except NawtError:
        errors["kind"] = f"choose {' or '.join(evalspec.names())}"
        s = None
    for o in (o for o in s.options if o.form) if s else ():
        try:  # a field the caller does not give (not a blank one): its default
            v = _value(s, o, values[o.name]) if o.name in values else o.default
            s.checked({o.name: v})  # the spec's own check, the other options at their defaults
        except NawtError as e:  # named after its field, as the dialog lists the errors together
            errors[o.name] = str(e) if str(e).startswith(o.title) else f"{o.title}: {e}"
            continue
        if isinstance(v, list):
            desc = s.param is not None and s.param.name == o.name and s.param.descending
            v = sorted(set(v), reverse=desc)
        out[o.name] = v
    precision = values.get("precision") or "auto"
    if precision not in PRECISIONS:
        errors["precision"] = f"precision must be one of {', '.join(PRECISIONS)}"
    out["precision"] = precision
    device = values.get("device") or ""  # blank: the device family the run trained on
    if device and not (device in ("auto", "cpu", "cuda") or (device.startswith("cuda:") and device[5:].isdigit())):
        errors["device"] = f"unknown device {device!r}; use auto, cpu, cuda or cuda:N"
    out["device"] = device or None
    return out, errors
