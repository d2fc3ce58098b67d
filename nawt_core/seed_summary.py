"""An evaluation's per-run numbers over seeds, as text cells (torch-free; the CLI, the report
and the TUI show the same cells).

compare.py gives every evaluation row ``over_seeds``: per metric (an AUC, a halving
strength, a drop per bit width, …) the mean over the row's seeds with its 95 % interval
(none under stats.MIN_SEEDS seeds; cut at what the metric can be) and ``vs_standard``,
the difference to standard's runs of the same seeds and noise draws, paired by seed.
"""

from __future__ import annotations

from typing import Any

from . import evalspec
from .stats import MIN_SEEDS

TITLE = ("{name} per run, over seeds: mean [95 % CI] and Δ std, the paired difference to standard's runs "
         "of the same seeds and noise draws [95 % CI]")
NOTE = (f"over seeds: no interval under {MIN_SEEDS} seeds; * = interval cut at what the number can be; "
        "a seed without a number (e.g. near chance: nothing to halve) leaves the mean out")


def unit(s: evalspec.EvalSpec, metric: str) -> str:
    """"%" for accuracies and drops (shown in percent or points), else "" (a plain number)."""
    for m in (*s.summaries, *s.metrics):
        if m.name == metric:
            return m.unit
    return "%" if metric.startswith("drop@") else ""


def number(x: float, unit_: str, sign: bool = False) -> str:
    """In percent (points) with two decimals for "%", else 3 significant digits; never ``-0.00``."""
    if unit_ == "%":
        v = round(100 * x, 2) + 0.0
        return f"{v:+.2f}" if sign else f"{v:.2f}"
    v = float(f"{x:.3g}") + 0.0
    return f"{v:+.3g}" if sign else f"{v:.3g}"


def _seeds(n: int) -> str:
    return f"{n} seed{'s' if n != 1 else ''}"


def value_text(res: dict[str, Any], unit_: str) -> str:
    """``42.10 [40.02, 44.18]``, ``42.10 (2 seeds)``, or why there is no mean (``1 of 3 seeds: near chance``)."""
    if res.get("mean") is None:
        return res.get("note") or "-"
    text = number(res["mean"], unit_)
    if res.get("low") is None:
        return f"{text} ({_seeds(res['n'])})"
    return f"{text} [{number(res['low'], unit_)}, {number(res['high'], unit_)}]" + ("*" if res.get("clipped") else "")


def diff_text(d: dict[str, Any] | None, unit_: str) -> str:
    """``+1.20 [-0.30, +2.70]``, ``+1.20 (2 seeds)``, ``-`` (no standard row, or no common seed)."""
    if d is None or d.get("diff") is None:
        return "-"
    text = number(d["diff"], unit_, sign=True)
    if d.get("low") is None:
        return f"{text} ({_seeds(d['n'])})"
    return f"{text} [{number(d['low'], unit_, True)}, {number(d['high'], unit_, True)}]" + (
        "*" if d.get("clipped") else "")


def metrics(table) -> list[str]:
    """The metrics over seeds of a comparison's evaluation table, in first-seen order."""
    return list(dict.fromkeys(m for r in table.rows for m in r.over_seeds))


def shown(table) -> bool:
    """Worth a table of its own: some row pools more than one seed."""
    return any(len({v["seed"] for v in r.per_run.values()}) > 1 for r in table.rows) and bool(metrics(table))


def cells(s: evalspec.EvalSpec, row, metric: str) -> tuple[str, str]:
    """(value over seeds, difference to standard) of one row's metric."""
    res = row.over_seeds.get(metric)
    if res is None:
        return "-", "-"
    u = unit(s, metric)
    return value_text(res, u), diff_text(res.get("vs_standard"), u)


def seeds(row) -> str:
    """The row's training seeds: ``0, 1, 2``."""
    return ", ".join(str(x) for x in sorted({v["seed"] for v in row.per_run.values()}))


__all__ = ["NOTE", "TITLE", "cells", "diff_text", "metrics", "number", "seeds", "shown", "unit", "value_text"]
