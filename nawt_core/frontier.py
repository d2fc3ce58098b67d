"""The accuracy–robustness trade-off: which settings are on the Pareto front. No torch.

A setting (a study row: a method at one strength) is a point (clean accuracy,
robustness), both higher-is-better. It is dominated when another point is at
least as good in both and better in one; the front is every point no other
dominates. Equal points dominate neither each other: both stay on the front.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True)
class Point:
    label: str  # the row, e.g. "sam rho=0.1"
    accuracy: float  # clean accuracy (mean over seeds)
    robustness: float  # the chosen measure (mean over seeds), higher is better
    cost: float | None = None  # training cost relative to standard, shown beside (not a front axis)


def dominates(a: Point, b: Point) -> bool:
    """Whether ``a`` is at least as good as ``b`` in both and better in one."""
    return (a.accuracy >= b.accuracy and a.robustness >= b.robustness
            and (a.accuracy > b.accuracy or a.robustness > b.robustness))


def dominated_by(points: Sequence[Point]) -> dict[str, list[str]]:
    """Each point's label -> the labels of the points that dominate it (empty: on the front)."""
    return {p.label: [q.label for q in points if q is not p and dominates(q, p)] for p in points}


def front(points: Sequence[Point]) -> list[Point]:
    """The points no other dominates, along the front: by clean accuracy, highest first
    (then robustness, highest first, then label, so ties keep one order)."""
    beaten = dominated_by(points)
    on = [p for p in points if not beaten[p.label]]
    return sorted(on, key=lambda p: (-p.accuracy, -p.robustness, p.label))


def along_front(points: Sequence[Point]) -> list[tuple[Point, bool]]:
    """Every point, the front first (in its order), then the dominated by accuracy; with whether it is on it."""
    on = front(points)
    ids = {id(p) for p in on}
    rest = sorted((p for p in points if id(p) not in ids), key=lambda p: (-p.accuracy, -p.robustness, p.label))
    return [(p, True) for p in on] + [(p, False) for p in rest]


__all__ = ["Point", "along_front", "dominated_by", "dominates", "front"]
