"""Stuck-at faults: a fraction of the stored weights frozen at 0 or at their layer's +-max.

Per model, not per tensor: exactly ``k = floor(fraction * n + 1/2)`` of the
model's ``n`` targeted weights (every conv/linear weight, laid end to end)
are stuck, at distinct positions drawn uniformly over the whole model, so each
layer gets its share in expectation (a hypergeometric count), as faulty cells
spread over one memory would. (Per tensor, a small layer such as ResNet-20's
first convolution, 432 weights, would round 0.1 % down to no fault at all.)

A stuck weight takes, by ``value``:
- ``zero``: 0 (a cell stuck at its reset state);
- ``max``: +max|W| or -max|W| of its layer, the sign a fair coin (a cell
  stuck at its highest level, on either side of a differential pair);
- ``both``: 0 with probability 1/2, else +-max|W| as for ``max``.

Faults come from a CPU generator seeded from (seed, fraction, trial); the
function returns new tensors and leaves its input unchanged.
"""

from __future__ import annotations

from typing import Sequence

import torch

from .faults import distinct_positions, split_positions, stress_generator
from .stressspec import check_fractions, check_stuck_value
from .stress import WeightStress


def stuck_count(n: int, fraction: float) -> int:
    """How many of ``n`` weights are stuck at ``fraction`` (round half up)."""
    return min(n, int(fraction * n + 0.5))


def stuck_positions(numels: Sequence[int], fraction: float, gen: torch.Generator) -> list[torch.Tensor]:
    """Per tensor, the flat indices of its stuck weights (CPU int64): exactly
    ``stuck_count(sum(numels), fraction)`` over all tensors together."""
    n = sum(numels)
    return split_positions(distinct_positions(n, stuck_count(n, fraction), gen), list(numels))


def stuck_levels(k: int, value: str, gen: torch.Generator) -> torch.Tensor:
    """Per stuck weight, its level in units of the layer's max|W|: 0, +1 or -1 (CPU float)."""
    if value == "zero":
        return torch.zeros(k)
    sign = torch.randint(2, (k,), generator=gen).mul_(2).sub_(1).float()
    if value == "max":
        return sign
    return sign * torch.randint(2, (k,), generator=gen).float()  # both: half of them at 0


@torch.no_grad()
def stuck_weights(weights: Sequence[torch.Tensor], fraction: float, *, value: str = "zero", seed: int = 0,
                  trial: int = 0) -> list[torch.Tensor]:
    """New tensors: ``weights`` with ``stuck_count(total, fraction)`` of them stuck at the
    level ``value`` chooses (zero, max or both), on the weights' device."""
    check_fractions([fraction])
    check_stuck_value(value)
    gen = stress_generator("stuck-" + value, seed, fraction, trial)
    positions = stuck_positions([w.numel() for w in weights], fraction, gen)
    levels = stuck_levels(sum(p.numel() for p in positions), value, gen).split([p.numel() for p in positions])
    out = []
    for w, pos, lev in zip(weights, positions, levels):
        out.append(w.detach().clone())
        if pos.numel():
            flat = w.detach().reshape(-1).clone()  # positions count in logical (row-major) order
            flat[pos.to(w.device)] = lev.to(w.device, w.dtype) * w.detach().abs().max()
            out[-1].copy_(flat.view(w.shape))  # keeps the weight's memory format (channels_last)
    return out



class StuckAt(WeightStress):
    """The stuck evaluation (nawt_core/evals/stuck.py): a fraction of the weights stuck per (fraction, trial)."""

    def perturb(self, weights, value, trial):
        return stuck_weights(weights, value, value=self.config["value"], seed=self.seed, trial=trial)


__all__ = ["StuckAt", "stuck_count", "stuck_levels", "stuck_positions", "stuck_weights"]
