"""Torch-free helpers that the CLI and the TUI share to show runs side by side:
numbers with sensible precision, the settings that differ between runs, a
two-run config diff, tags, and whether CIFAR-10 is where a run will look.
"""

from __future__ import annotations

import math
from dataclasses import fields
from pathlib import Path
from typing import Any, Iterable

from . import spec
from .config import BOOKKEEPING_KEYS, TrainConfig
from .stats import MIN_SEEDS

CONFIG_ORDER = [f.name for f in fields(TrainConfig)]

# Shown in their own columns (or not a setting at all): never listed as "what differs".
NOT_SETTINGS = (*BOOKKEEPING_KEYS, "method")
# Short labels for the compact "what differs" text; a key missing here is shown by its name.
LABELS = {
    "train_subset": "subset", "test_subset": "test", "batch_size": "bs", "weight_decay": "wd",
    "momentum": "mom", "noise_sigma": "sigma", "noise_eta": "eta", "ascent_steps": "k",
    "rho_stages": "rho",
}
# Settings whose value says it all (`bf16`, `step`, `resnet32`, `cuda:0`).
BARE = ("precision", "schedule", "arch", "dataset", "device")
BATCHES = ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch")
BATCH_FOLDER = "cifar-10-batches-py"


# ------------------------------------------------------------------ numbers
def pct(x: float | None, std: float | None = None) -> str:
    """An accuracy (a fraction) in percent with two decimals, ± its std if any; "-" for none."""
    if x is None:
        return "-"
    return f"{100 * x:.2f}" + (f" ± {100 * std:.2f}" if std else "")


def acc_spread(row, digits: int = 2, say_one: bool = True) -> str:
    """A compare accuracy row (rows.AccuracyRow) as ``mean ± std`` in percent; ``mean (1 seed)``
    for one run (the mean alone with ``say_one=False``, where a CI column says ``1 seed``), never
    a ``± 0.00`` that would pass for a measured spread."""
    if row.mean is None:
        return "-"
    m = f"{100 * row.mean:.{digits}f}"
    if row.n < 2:
        return f"{m} (1 seed)" if say_one else m
    return f"{m} ± {100 * row.std:.{digits}f}"


def acc_ci(row, digits: int = 2) -> str:
    """The row's 95 % confidence interval of the mean in percent, ``[lo, hi]`` (``*`` after it when
    it was cut at 0 or 100 %); ``2 seeds`` when there are too few seeds for one."""
    if row.ci_low is None:
        return f"{row.n} seed{'s' if row.n != 1 else ''}" if row.n else "-"
    return f"[{100 * row.ci_low:.{digits}f}, {100 * row.ci_high:.{digits}f}]" + ("*" if row.ci_clipped else "")


def acc_diff(d, digits: int = 2, compact: bool = False) -> str:
    """A difference to standard (rows.Difference) in points, ``+1.20 [-0.30, +2.70] paired``; ``-``
    for none; without an interval, the difference and why (``+1.20 (2 seeds)``); ``*`` after an
    interval cut at ±100 points. ``compact`` (narrow tables whose title names the test and whose CI
    column says ``2 seeds``) leaves the words out."""
    if d is None:
        return "-"
    diff = f"{100 * d.diff:+.{digits}f}"
    if d.low is None:
        return diff if compact else f"{diff} ({d.n} seed{'s' if d.n != 1 else ''})"
    cut = "*" if getattr(d, "clipped", False) else ""
    return f"{diff} [{100 * d.low:+.{digits}f}, {100 * d.high:+.{digits}f}]{cut}" + ("" if compact else f" {d.test}")


INTERVAL_NOTE = (f"95 % intervals need at least {MIN_SEEDS} seeds (with 2, t(0.975, 1) = 12.7 gives a width "
                 "that means nothing); * = cut at what can be measured (0-100 %, ±100 points): its seeds disagree "
                 "widely")


def fmt_num(x: Any, digits: int = 4) -> str:
    """A number with `digits` significant digits and no binary noise: 0.0761, 5e-05, 200."""
    if isinstance(x, bool) or x is None:
        return str(x)
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        if math.isnan(x) or math.isinf(x):
            return str(x)
        if x == int(x) and abs(x) < 1e15:
            return str(int(x)) if abs(x) >= 1 or x == 0 else f"{x:g}"
        return f"{x:.{digits}g}"
    return str(x)


def fmt_value(v: Any, missing: str = "-") -> str:
    """A config value as text: numbers via fmt_num, lists comma-separated, None as `missing`."""
    if v is None:
        return missing
    if isinstance(v, (list, tuple)):
        return ",".join(fmt_num(x) for x in v) if v else "[]"
    return fmt_num(v)


# ------------------------------------------------------------------ the two accuracies
def end_label(method: str) -> str:
    """What a method's end-of-epoch weight change is called ("noise"); "" for a method without one."""
    m = spec.method(method) if method in spec.method_names() else None
    return (m.epoch_end_label or "change") if m is not None and m.epoch_end is not None else ""


def _config(run: Any) -> TrainConfig:
    cfg = dict(getattr(run, "config", None) or {})
    cfg.setdefault("method", getattr(run, "method", "standard"))
    return TrainConfig.from_dict(cfg)


def weights_note(run: Any) -> str | None:
    """Which test accuracy is which for a method that changes the weights at an epoch's end
    (naive noise), and which weights final.pt and the sweeps start from; None for the others."""
    label = end_label(getattr(run, "method", ""))
    if not label:
        return None
    cfg = _config(run)
    after = spec.method(cfg.method).changes_at_end(cfg, cfg.epochs - 1)
    final, trained = getattr(run, "final_test_acc", None), getattr(run, "final_trained_test_acc", None)
    text = f"test acc = the weights after each epoch's {label}, before {label} = the trained weights before it; "
    if after:
        text += f"final.pt and the sweeps start from the weights after the last epoch's {label}"
        if final is not None:
            text += (f" ({pct(final)} %; the trained weights: "
                     f"{'not recorded' if trained is None else pct(trained) + ' %'})")
    else:
        text += f"the last epoch adds no {label}: final.pt and the sweeps start from the trained weights"
        if final is not None:
            text += f" ({pct(final)} %)"
    return text + "."


# ------------------------------------------------------------------ settings
def run_settings(run: Any) -> dict[str, Any]:
    """A run's settings: its config, the device and precision it really used, without what other columns show."""
    cfg = dict(getattr(run, "config", None) or {})
    if getattr(run, "device", ""):
        cfg["device"] = run.device
    if getattr(run, "precision", None):  # what auto resolved to, once the run has started
        cfg["precision"] = run.precision
    method = cfg.get("method") or getattr(run, "method", "")
    out = {}
    for k, v in cfg.items():
        if k in NOT_SETTINGS or (k in spec.OPTIONS and method not in spec.uses(k)):
            continue
        out[k] = v
    return out


def differing_keys(settings: list[dict[str, Any]]) -> list[str]:
    """Keys whose values differ between these settings dicts (among those that have the key)."""
    seen: dict[str, set[str]] = {}
    order: list[str] = []
    for one in settings:
        for k, v in one.items():
            if k not in seen:
                seen[k] = set()
                order.append(k)
            seen[k].add(repr(v))
    rank = {k: i for i, k in enumerate(CONFIG_ORDER)}
    return sorted((k for k in order if len(seen[k]) > 1), key=lambda k: rank.get(k, len(rank)))


def varying_keys(runs: Iterable[Any]) -> list[str]:
    """Setting keys whose values differ between `runs` (among the runs they apply to)."""
    return differing_keys([run_settings(r) for r in runs])


def setting_text(key: str, value: Any) -> str:
    """One setting, compactly: `subset 4000`, `rho 0.05`, `bf16`, `adaptive`, `no nesterov`."""
    if isinstance(value, bool):
        return key if value else f"no {key}"
    if key in BARE:
        return fmt_value(value)
    if key in ("train_subset", "test_subset") and value is None:
        return f"{LABELS[key]} all"
    return f"{LABELS.get(key, key)} {fmt_value(value)}"


def settings_text(settings: dict[str, Any], keys: Iterable[str]) -> str:
    return " ".join(setting_text(k, settings[k]) for k in keys if k in settings)


def varying_settings(runs: Iterable[Any]) -> dict[int, str]:
    """Per run id, the settings that differ between `runs` as one short text."""
    runs = list(runs)
    settings = {r.id: run_settings(r) for r in runs}
    keys = differing_keys(list(settings.values()))
    return {rid: settings_text(s, keys) for rid, s in settings.items()}


# ------------------------------------------------------------------ diff
def config_diff(a: dict, b: dict) -> list[tuple[str, Any, Any, bool]]:
    """(key, value in a, value in b, differs) for every key of either config, a's order first."""
    keys = list(a) + [k for k in b if k not in a]
    return [(k, a.get(k), b.get(k), a.get(k) != b.get(k)) for k in keys]


# ------------------------------------------------------------------ tags
def run_tags(run: Any) -> list[str]:
    """A run's tags (an old database's row may hold none at all)."""
    return list(getattr(run, "tags", None) or [])


def check_tag(tag: str) -> str:
    tag = tag.strip()
    if not tag or len(tag) > 40 or any(c.isspace() or c == "," for c in tag):
        raise ValueError(f"a tag is 1-40 characters without spaces or commas (got {tag!r})")
    return tag


# ------------------------------------------------------------------ dataset
def find_cifar_batches(folder: str | Path) -> Path | None:
    """The `cifar-10-batches-py` folder under `folder`, or `folder` itself, when it holds batches."""
    folder = Path(folder)
    for cand in (folder / BATCH_FOLDER, folder):
        if (cand / "data_batch_1").exists() or (cand / "test_batch").exists():
            return cand
    return None


def cifar_problem(folder: str | Path) -> str | None:
    """Why CIFAR-10 cannot be read from `folder` as it is (None: all six batches are there)."""
    found = find_cifar_batches(folder)
    if found is None:
        return f"CIFAR-10 is not in {folder} (no {BATCH_FOLDER}/data_batch_1)"
    missing = [b for b in BATCHES if not (found / b).exists()]
    if missing:
        return f"CIFAR-10 in {found} is incomplete: {', '.join(missing)} missing"
    return None
