"""The new-run form's fields and their checks, from the method spec and TrainConfig (no Textual here).

The methods, their options (which method uses which, type, default, bounds, help) come from
nawt_core.spec; every range is checked by the spec's Option.check or TrainConfig.validate(),
so the form refuses what `nawt train` refuses, with the same defaults (TrainConfig's)."""

from __future__ import annotations

from dataclasses import fields as dc_fields
from typing import Any

from nawt_core.lists import numbers
from nawt_core import spec
from nawt_core.config import ARCHS, MAX_BATCH, NAME_RE, PRECISIONS, SCHEDULES, TrainConfig
from nawt_core.errors import NawtError

DATASETS = (("cifar10", "cifar10"), ("synthetic (offline demo)", "synthetic"))
DEVICES = (("auto", "auto"), ("cuda", "cuda"), ("cpu", "cpu"))
_D = TrainConfig()  # the defaults, as `nawt train` has them
# key, label, options (label, value), default, help; the methods are read when the form opens
SELECTS: dict[str, tuple[str, tuple[tuple[str, str], ...], str, str]] = {
    "method": ("method", (), _D.method, "training method"),
    "dataset": ("dataset", DATASETS, _D.dataset, "synthetic: offline, fast"),
    "arch": ("arch", tuple((a, a) for a in ARCHS), _D.arch, "CIFAR ResNet depth"),
    "device": ("device", DEVICES, _D.device, "auto: cuda when present"),
    "precision": ("precision", tuple((x, x) for x in PRECISIONS), _D.precision, "auto: bf16 if native"),
    "schedule": ("lr schedule", tuple((x, x) for x in SCHEDULES), _D.schedule, "step: ×0.1 at 50%, 75%"),
}
# the options every method shares: key, label, default, kind, help
FIELDS: list[tuple[str, str, str, str, str]] = [
    ("epochs", "epochs", str(_D.epochs), "int", "≥ 1"),
    ("batch_size", "batch size", str(_D.batch_size), "int", f"1 … {MAX_BATCH}"),
    ("lr", "learning rate", f"{_D.lr:g}", "float", "> 0"),
    ("seed", "seed", str(_D.seed), "int", "≥ 0"),
    ("train_subset", "train subset", "", "int", "blank = all images"),
    ("test_subset", "test subset", "", "int", "blank = all images"),
]
_CONFIG_FIELDS = {f.name for f in dc_fields(TrainConfig)}


def device_choices(gpus=None) -> tuple[tuple[str, str], ...]:
    """auto, cpu, then each GPU this host offers as cuda:N with its name, memory
    and load (hardware.list_gpus, without torch); plain 'cuda' when none is listed
    (no nvidia-smi or NVML here, yet CUDA may still work)."""
    from nawt_core.hardware import list_gpus

    gpus = list_gpus() if gpus is None else gpus
    listed = tuple((g.describe(), g.device) for g in gpus) or (("cuda", "cuda"),)
    return (("auto", "auto"), ("cpu", "cpu"), *listed)


def method_choices() -> tuple[tuple[str, str], ...]:
    return tuple((m.name, m.name) for m in spec.methods())


def method_options() -> list[spec.Option]:
    """Every option some registered method uses, in the spec's order."""
    return [o for o in spec.OPTIONS.values() if spec.uses(o.name)]


def option_help(o: spec.Option) -> str:
    """The form's short hint: the bounds and who uses it (the option's full help is the tooltip)."""
    bound = "" if o.kind is bool else "list ≥ 0" if o.kind is list else (
        f"≥ {o.low:g}" if o.low is not None else "")
    return ", ".join(p for p in (bound, " / ".join(spec.uses(o.name))) if p)


def layout() -> list[tuple[str, str]]:
    """The form, top to bottom: ("select"|"folder"|"name"|"input"|"option", key)."""
    out = [("select", "method"), ("select", "dataset"), ("folder", "cifar_dir"), ("select", "arch"),
           ("select", "device"), ("select", "precision"), ("name", "name"), ("input", "epochs"),
           ("input", "batch_size"), ("input", "lr"), ("select", "schedule")]
    out += [("option", o.name) for o in method_options()]
    return out + [("input", "seed"), ("input", "train_subset"), ("input", "test_subset")]


def _number(raw: str, kind: Any, label: str) -> tuple[Any, str | None]:
    try:
        v = int(raw) if kind in (int, "int") else float(raw)
    except ValueError:
        return None, f"{label} must be {'a whole number' if kind in (int, 'int') else 'a number'}"
    return v, None


def _check_alone(key: str, value: Any) -> str | None:
    """TrainConfig.validate()'s verdict on one field, the others at their defaults."""
    try:
        TrainConfig(**{key: value}).validate()
    except NawtError as e:
        return str(e)
    return None


def _option(o: spec.Option, raw: Any) -> tuple[Any, str | None]:
    if o.kind is bool:
        return bool(raw), None
    raw = (raw or "").strip()
    if o.kind is str:
        return raw, o.check(raw)
    if o.kind is list:
        if not raw:
            return None, None  # the CLI default
        try:
            vals = numbers(raw, o.title)  # `0,,1` is refused, as on the command line
        except NawtError as e:
            return None, str(e)
        return vals, o.check(vals)
    if raw == "":
        return None, f"{o.title} is required"
    v, err = _number(raw, o.kind, o.title)
    return v, err or o.check(v)


def validate(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Form values (strings; booleans for check boxes) to typed values, and an error message per bad field.
    Options the chosen method does not use are None (booleans False): `nawt train` gets its defaults."""
    out: dict[str, Any] = {}
    errors: dict[str, str] = {}
    method = values.get("method") or ""
    if method not in spec.method_names():
        errors["method"] = "choose a method"
    out["method"] = method
    for key, (label, options, _default, _help) in SELECTS.items():
        if key == "method":
            continue
        v = values.get(key) or None
        if key == "device":  # the listed GPUs change: any device `nawt train` accepts
            if v is not None and (why := _check_alone("device", v)):
                errors[key] = why
        elif v is not None and v not in {value for _l, value in options}:
            errors[key] = f"choose a {label}"
        out[key] = v
    name = (values.get("name") or "").strip()
    if name and not NAME_RE.match(name):
        errors["name"] = "letters, digits, '-', '_', '.' (up to 64)"
    out["name"] = name or None
    for key, label, _default, kind, _help in FIELDS:
        raw = (values.get(key) or "").strip()
        out[key] = None
        if raw == "":
            if key not in ("train_subset", "test_subset"):
                errors[key] = f"{label} is required"
            continue
        v, err = _number(raw, kind, label)
        if err is None and kind == "float" and v != v:
            err = f"{label} must be a number"
        if err is None and key == "seed" and not 0 <= v < 2**32:  # TrainConfig takes any int; torch does not
            err = "seed must be between 0 and 2^32-1"
        if err is None and key in _CONFIG_FIELDS:
            err = _check_alone(key, v)
        if err:
            errors[key] = err
        out[key] = v
    used = spec.method(method).options if method in spec.method_names() else ()
    for o in method_options():
        if o.name not in used:
            out[o.name] = False if o.kind is bool else None
            continue
        if o.name not in values:  # a caller that does not know the option: the spec's default
            out[o.name], err = (o.default or None) if o.kind is list else o.default, None
        else:
            out[o.name], err = _option(o, values[o.name])
        if err:
            errors[o.name] = err
    if not errors:  # the checks that span fields
        given = {k: v for k, v in out.items() if k in _CONFIG_FIELDS and v is not None}
        try:
            TrainConfig(**given).validate()
        except NawtError as e:
            errors["config"] = str(e)
    return out, errors
