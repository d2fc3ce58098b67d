"""Per-layer weight statistics of a run, as `nawt show` and the TUI's run detail list them. No torch.

Every epoch records, per conv/linear weight, the L2 norm, max |w| and std of the
weights it ends with (Epoch.weight_stats). Absolute weight noise hurts small
weights most and weight decay sets their size, so the first and the last epoch
side by side show what training did to the scale the noise is measured against.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from .runview import fmt_num

STATS = (("l2", "L2"), ("max", "max |w|"), ("std", "std"))


@dataclass
class WeightTable:
    epochs: list[int]  # the first and the last epoch that recorded statistics (one when they are the same)
    columns: list[str]  # "L2 ep 1", … : each statistic at each epoch
    rows: list[tuple[str, list[str]]]  # (layer, its cells)

    @property
    def title(self) -> str:
        return f"weights per layer (the weights epoch {' and '.join(map(str, self.epochs))} ended with)"


def weight_table(epochs: Sequence[Any]) -> WeightTable | None:
    """None for a run without recorded statistics (one from before they were, or not started)."""
    have = [e for e in epochs if e.weight_stats]
    if not have:
        return None
    span = [have[0]] if have[0] is have[-1] else [have[0], have[-1]]
    columns = [f"{label} ep {e.epoch}" for _, label in STATS for e in span]
    rows = [(layer, [fmt_num((e.weight_stats.get(layer) or {}).get(key), 4) for key, _ in STATS for e in span])
            for layer in have[-1].weight_stats]
    return WeightTable([e.epoch for e in span], columns, rows)


__all__ = ["WeightTable", "weight_table"]
