"""Bounds on what a command line can ask for, where too much would exhaust the machine
(memory, processes, threads) before a single line of output, or a value would be
silently wrong (NaN, a negative count). Each check is one ``error:`` line.

The training bounds (batch size, subsets, seeds) live with TrainConfig (config.py),
the sweeps' with evalspec.py; these are the ones of studies, workers and bench.
"""

from __future__ import annotations

import math

from .errors import NawtError

MAX_SEEDS = 1000  # seeds per method in one study (5 methods: 5,000 runs)
MAX_JOBS = 256  # local worker processes of one study (each holds a dataset and a model)
MAX_PER_GPU = 64  # runs packed on one GPU
MAX_THREADS = 1024  # torch CPU threads of one process
MAX_ATTEMPTS = 1000  # claims of one queued run
MAX_BENCH_STEPS = 1_000_000
MAX_LOADER_WORKERS = 64  # DataLoader processes of bench's reference pipeline


def whole(value: int | None, what: str, low: int, high: int) -> int | None:
    """``value`` if it is within [low, high] (None passes), else one clear error."""
    if value is not None and not low <= value <= high:
        raise NawtError(f"{what} must be from {low} to {high} (got {value})")
    return value


def seconds(value: float, what: str) -> float:
    """A positive, finite number of seconds (NaN and infinity are refused)."""
    if not (math.isfinite(value) and value > 0):
        raise NawtError(f"{what} must be a positive number of seconds (got {value})")
    return value


__all__ = ["MAX_ATTEMPTS", "MAX_BENCH_STEPS", "MAX_JOBS", "MAX_LOADER_WORKERS", "MAX_PER_GPU", "MAX_SEEDS",
           "MAX_THREADS", "seconds", "whole"]
