"""Stuck-at faults, without torch: options, checks, grids and texts.

A fraction of the model's conv/linear weights (exactly round(fraction * n), at
distinct positions over the whole model) frozen at 0, at their layer's +-max, or
either. The arithmetic is stuck.py (``StuckAt``, this evaluation's implementation).
"""

from __future__ import annotations

from ..evalspec import EvalSpec, Metric, Param, Texts
from ..options import Option
from ..stressspec import GRIDS, STUCK_VALUES, check_fractions, check_recalibrate, check_stuck_value, check_trials
from .hardware import auc_summary, recalibrate_option, trials_option

LABELS = ("zero: stuck at 0", "max: stuck at the layer's ±max", "both: either, half each")


def _check(values: dict) -> dict:
    grid = GRIDS["stuck"]["cpu"]["fractions"] if values["fractions"] is None else values["fractions"]
    return {"fractions": check_fractions(grid), "trials": check_trials(values["trials"]),
            "value": check_stuck_value(values["value"]), "recalibrate_bn": check_recalibrate(values["recalibrate_bn"])}


def _describe(sweep: dict) -> str:
    return (f"stuck at {sweep.get('value')}, fractions {', '.join(f'{f:g}' for f in sweep.get('fractions') or [])}, "
            f"{sweep.get('trials')} trials per fraction")


SPEC = EvalSpec(
    "stuck", "stuck-at faults",
    "Accuracy with a fraction of the weights stuck at 0 or at their layer's ±max; stored.",
    options=(
        Option("fractions", list, None, "fractions of the weights stuck, in [0, 1], e.g. 0,0.001,0.01 "
               "\\[default: the cpu grid]", low=0, high=1, short="-f", hint="e.g. 0,0.001,0.01 (0-1)"),
        trials_option(),
        Option("value", str, STUCK_VALUES[0], "zero, max (the layer's ±max) or both", choices=STUCK_VALUES,
               choice_labels=LABELS),
        recalibrate_option(),
    ),
    param=Param("fractions", "fraction", "fraction of weights stuck", short="fraction", scale="log",
                header="f={:g}", identity=0.0),
    summaries=(Metric("auc", "AUC %", "AUC %", bounds=(0.0, 1.0)),),
    presets={p: dict(g) for p, g in GRIDS["stuck"].items()},
    variant="value", seeded=True, batchable=False, order=60, short="stuck",
    texts=Texts(
        section="Robustness to stuck-at faults", figure="Accuracy with stuck-at faults", panel="Stuck at ({variant})",
        table="Accuracy (%) with weights stuck at {variant}: mean ± std \\[min]; AUC over the fractions",
        report="Accuracy (%) with a fraction of the weights stuck at {variant}, mean ± std over trials and runs",
        tab="Stuck-at", tui_plot="accuracy % vs stuck fraction ({variant})", choice="stuck-at faults",
        setting="stuck-at faults"),
    check=_check, summarize=auc_summary, describe=_describe,
    axis=lambda value: f"fraction of weights stuck at {value or 'zero'}",
    caption=("trials", "{} fault draws per fraction and run", "fault draws"), label_option="value", tui_digits=1,
)
IMPL = "nawt_core.stuck:StuckAt"

__all__ = ["SPEC"]
