"""A run's training cost from its epoch times, robust to load spikes and right for
staged methods. Torch-free (compare.py's timing table uses it).

Why not the sum: an epoch that shares the machine with something else takes
longer, and the sum keeps every such spike. Why not median x epochs (what the
timing table did): it assumes every epoch costs the same, and a multi-step SAM
run's rho = 0 stage takes one-pass steps, so its median epoch is a SAM epoch and
the product counts the cheap epochs as SAM epochs.

The estimate: the method's spec declares each epoch's *cost class*
(``spec.MethodSpec.cost_class``: forward-backward passes per step by default,
"1 pass" or "2 passes"; one class for methods whose epochs all cost the same),
the epoch rows carry it (``Epoch.cost_class``; older rows get it from the run's
config, the same function of its rho schedule), and

    estimate = sum over classes c of  per_epoch(c) x n(c)

with n(c) the epochs of class c in the run's schedule and per_epoch(c) the low
median of the class's measured epoch times (pooled over the runs given, e.g. a
group's seeds): the middle time, and for an even count the lower of the two
middle ones, because load only ever slows an epoch down. It ignores any k spiked
epochs of a class of more than 2k (two spikes among the four one-pass epochs of
a 10-epoch multi-step SAM run, say); on a quiet machine it is within half an
epoch's jitter of the mean. A class of one epoch counts at that epoch's time
and one of two at the faster: too few to set a spike aside for certain
(``rule`` says "few" below MIN_SAMPLES). A class in the schedule with no
measured epoch (times recorded without classes by a method nawt no longer
knows) makes the whole estimate fall back to one class: low median x epochs,
and says so.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from . import spec
from .config import TrainConfig
from .errors import NawtError

MIN_SAMPLES = 3  # fewer epochs in a class: its low median cannot set a spike aside for certain


@dataclass
class ClassCost:
    """One cost class of an estimate."""

    name: str | None  # e.g. "2 passes"; None: classes unknown (one class)
    epochs: int  # epochs of this class in the schedule
    samples: int  # measured epoch times it is estimated from
    per_epoch: float  # seconds per epoch
    rule: str  # "median" (the low median), or "few" (fewer than MIN_SAMPLES times)

    @property
    def seconds(self) -> float:
        return self.per_epoch * self.epochs


@dataclass
class CostEstimate:
    seconds: float
    classes: list[ClassCost] = field(default_factory=list)
    note: str = ""  # why the estimate fell back to one class, if it did

    def to_dict(self) -> dict[str, Any]:
        return {"seconds": self.seconds, "note": self.note,
                "classes": [{"class": c.name, "epochs": c.epochs, "samples": c.samples, "per_epoch": c.per_epoch,
                             "rule": c.rule} for c in self.classes]}


def _per_epoch(times: list[float]) -> tuple[float, str]:
    return statistics.median_low(times), "median" if len(times) >= MIN_SAMPLES else "few"


def estimate(times: Iterable[tuple[str | None, float]], schedule: Sequence[str | None]) -> CostEstimate | None:
    """The training time of one run whose epochs have the cost classes ``schedule`` (one entry
    per epoch), from measured ``(class, seconds)`` epoch times (non-positive ones ignored).
    None when nothing was measured."""
    by: dict[str | None, list[float]] = {}
    for name, secs in times:
        if secs is not None and secs > 0:
            by.setdefault(name, []).append(float(secs))
    if not by or not schedule:
        return None
    counts: dict[str | None, int] = {}
    for name in schedule:
        counts[name] = counts.get(name, 0) + 1
    if any(name not in by for name in counts):  # a class with no time to go by: one class for all
        pooled = [t for ts in by.values() for t in ts]
        per, rule = _per_epoch(pooled)
        missing = ", ".join(sorted(str(n) for n in counts if n not in by))
        c = ClassCost(None, len(schedule), len(pooled), per, rule)
        return CostEstimate(c.seconds, [c], note=f"no epoch time of class {missing}: low median x epochs")
    classes = []
    for name, n in counts.items():
        per, rule = _per_epoch(by[name])
        classes.append(ClassCost(name, n, len(by[name]), per, rule))
    return CostEstimate(sum(c.seconds for c in classes), classes)


def schedule(method: str, config: dict | None, epochs: int) -> list[str | None]:
    """The cost class of each epoch of a run, from its method's spec and its config
    (the same function of the rho schedule the runner records); None per epoch for a
    method that is not registered here."""
    if method not in spec.method_names():
        return [None] * epochs
    try:
        cfg = TrainConfig.from_dict({**(config or {}), "method": method, "epochs": epochs})
        return [spec.method(method).cost_class(cfg, e) for e in range(epochs)]
    except (NawtError, TypeError, ValueError, ZeroDivisionError):
        return [None] * epochs


def epoch_times(method: str, config: dict | None, epochs: int, rows: Iterable[Any]) -> list[tuple[str | None, float]]:
    """(cost class, seconds) of a run's epoch rows: the class recorded with the epoch, else
    (rows older than the column) the one its config gives for that epoch."""
    plan = schedule(method, config, epochs)
    out = []
    for e in rows:
        name = getattr(e, "cost_class", None)
        if name is None and 1 <= e.epoch <= len(plan):
            name = plan[e.epoch - 1]
        out.append((name, e.epoch_seconds))
    return out


__all__ = ["MIN_SAMPLES", "ClassCost", "CostEstimate", "epoch_times", "estimate", "schedule"]
