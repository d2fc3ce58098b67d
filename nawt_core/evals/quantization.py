"""Post-training fake quantization of the weights, without torch: options, checks, grids and texts.

Symmetric uniform quantization per output channel (or per tensor), bits 8..2,
optionally after folding BatchNorm into the convolutions; accuracy per bit
width. The arithmetic is quantize.py (``FakeQuantization``, this evaluation's
implementation).
"""

from __future__ import annotations

from ..errors import NawtError
from ..evalspec import Clean, EvalSpec, Metric, Param, Texts
from ..options import Option
from ..stats import lowest_within
from .hardware import recalibrate_option

DEFAULT_BITS = [8, 6, 5, 4, 3, 2]
MIN_BITS, MAX_BITS = 1, 16
GRANULARITIES = ("channel", "tensor")


def check_bits(bits) -> list[int]:
    """Bit widths as ints; NawtError for anything but whole numbers MIN_BITS..MAX_BITS."""
    out = []
    for b in bits:
        try:
            bi = int(b)
        except (TypeError, ValueError):
            raise NawtError(f"bits must be whole numbers from {MIN_BITS} to {MAX_BITS} (got {b!r})") from None
        if bi != b or not MIN_BITS <= bi <= MAX_BITS:
            raise NawtError(f"bits must be whole numbers from {MIN_BITS} to {MAX_BITS} (got {b})")
        out.append(bi)
    if not out:
        raise NawtError("give at least one bit width")
    return out


def check_quantization(bits, granularity: str = "channel") -> list[int]:
    """Raises NawtError with one clear line for a bad sweep; returns the bits as ints."""
    out = check_bits(bits)
    if granularity not in GRANULARITIES:
        raise NawtError(f"unknown granularity {granularity!r}; choose channel or tensor")
    return out


def _recalibrate(batches) -> int:
    from ..stressspec import check_recalibrate  # here: stressspec imports the evaluations' limits

    return check_recalibrate(batches)


def _check(values: dict) -> dict:
    bits = check_quantization(DEFAULT_BITS if values["bits"] is None else list(values["bits"]),
                              values["granularity"])
    recal = _recalibrate(values["recalibrate_bn"])
    if recal and values["fold_bn"]:
        raise NawtError("--recalibrate-bn with --fold-bn: a folded model has no BatchNorm left to recalibrate")
    return {"bits": sorted(set(bits), reverse=True), "granularity": values["granularity"],
            "fold_bn": bool(values["fold_bn"]), "recalibrate_bn": recal}


def summarize(points: dict, clean: float | None) -> dict:
    """``within_1pt``: the lowest bit width from which every wider one is within 1 point
    (0.01) of the unquantized accuracy, over the points every run of the row has."""
    full = {b: p.mean for b, p in points.items() if not p.partial}
    return {"within_1pt": lowest_within(full, clean, 0.01) if clean is not None and full else None}


def per_run(points: dict, clean: float | None) -> dict:
    """One run's accuracy drop from its unquantized accuracy per bit width (``drop@4``, in
    [-1, 1]; negative: it gained), for the summaries over seeds."""
    return {} if clean is None else {f"drop@{b}": clean - p.mean for b, p in points.items()}


def within_text(row) -> str:
    """A row's lowest bit width within 1 point of unquantized: ``4-bit``, ``none``, ``-``."""
    if row["within_1pt"] is not None:
        return f"{row['within_1pt']}-bit"
    return "none" if row["fp"] is not None and row["points"] else "-"


def _describe(sweep: dict) -> str:
    return (f"{sweep.get('granularity')}, bits {', '.join(map(str, sweep.get('bits') or []))}"
            + (", BatchNorm folded" if sweep.get("fold_bn") else "")
            + (f", BatchNorm recalibrated on {sweep['recalibrate_bn']} batches" if sweep.get("recalibrate_bn") else ""))


SPEC = EvalSpec(
    "quantization", "post-training weight quantization",
    "Accuracy with symmetric uniform fake-quantized weights, per bit width; stored.",
    options=(
        Option("bits", list, list(DEFAULT_BITS), f"bit widths {MIN_BITS}-{MAX_BITS} \\[default: {','.join(map(str, DEFAULT_BITS))}]",
               low=MIN_BITS, high=MAX_BITS, item=int, short="-b", hint=f"e.g. 8,6,4 ({MIN_BITS}-{MAX_BITS})"),
        Option("granularity", str, GRANULARITIES[0], "channel (a scale per output channel) or tensor",
               choices=GRANULARITIES,
               choice_labels=("channel: a scale per output channel", "tensor: one scale per tensor")),
        Option("fold_bn", bool, False, "fold BatchNorm into the convolutions first", label="fold BN",
               hint="--fold-bn (BatchNorm into convs)"),
        recalibrate_option(assumed=0),
    ),
    param=Param("bits", "bits", "weight bits (symmetric uniform)", short="bits", integer=True, descending=True,
                header="{}-bit", noun="bit width"),
    point_stats=("mean", "std"),
    summaries=(Metric("within_1pt", "≤1 pt\nfrom", "lowest within 1 pt", higher_is_better=False, text=within_text,
                      unit="bits"),),
    presets={
        "paper": {"bits": [8, 6, 5, 4, 3, 2], "granularity": "channel"},
        "cpu": {"bits": [8, 7, 6, 5, 4, 3, 2], "granularity": "channel"},
        "quick": {"bits": [8, 6, 4, 3, 2], "granularity": "channel"},
        "tradeoff": {"bits": [8, 6, 5, 4, 3, 2], "granularity": "channel"},
        "tradeoff-cpu": {"bits": [8, 6, 5, 4, 3, 2], "granularity": "channel"},
        "smoke": {"bits": [8, 6, 5, 4, 3, 2], "granularity": "channel"},  # 5: the README's headline bit width
    },
    order=20, short="quant",
    clean=Clean("fp", "fp_acc", "unquan-\ntized", "unquantized", "dotted: unquantized accuracy"),
    texts=Texts(
        section="Robustness to quantization", figure="Accuracy with quantized weights", panel="Quantization",
        table=("Accuracy (%) with quantized weights, per bit width; ≤1 pt from = lowest bit width "
               "within 1 point of unquantized"),
        report=("Accuracy (%) with quantized weights (symmetric uniform), mean ± std over runs; lowest bit width "
                "within 1 point = the lowest width from which every wider one is within 1 point of unquantized"),
        tab="Quantization", tui_plot="accuracy % vs quantization", choice="quantization", setting="quantization"),
    check=_check, summarize=summarize, per_run=per_run, describe=_describe, axis=lambda _v: "weight bits (symmetric uniform)",
    label_option="granularity", figure="errorbar",
)
IMPL = "nawt_core.quantize:FakeQuantization"

__all__ = ["DEFAULT_BITS", "GRANULARITIES", "MAX_BITS", "MIN_BITS", "SPEC", "check_bits", "check_quantization",
           "per_run", "summarize", "within_text"]
