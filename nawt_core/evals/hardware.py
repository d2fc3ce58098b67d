"""What the hardware stresses (bit flips, PCM, stuck-at faults) share, without torch: the
trials and BatchNorm-recalibration options and the per-row summary."""

from __future__ import annotations

import math

from ..options import Option
from ..stats import CHANCE

DEFAULT_TRIALS = 10


def trials_option(default: int = DEFAULT_TRIALS) -> Option:
    from .robustness import MAX_TRIALS  # here: robustness imports this module

    return Option("trials", int, default, f"fault draws per value (1 to {MAX_TRIALS})", low=1, high=MAX_TRIALS,
                  hint="≥ 1 draws per value")


def recalibrate_option(**kw) -> Option:
    """``--recalibrate-bn N`` (stress.WeightStress.recalibration); ``assumed=0`` for an evaluation
    whose stored sweeps predate it (they did not recalibrate)."""
    return Option("recalibrate_bn", int, 0, "re-estimate BatchNorm statistics on N training batches of 128 after "
                  "each stress (0: off)", low=0, high=10_000, label="recalibrate BN", hint="0 (off) or batches",
                  **kw)


def log_auc(xs: list[float], ys: list[float], chance: float = CHANCE) -> float | None:
    """Mean accuracy above chance over log10 of the nonzero values (trapezoid / log range),
    rescaled to 0..1: the grids are log-spaced, so each decade counts the same."""
    pts = [(math.log10(x), max(y - chance, 0.0) / (1 - chance)) for x, y in zip(xs, ys) if x > 0]
    if len(pts) < 2:
        return None
    area = sum((b[0] - a[0]) * (a[1] + b[1]) / 2 for a, b in zip(pts, pts[1:]))
    return area / (pts[-1][0] - pts[0][0])


def auc_summary(points: dict, clean) -> dict:
    """``auc``: log_auc over the values every run of the row has."""
    xs = [x for x in sorted(points) if not points[x].partial]
    return {"auc": log_auc(xs, [points[x].mean for x in xs])}
