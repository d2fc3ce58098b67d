"""The evaluate dialog's choices and checks, from nawt_core.evalspec (what `nawt eval` itself checks)."""

from __future__ import annotations

from typing import Any

from nawt_core import evalspec
from nawt_core.config import PRECISIONS
from nawt_core.errors import NawtError
from nawt_core.lists import numbers

MODE_CHOICES = tuple((evalspec.MODE_LABELS.get(m, m), m) for m in evalspec.MODES)


def numbers_text(values: list[Any]) -> str:
    return ",".join(f"{v:g}" for v in values)


DEFAULT_STRENGTHS = {m: numbers_text(evalspec.DEFAULT_STRENGTHS[m]) for m in evalspec.MODES}
DEFAULT_BITS = numbers_text(evalspec.DEFAULT_BITS)
DEFAULT_TRIALS = str(evalspec.DEFAULT_TRIALS)


def _numbers(text: str, what: str) -> tuple[list[float], str | None]:
    try:
        return numbers(text, what), None  # `0,,1` is refused, as on the command line
    except NawtError as e:
        return [], str(e)


def _why(check: Any, *args: Any) -> str | None:
    try:
        check(*args)
    except NawtError as e:
        return str(e)
    return None


def validate_eval(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Dialog values to `nawt eval` options, and an error message per bad field.

    robustness: mode, strengths (blank: the mode's default), trials; quantization: bits, granularity,
    fold_bn; both: precision. The bounds are evalspec's, as `nawt eval` checks them."""
    kind = values.get("kind")
    out: dict[str, Any] = {}
    errors: dict[str, str] = {}
    if kind == "robustness":
        out["mode"] = mode = values.get("mode") or evalspec.MODES[0]
        strengths, err = _numbers(values.get("strengths") or "", "strengths")
        raw = (values.get("trials") or "").strip()
        try:
            trials = int(raw)
        except ValueError:
            errors["trials"] = "trials must be a whole number ≥ 1"
        else:
            out["trials"] = trials
            if why := _why(evalspec.check_robustness, evalspec.MODES[0], (), trials):
                errors["trials"] = why
        out["strengths"] = sorted(set(strengths)) or None
        if why := err or _why(evalspec.check_robustness, evalspec.MODES[0], strengths):
            errors["strengths"] = why if why.startswith("strengths") else f"strengths: {why}"
        if why := _why(evalspec.check_mode, mode):
            errors["mode"] = why
    elif kind == "quantization":
        bits, err = _numbers(values.get("bits") or "", "bits")
        try:
            out["bits"] = sorted(set(evalspec.check_bits(bits)), reverse=True)
        except NawtError as e:
            errors["bits"] = err or str(e)
        out["granularity"] = gran = values.get("granularity") or evalspec.GRANULARITIES[0]
        if why := _why(evalspec.check_quantization, [evalspec.MAX_BITS], gran):
            errors["granularity"] = why
        out["fold_bn"] = bool(values.get("fold_bn"))
    else:
        errors["kind"] = "choose robustness or quantization"
    precision = values.get("precision") or "auto"
    if precision not in PRECISIONS:
        errors["precision"] = f"precision must be one of {', '.join(PRECISIONS)}"
    out["precision"] = precision
    device = values.get("device") or ""  # blank: the device family the run trained on
    if device and not (device in ("auto", "cpu", "cuda") or (device.startswith("cuda:") and device[5:].isdigit())):
        errors["device"] = f"unknown device {device!r}; use auto, cpu, cuda or cuda:N"
    out["device"] = device or None
    return out, errors
