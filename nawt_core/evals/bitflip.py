"""Bit flips in weights stored as signed integers, without torch: options, checks, grids and texts.

Each conv/linear weight is quantized per output channel to ``bits``-bit two's-complement
integers, every stored bit (or only the sign bit, ``--target msb``) flipped with
probability ``rate``, then dequantized. Rate 0 is the integer model itself. The
arithmetic is bitflip.py (``BitFlips``, this evaluation's implementation).
"""

from __future__ import annotations

from ..evalspec import EvalSpec, Metric, Param, Texts
from ..options import Option
from ..stressspec import (BITFLIP_BITS, BITFLIP_MAX_BITS, BITFLIP_MIN_BITS, BITFLIP_TARGETS, GRIDS, check_bitflip_bits,
                          check_bitflip_target, check_rates, check_recalibrate, check_trials)
from .hardware import auc_summary, recalibrate_option, trials_option


def _check(values: dict) -> dict:
    return {"rates": check_rates(GRIDS["bitflip"]["cpu"]["rates"] if values["rates"] is None else values["rates"]),
            "trials": check_trials(values["trials"]), "bits": check_bitflip_bits(values["bits"]),
            "target": check_bitflip_target(values["target"]),
            "recalibrate_bn": check_recalibrate(values["recalibrate_bn"])}


def _describe(sweep: dict) -> str:
    return (f"{sweep.get('bits')}-bit integers, {'sign bit' if sweep.get('target') == 'msb' else 'every bit'}, "
            f"rates {', '.join(f'{r:g}' for r in sweep.get('rates') or [])}, {sweep.get('trials')} trials per rate")


SPEC = EvalSpec(
    "bitflip", "bit flips in integer weights",
    "Accuracy with the weights stored as signed integers (per-channel scale) and each stored bit flipped "
    "with a probability; rate 0 is the integer model; stored.",
    options=(
        Option("rates", list, None, "bit-flip probabilities in [0, 1], e.g. 0,1e-4,1e-3 \\[default: the cpu grid]",
               low=0, high=1, short="-r", hint="e.g. 0,1e-4,1e-3 (0-1)"),
        trials_option(),
        Option("bits", int, BITFLIP_BITS, f"stored integer width, {BITFLIP_MIN_BITS}-{BITFLIP_MAX_BITS}",
               low=BITFLIP_MIN_BITS, high=BITFLIP_MAX_BITS, hint=f"{BITFLIP_MIN_BITS}-{BITFLIP_MAX_BITS}"),
        Option("target", str, BITFLIP_TARGETS[0], "all (every stored bit) or msb (only the sign bit)",
               choices=BITFLIP_TARGETS, choice_labels=("all: every stored bit", "msb: the sign bit only")),
        recalibrate_option(),
    ),
    param=Param("rates", "rate", "bit-flip probability per stored bit", short="rate", scale="log",
                header="p={:g}", identity=0.0),
    summaries=(Metric("auc", "AUC %", "AUC %", bounds=(0.0, 1.0)),),
    presets={p: dict(g) for p, g in GRIDS["bitflip"].items()},
    variant="target", seeded=True, batchable=False, order=40, short="flip",
    texts=Texts(
        section="Robustness to bit flips", figure="Accuracy with bit flips in the stored weights",
        panel="Bit flips ({variant})",
        table="Accuracy (%) with bit flips ({variant} bits) in integer weights: mean ± std \\[min]; AUC over the rates",
        report=("Accuracy (%) with each stored bit of the integer weights ({variant}) flipped with probability p, "
                "mean ± std over trials and runs; p = 0 is the integer model"),
        tab="Bit flips", tui_plot="accuracy % vs bit-flip rate ({variant})", choice="bit flips",
        setting="bit flips"),
    check=_check, summarize=auc_summary, describe=_describe,
    axis=lambda target: "bit-flip probability per " + ("sign bit" if target == "msb" else "stored bit"),
    caption=("trials", "{} fault draws per rate and run", "fault draws"), label_option="target", tui_digits=1,
)
IMPL = "nawt_core.bitflip:BitFlips"

__all__ = ["SPEC"]
