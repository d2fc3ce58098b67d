"""The evaluations' vocabulary, without torch: modes, strengths, bit widths and their checks.

``nawt eval``, ``nawt study``, the sweeps (sweeps.py, perturb.py, quantize.py),
``nawt compare`` and the TUI's evaluate dialog all take these from here. A new
kind of perturbation adds its mode here (with its default strengths and a
label) and its noise in perturb.noise_like.
"""

from __future__ import annotations

import math

from .errors import NawtError

# Gaussian weight perturbation, strength s: see perturb.py
MODES = ("absolute", "relative", "std")
MODE_LABELS = {
    "absolute": "absolute: w + s·N(0,1) (the poster's)",
    "relative": "relative: w + s·max|W|·N(0,1)",
    "std": "std: w + s·std(W)·N(0,1)",
}
DEFAULT_STRENGTHS: dict[str, list[float]] = {
    # absolute: the poster's w += s * N(0,1); 0.1 is its plotted point
    "absolute": [0.0, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1],
    "relative": [0.0, 0.01, 0.02, 0.05, 0.1, 0.2],
    "std": [0.0, 0.05, 0.1, 0.2, 0.3, 0.5],
}
TARGETS = ("weights", "all")
DEFAULT_TRIALS = 10
# Sane maxima: a sweep's memory stays flat in them, but its time does not.
MAX_TRIALS = 10_000
MAX_STRENGTHS = 1_000

# Post-training fake quantization: see quantize.py
DEFAULT_BITS = [8, 6, 5, 4, 3, 2]
MIN_BITS, MAX_BITS = 1, 16
GRANULARITIES = ("channel", "tensor")
# How a robustness sweep evaluates its perturbed copies: see sweeps.py
STRATEGIES = ("auto", "loop", "batched")
# Where a robustness sweep's noise is drawn (Evaluation.config["noise"]): "cpu",
# a CPU generator, so a seed gives the same perturbations on every device; older
# sweeps drew it on their device: the same numbers on a CPU, others on a GPU ("device").
NOISE_SOURCE = "cpu"


def noise_source(config: dict | None, device_kind: str) -> str:
    """The noise source of a stored robustness sweep; ``device_kind`` (cpu or cuda)
    is where it ran, which decides it for sweeps stored before it was recorded."""
    given = (config or {}).get("noise")
    if given:
        return given
    return NOISE_SOURCE if device_kind in ("cpu", "") else "device"


def check_mode(mode: str) -> None:
    if mode not in MODES:
        raise NawtError(f"unknown perturbation mode {mode!r}; choose one of: {', '.join(MODES)}")


def check_robustness(mode: str, strengths=(), trials: int = 1, targets: str = "weights") -> None:
    """Raises NawtError with one clear line for a bad robustness sweep."""
    check_mode(mode)
    if targets not in TARGETS:
        raise NawtError(f"unknown targets {targets!r}; choose weights or all")
    strengths = list(strengths)
    if len(set(strengths)) > MAX_STRENGTHS:
        raise NawtError(f"at most {MAX_STRENGTHS} perturbation strengths per sweep (got {len(set(strengths))})")
    for s in strengths:
        if not (s >= 0) or s == math.inf:
            raise NawtError(f"perturbation strength must be a finite number >= 0 (got {s})")
    if trials < 1:
        raise NawtError(f"trials must be at least 1 (got {trials})")
    if trials > MAX_TRIALS:
        raise NawtError(f"trials must be at most {MAX_TRIALS} (got {trials})")


def check_strategy(strategy: str) -> None:
    if strategy not in STRATEGIES:
        raise NawtError(f"unknown sweep strategy {strategy!r}; choose auto, loop or batched")


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
    """Raises NawtError with one clear line for a bad quantization sweep; returns the bits as ints."""
    out = check_bits(bits)
    if granularity not in GRANULARITIES:
        raise NawtError(f"unknown granularity {granularity!r}; choose channel or tensor")
    return out


__all__ = ["DEFAULT_BITS", "DEFAULT_STRENGTHS", "DEFAULT_TRIALS", "GRANULARITIES", "MAX_BITS", "MAX_STRENGTHS",
           "MAX_TRIALS", "MIN_BITS", "MODES", "MODE_LABELS", "STRATEGIES", "TARGETS", "check_bits", "check_mode",
           "check_quantization", "check_robustness", "check_strategy"]
