"""`nawt study --vary METHOD.OPTION=v1,v2,…`: one study row per setting of a method's strength. No torch.

``--vary sam.rho=0.02,0.05,0.1`` turns the study's ``sam`` row into three rows,
``sam:rho=0.02`` … (study.method_entry's form, so a varied row is the same thing as
a variant typed by hand); two ``--vary`` of one method give every combination.
``all.OPTION`` varies an option every method has (COMMON: weight decay, learning
rate, momentum, batch size) in every row. Each value is checked as a run of that
method would check it, so a bad one is refused before anything is queued.
"""

from __future__ import annotations

import itertools
from typing import Any

from . import spec
from .config import TrainConfig
from .errors import NawtError
from .lists import split_items

COMMON = ("weight_decay", "lr", "momentum", "batch_size")  # TrainConfig fields every method trains with
_KINDS = {"weight_decay": float, "lr": float, "momentum": float, "batch_size": int}


def parse(text: str) -> tuple[str, str, list[Any]]:
    """(method or "all", option, values) of ``METHOD.OPTION=v1,v2``; NawtError for anything else."""
    target, dot, rest = text.strip().partition(".")
    option, eq, raw = rest.partition("=")
    option = option.strip().replace("-", "_")
    if not dot or not eq or not option:
        raise NawtError(f"--vary {text!r}: expected METHOD.OPTION=v1,v2,… (e.g. sam.rho=0.02,0.05,0.1)")
    if target != "all":
        m = spec.method(target)  # unknown: NawtError naming the methods
        if option not in m.options:
            raise NawtError(f"--vary {text!r}: {target} has no option {option!r} (its options: "
                            f"{', '.join(o.replace('_', '-') for o in m.options) or 'none'}; "
                            f"all.OPTION varies one of {', '.join(c.replace('_', '-') for c in COMMON)})")
    elif option not in COMMON:
        raise NawtError(f"--vary {text!r}: all.OPTION varies one of {', '.join(c.replace('_', '-') for c in COMMON)}")
    values = [value(option, v, f"--vary {text!r}") for v in split_items(raw, f"--vary {target}.{option}")]
    if len(set(map(repr, values))) < len(values):
        raise NawtError(f"--vary {text!r}: a value is given twice")
    for v in values:  # as a run would check it: one error line, nothing queued
        TrainConfig(method="standard" if target == "all" else target, dataset="synthetic", **{option: v}).validate()
    return target, option, values


def value(option: str, raw: str, where: str) -> Any:
    """``raw`` as ``option`` takes it (a method option of spec.py, or one of COMMON); NawtError
    naming ``where`` (``--vary 'sam.rho=x'``, ``study row 'sam:rho=x'``) otherwise."""
    kind = _KINDS.get(option) or spec.OPTIONS[option].kind
    raw = raw.strip()
    if kind is bool:
        if raw.lower() in ("true", "false"):
            return raw.lower() == "true"
    elif kind is str:
        return raw
    else:
        try:
            return kind(raw) if kind is not list else [float(x) for x in raw.split("/") if x]
        except ValueError:
            pass
    noun = {bool: "true or false", int: "whole numbers", list: "lists like 0/0.05"}.get(kind, "numbers")
    raise NawtError(f"{where}: {option.replace('_', '-')} takes {noun} (got {raw!r})")


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return "/".join(f"{x:g}" for x in v)
    return f"{v:g}" if isinstance(v, float) else str(v)


def expand(rows: list[str], varies: list[str]) -> list[str]:
    """The study rows with every ``--vary`` applied: each row of a varied method becomes one row
    per combination of its varied values (``sam:rho=0.1``); ``all.`` applies to every row."""
    parsed = [parse(v) for v in varies]
    names = {r.split(":", 1)[0].strip() for r in rows}
    for target, option, _ in parsed:
        if target != "all" and target not in names:
            raise NawtError(f"--vary {target}.{option.replace('_', '-')}: {target} is not one of the study's "
                            f"methods ({', '.join(sorted(names))}); add it with -m {target}")
    seen = [(t, o) for t, o, _ in parsed]
    if len(set(seen)) < len(seen):
        raise NawtError("--vary: an option is varied twice for the same method; give its values once")
    out = []
    for row in rows:
        name = row.split(":", 1)[0].strip()
        mine = [(o, vs) for t, o, vs in parsed if t in (name, "all")]
        for combo in itertools.product(*[vs for _, vs in mine]):
            out.append(row + "".join(f":{o.replace('_', '-')}={_text(v)}" for (o, _), v in zip(mine, combo)))
    return out


__all__ = ["COMMON", "expand", "parse", "value"]
