"""Analog phase-change-memory (PCM) inference noise, without torch: options, checks, grids and texts.

The statistical PCM model of Nandakumar et al. (2019) and Joshi et al. (Nat. Commun.
2020), as IBM aihwkit implements it: programming noise, conductance drift and read
noise, read ``t`` seconds after programming, with aihwkit's global drift compensation
by default. Equations, constants and sources: pcm.py (``PCMNoise``, the implementation).
"""

from __future__ import annotations

from ..errors import NawtError
from ..evalspec import EvalSpec, Metric, Param, Texts
from ..options import Option
from ..stressspec import GRIDS, check_recalibrate, check_times, check_trials
from .hardware import auc_summary, recalibrate_option, trials_option


DRIFT = ("compensated", "raw")  # aihwkit's global drift compensation (its default), or the drifted weights as read


def _check(values: dict) -> dict:
    grid = GRIDS["pcm"]["cpu"]["times"] if values["times"] is None else values["times"]
    if values["drift"] not in DRIFT:
        raise NawtError(f"unknown drift {values['drift']!r}; choose compensated or raw")
    return {"times": check_times(grid), "trials": check_trials(values["trials"]), "drift": values["drift"],
            "recalibrate_bn": check_recalibrate(values["recalibrate_bn"])}


def _describe(sweep: dict) -> str:
    comp = "with" if sweep.get("drift") == "compensated" else "without"
    return (f"{comp} drift compensation, times {', '.join(_times(t) for t in sweep.get('times') or [])}, "
            f"{sweep.get('trials')} chips per time")


def _times(t: float) -> str:
    """A time as a column head: 1h, 30d, 1y, 10y (seconds when no unit divides it: 90s, 1.5s)."""
    for unit, s in (("y", 365 * 86400), ("d", 86400), ("h", 3600), ("min", 60)):
        if t >= s and t % s == 0:
            return f"{t / s:g}{unit}"
    return f"{t:g}s"


SPEC = EvalSpec(
    "pcm", "analog PCM noise with drift",
    "Accuracy of the weights programmed onto phase-change memory (programming noise, drift, read noise) and "
    "read t seconds later; each trial a new chip; stored.",
    options=(
        Option("times", list, None, "seconds after programming, e.g. 1,3600,86400,31536000 \\[default: the cpu grid]",
               low=0, short="-t", hint="seconds, e.g. 0,3600,31536000"),
        trials_option(),
        Option("drift", str, DRIFT[0], "compensated (global drift compensation, one scale per layer: aihwkit's "
               "default) or raw (the drifted weights as read)", choices=DRIFT,
               choice_labels=("compensated: one scale per layer (aihwkit)", "raw: the drifted weights as read")),
        recalibrate_option(),
    ),
    param=Param("times", "seconds", "time since programming (s)", short="time", unit="s", scale="log",
                header="{:g}s", identity=None, text=_times),
    summaries=(Metric("auc", "AUC %", "AUC %", bounds=(0.0, 1.0)),),
    presets={p: dict(g) for p, g in GRIDS["pcm"].items()},
    variant="drift", seeded=True, batchable=False, order=50, short="pcm",
    texts=Texts(
        section="Robustness to analog PCM noise", figure="Accuracy on phase-change memory over time",
        panel="PCM ({variant} drift)",
        table="Accuracy (%) on PCM, t seconds after programming ({variant} drift): mean ± std \\[min]",
        report=("Accuracy (%) with the weights on PCM (programming noise, drift, read noise; Joshi et al. 2020), "
                "t seconds after programming, {variant} drift, mean ± std over chips and runs"),
        tab="PCM", tui_plot="accuracy % vs time on PCM ({variant})", choice="analog PCM noise", setting="PCM"),
    check=_check, summarize=auc_summary, describe=_describe,
    axis=lambda _v: "time since programming (s)",
    caption=("trials", "{} chips per time and run", "chips"), label_option="drift",
)
IMPL = "nawt_core.pcm:PCMNoise"

__all__ = ["DRIFT", "SPEC"]
