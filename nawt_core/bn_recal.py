"""BatchNorm recalibration after a weight stress: re-estimate the running statistics.

A stress shifts every layer's activations, so the running mean and variance
BatchNorm learned in training no longer match them; analog-hardware papers
(e.g. Joshi et al. 2020) re-estimate them on a few training batches after
programming. The recipe is torch.optim.swa_utils.update_bn's: reset the
statistics, run the batches with BatchNorm in training mode (other modules
stay in eval mode) and keep the plain average of the per-batch statistics.
The average is kept by setting each batch's momentum to 1 / (i + 1) on the
host, rather than torch's momentum=None, whose cumulative average reads the
batch counter back from the device on every batch.

``recalibrate_bn`` writes the new statistics into the model (the stressed copy
being evaluated) and restores everything else: modes, momenta, the batch
counters; parameters are never written. ``bn_statistics`` computes them for
given weights without touching the model, for engines that keep one model and
swap weight sets (torch.func.functional_call).
"""

from __future__ import annotations

import contextlib
import itertools
from typing import Iterable, Mapping

import torch
import torch.nn as nn
from torch.func import functional_call

from .errors import NawtError
from .stressspec import check_recalibrate

_STATS = ("running_mean", "running_var")


def batchnorms(model: nn.Module) -> list[tuple[str, nn.modules.batchnorm._BatchNorm]]:
    """(name, module) of every BatchNorm that keeps running statistics."""
    return [(n, m) for n, m in model.named_modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]


def _inputs(batches: Iterable, n: int) -> list[torch.Tensor]:
    out = [b[0] if isinstance(b, (tuple, list)) else b for b in itertools.islice(batches, n)]
    if len(out) < max(n, 1):
        raise NawtError(f"BatchNorm recalibration asked for {n} training batches but got {len(out)}")
    return out


@contextlib.contextmanager
def _bn_training(model: nn.Module):
    """BatchNorm in training mode and every other module in eval mode; modes and momenta restored after."""
    modes = {m: m.training for m in model.modules()}
    bns = [m for _, m in batchnorms(model)]
    momenta = [m.momentum for m in bns]
    try:
        model.eval()
        for m in bns:
            m.train()
        yield bns
    finally:
        for m, mode in modes.items():
            m.training = mode
        for m, mom in zip(bns, momenta):
            m.momentum = mom


@torch.no_grad()
def bn_statistics(model: nn.Module, weights: Mapping[str, torch.Tensor], batches: Iterable, n: int
                  ) -> dict[str, torch.Tensor]:
    """New running statistics of every BatchNorm of ``model`` run with ``weights`` (a name ->
    tensor override of its parameters) on the first ``n`` of ``batches`` (tensors, or (x, y)
    pairs; fewer than ``n`` is refused): ``{"<bn>.running_mean": ..., "<bn>.running_var": ...}``.
    ``model`` is not changed."""
    n = check_recalibrate(n)
    xs = _inputs(batches, n)
    state = {k: v.detach() for k, v in {**dict(model.named_parameters()), **dict(model.named_buffers())}.items()}
    state.update(weights)
    fresh = {}
    for name, m in batchnorms(model):
        prefix = f"{name}." if name else ""
        fresh[prefix + "running_mean"] = torch.zeros_like(m.running_mean)
        fresh[prefix + "running_var"] = torch.ones_like(m.running_var)
        if m.num_batches_tracked is not None:
            fresh[prefix + "num_batches_tracked"] = torch.zeros_like(m.num_batches_tracked)
    state.update(fresh)  # BatchNorm updates these tensors in place
    with _bn_training(model) as bns:
        for i, x in enumerate(xs):
            for m in bns:
                m.momentum = 1.0 / (i + 1)  # running = mean of the batch statistics so far
            functional_call(model, state, (x,))
    return {k: v for k, v in fresh.items() if k.rpartition(".")[2] in _STATS}


@torch.no_grad()
def recalibrate_bn(model: nn.Module, batches: Iterable, n: int) -> nn.Module:
    """Re-estimates every BatchNorm's running mean and variance of ``model`` from the first ``n``
    of ``batches``, in place; returns ``model``. ``n = 0`` leaves it as it is."""
    if check_recalibrate(n) == 0:
        return model
    stats = bn_statistics(model, {}, batches, n)
    buffers = dict(model.named_buffers())
    for k, v in stats.items():
        buffers[k].copy_(v)
    return model


__all__ = ["batchnorms", "bn_statistics", "recalibrate_bn"]
