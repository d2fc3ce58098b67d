"""Sharpness of the training loss at the final weights, without torch: options, checks, presets, texts.

Per run, the Hessian's trace (Hutchinson, Rademacher probes) and top eigenvalue
(power iteration) of the mean cross-entropy on a fixed subset of training images
(BatchNorm with its running statistics). No swept parameter: each metric is stored
as points (param = its index in METRICS, one per probe for the trace). The
arithmetic is sharpness.py (``HessianSharpness``, the implementation).
"""

from __future__ import annotations

from ..evalspec import EvalSpec, Metric, Texts
from ..options import Option
from ..stressspec import GRIDS, SHARPNESS_ITERS, SHARPNESS_PROBES, SHARPNESS_SAMPLES, check_sharpness

METRICS = (Metric("trace", "Hessian\ntrace", "Hessian trace", higher_is_better=False, unit=""),
           Metric("top_eig", "top\neigenvalue", "top eigenvalue", higher_is_better=False, unit=""),
           Metric("loss", "train\nloss", "training loss", higher_is_better=False, unit=""))


def _check(values: dict) -> dict:
    samples, probes, iters = check_sharpness(values["samples"], values["probes"], values["iters"])
    return {"samples": samples, "probes": probes, "iters": iters}


def _describe(cfg: dict) -> str:
    return (f"{cfg.get('samples')} training images, {cfg.get('probes')} Hutchinson probes, "
            f"{cfg.get('iters')} power iterations")


SPEC = EvalSpec(
    "sharpness", "sharpness of the training loss",
    "Hessian trace (Hutchinson) and top eigenvalue (power iteration) of the training loss at the final weights, "
    "on a fixed subset of training images; stored per run.",
    options=(
        Option("samples", int, SHARPNESS_SAMPLES, "training images (the first N of the training set)", low=1,
               high=50_000, hint="e.g. 1000"),
        Option("probes", int, SHARPNESS_PROBES, "Hutchinson probes for the trace", low=1, high=10_000),
        Option("iters", int, SHARPNESS_ITERS, "power iterations for the top eigenvalue", low=1, high=10_000),
    ),
    metrics=METRICS,
    presets={p: dict(g) for p, g in GRIDS["sharpness"].items()},
    seeded=True, order=70, short="sharp",
    texts=Texts(section="Sharpness", figure="Sharpness against robustness", panel="Sharpness",
                table="Sharpness at the final weights: Hessian trace and top eigenvalue of the training loss",
                report=("Sharpness at the final weights (training loss, BatchNorm in eval mode): Hessian trace "
                        "(Hutchinson) and top eigenvalue (power iteration), mean over runs"),
                tab="Sharpness", tui_plot="sharpness", choice="sharpness (Hessian)", setting="sharpness"),
    check=_check, describe=_describe,
)
IMPL = "nawt_core.sharpness:HessianSharpness"

__all__ = ["METRICS", "SPEC"]
