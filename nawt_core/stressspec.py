"""The hardware stresses' vocabulary, without torch: their options, checks and proposed grids.

The arithmetic lives in bitflip.py, pcm.py, stuck.py, sharpness.py and
bn_recal.py; the CLI, the study presets and the TUI take the names, limits
and checks from here, so a bad value is refused (one NawtError line) before
torch is imported or anything is recorded.
"""

from __future__ import annotations

import math

from .errors import NawtError
from .evals.robustness import MAX_STRENGTHS, MAX_TRIALS

# Bit flips: see bitflip.py
BITFLIP_BITS = 8
BITFLIP_MIN_BITS, BITFLIP_MAX_BITS = 2, 16
BITFLIP_TARGETS = ("all", "msb")  # every stored bit, or only the most significant (the sign) bit
# Stuck-at faults: see stuck.py
STUCK_VALUES = ("zero", "max", "both")
# PCM: see pcm.py
PCM_YEAR_S = 365 * 86400
# Sharpness: see sharpness.py
SHARPNESS_SAMPLES, SHARPNESS_PROBES, SHARPNESS_ITERS = 1000, 32, 20

# Proposed grids per study preset: the swept values and trials per value (BatchNorm
# recalibration off). Chosen from accuracy curves of a 5-epoch ResNet-20 (80.5 % clean;
# scripts/bench_stress.py, 2,000 test images, 3 trials) so that each cpu grid goes from
# clean to near chance and evaluates about as many models as the Gaussian cpu sweep (61):
# bit flips (8 bits, all bits) 80 % at 1e-3, 55 % at 1e-2, 31 % at 3e-2 (the sign bit alone
# does as much); PCM with drift compensation 76 % at 0 s, 68 % after a year (without it, 18 %
# after an hour); stuck at both 69 % at 0.3 %, 13 % at 10 % (stuck at zero: 79 % at 1 %, 39 % at 10 %).
GRIDS: dict[str, dict[str, dict]] = {
    "bitflip": {
        "paper": {"rates": [0.0, 1e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1], "trials": 10},
        "cpu": {"rates": [0.0, 1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1], "trials": 10},
        "quick": {"rates": [0.0, 1e-3, 1e-2, 3e-2], "trials": 5},
        "smoke": {"rates": [0.0, 1e-2], "trials": 2},
    },
    "pcm": {  # with drift compensation (aihwkit's default); without it, 0, 1, 60, 3600, 86400 s
        "paper": {"times": [0.0, 1.0, 60.0, 3600.0, 86400.0, 30 * 86400.0, float(PCM_YEAR_S), 10.0 * PCM_YEAR_S],
                  "trials": 10},
        "cpu": {"times": [0.0, 3600.0, 86400.0, 30 * 86400.0, float(PCM_YEAR_S), 10.0 * PCM_YEAR_S], "trials": 10},
        "quick": {"times": [0.0, 86400.0, float(PCM_YEAR_S)], "trials": 5},
        "smoke": {"times": [0.0, float(PCM_YEAR_S)], "trials": 2},
    },
    "stuck": {
        "paper": {"fractions": [0.0, 1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3], "trials": 10},
        "cpu": {"fractions": [0.0, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3], "trials": 10},
        "quick": {"fractions": [0.0, 1e-3, 1e-2, 0.1], "trials": 5},
        "smoke": {"fractions": [0.0, 1e-2], "trials": 2},
    },
    "sharpness": {
        "paper": {"samples": 5000, "probes": 64, "iters": 50},
        "cpu": {"samples": 1000, "probes": 32, "iters": 20},
        "quick": {"samples": 2000, "probes": 32, "iters": 20},
        "smoke": {"samples": 64, "probes": 4, "iters": 3},  # a check that it runs, not a measurement
    },
}


def _numbers(values, what: str) -> list[float]:
    out = []
    for v in values:
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise NawtError(f"{what} must be numbers (got {v!r})") from None
        if math.isnan(f) or math.isinf(f):
            raise NawtError(f"{what} must be finite numbers (got {v})")
        out.append(f)
    if not out:
        raise NawtError(f"give at least one of the {what}")
    if len(set(out)) > MAX_STRENGTHS:
        raise NawtError(f"at most {MAX_STRENGTHS} {what} per evaluation (got {len(set(out))})")
    return sorted(set(out))


def check_rates(rates) -> list[float]:
    """Bit-flip probabilities, sorted and deduplicated: each in [0, 1]."""
    out = _numbers(rates, "bit-flip rates")
    for r in out:
        if not 0.0 <= r <= 1.0:
            raise NawtError(f"bit-flip rates must be probabilities in [0, 1] (got {r:g})")
    return out


def check_times(times) -> list[float]:
    """PCM inference times in seconds after programming, sorted: each >= 0."""
    out = _numbers(times, "PCM times")
    for t in out:
        if t < 0:
            raise NawtError(f"PCM times are seconds after programming and cannot be negative (got {t:g})")
    return out


def check_fractions(fractions) -> list[float]:
    """Stuck-at fractions of the weights, sorted: each in [0, 1]."""
    out = _numbers(fractions, "stuck-at fractions")
    for f in out:
        if not 0.0 <= f <= 1.0:
            raise NawtError(f"stuck-at fractions must be in [0, 1] (got {f:g})")
    return out


def check_bitflip_bits(bits) -> int:
    """The stored integer width of a bit-flip evaluation: a whole number 2..16."""
    try:
        b = int(bits)
    except (TypeError, ValueError):
        b = None
    if b is None or b != bits or not BITFLIP_MIN_BITS <= b <= BITFLIP_MAX_BITS:
        raise NawtError(f"bit flips need a whole number of bits from {BITFLIP_MIN_BITS} to "
                        f"{BITFLIP_MAX_BITS} (got {bits!r})")
    return b


def check_bitflip_target(target: str) -> str:
    if target not in BITFLIP_TARGETS:
        raise NawtError(f"unknown bit-flip target {target!r}; choose all (every stored bit) or msb (the sign bit)")
    return target


def check_stuck_value(value: str) -> str:
    if value not in STUCK_VALUES:
        raise NawtError(f"unknown stuck-at value {value!r}; choose zero, max or both")
    return value


def check_trials(trials) -> int:
    if not isinstance(trials, int) or isinstance(trials, bool) or not 1 <= trials <= MAX_TRIALS:
        raise NawtError(f"trials must be a whole number from 1 to {MAX_TRIALS} (got {trials!r})")
    return trials


def _positive(value, what: str, limit: int | None = None) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise NawtError(f"{what} must be a whole number of at least 1 (got {value!r})")
    if limit is not None and value > limit:
        raise NawtError(f"{what} must be at most {limit} (got {value})")
    return value


def check_sharpness(samples: int = SHARPNESS_SAMPLES, probes: int = SHARPNESS_PROBES,
                    iters: int = SHARPNESS_ITERS) -> tuple[int, int, int]:
    """Training images, Hutchinson probes and power iterations of a sharpness evaluation."""
    return (_positive(samples, "sharpness samples", 50_000), _positive(probes, "Hutchinson probes", 10_000),
            _positive(iters, "power iterations", 10_000))


RECALIBRATE_MAX = 10_000  # batches of 128: 25x CIFAR-10's training set


def check_recalibrate(batches) -> int:
    """Training batches for BatchNorm recalibration after a stress: 0 (off) up to RECALIBRATE_MAX."""
    if not isinstance(batches, int) or isinstance(batches, bool) or not 0 <= batches <= RECALIBRATE_MAX:
        raise NawtError(f"BatchNorm recalibration needs a whole number of batches from 0 to {RECALIBRATE_MAX} "
                        f"(got {batches!r})")
    return batches


__all__ = ["BITFLIP_BITS", "BITFLIP_MAX_BITS", "BITFLIP_MIN_BITS", "BITFLIP_TARGETS", "GRIDS", "PCM_YEAR_S",
           "SHARPNESS_ITERS", "SHARPNESS_PROBES", "SHARPNESS_SAMPLES", "STUCK_VALUES", "check_bitflip_bits",
           "check_bitflip_target", "check_fractions", "check_rates", "check_recalibrate", "check_sharpness",
           "check_stuck_value", "check_times", "check_trials"]
