"""Symmetric uniform fake quantization of weights, and BatchNorm folding.

k bits (k >= 2): the integer grid {-(2^(k-1)-1), ..., 2^(k-1)-1} (restricted
range, so zero is exact and the grid is symmetric: 2^k - 1 levels) times a
scale ``max|W| / (2^(k-1)-1)``, per output channel (default) or per tensor.
1 bit: sign(W) times mean|W| (per channel or per tensor), two levels.

Quantization touches the conv and linear weights (models.weight_params); with
``fold_bn`` each BatchNorm that follows a convolution is folded into it first
(the weights an inference accelerator would store), which preserves the eval
mode outputs exactly up to float rounding.
"""

from __future__ import annotations

import copy

import torch
import torch.nn as nn

from .errors import NawtError
from .evals.quantization import GRANULARITIES, MAX_BITS, MIN_BITS
from .evals.quantization import check_quantization as check
from .models import weight_params
from .stress import WeightStress


def levels(bits: int) -> int:
    """How many distinct values a k-bit symmetric quantizer can produce."""
    return 2 if bits == 1 else 2**bits - 1


def _reduce_abs(w: torch.Tensor, granularity: str, how: str) -> torch.Tensor:
    a = w.abs()
    if granularity == "tensor" or w.dim() < 2:
        r = a.max() if how == "max" else a.mean()
        return r.reshape([1] * w.dim()) if w.dim() else r
    flat = a.reshape(w.shape[0], -1)
    r = flat.amax(1) if how == "max" else flat.mean(1)
    return r.view(-1, *([1] * (w.dim() - 1)))


@torch.no_grad()
def fake_quant(w: torch.Tensor, bits: int, granularity: str = "channel") -> torch.Tensor:
    """The quantize-dequantize of ``w`` (a new tensor, same shape and dtype)."""
    check([bits], granularity)
    if bits == 1:
        scale = _reduce_abs(w, granularity, "mean")
        return torch.where(w >= 0, scale, -scale).to(w.dtype)
    qmax = 2 ** (bits - 1) - 1
    scale = _reduce_abs(w, granularity, "max") / qmax
    safe = torch.where(scale > 0, scale, torch.ones_like(scale))
    return (torch.clamp(torch.round(w / safe), -qmax, qmax) * safe).to(w.dtype)


@torch.no_grad()
def quantize_(model: nn.Module, bits: int, granularity: str = "channel") -> nn.Module:
    """Replaces every conv/linear weight of ``model`` by its fake-quantized value, in place."""
    for _, w in weight_params(model):
        w.copy_(fake_quant(w, bits, granularity))
    return model


# ------------------------------------------------------------ BN folding
def _fold_pair(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    inv = torch.rsqrt(bn.running_var + bn.eps)
    gamma = bn.weight if bn.affine else torch.ones_like(inv)
    beta = bn.bias if bn.affine else torch.zeros_like(inv)
    factor = gamma * inv
    fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                      conv.dilation, conv.groups, bias=True, padding_mode=conv.padding_mode,
                      device=conv.weight.device, dtype=conv.weight.dtype)
    fused.weight.copy_(conv.weight * factor.view(-1, 1, 1, 1))
    b = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    fused.bias.copy_(beta + (b - bn.running_mean) * factor)
    return fused


@torch.no_grad()
def fold_bn(model: nn.Module) -> nn.Module:
    """A copy of ``model`` in which each BatchNorm2d that directly follows a
    Conv2d (children named ``convN`` and ``bnN`` of one module, or consecutive
    children of a Sequential) is folded into that convolution and replaced by
    an identity. Only valid in eval mode; the copy is returned in eval mode."""
    model = copy.deepcopy(model).eval()
    folded = 0
    for mod in list(model.modules()):
        kids = dict(mod.named_children())
        pairs = []
        if isinstance(mod, nn.Sequential):
            names = list(kids)
            pairs = [(a, b) for a, b in zip(names, names[1:])]
        else:
            pairs = [(n, "bn" + n[4:]) for n in kids if n.startswith("conv") and "bn" + n[4:] in kids]
        for cname, bname in pairs:
            conv, bn = kids.get(cname), kids.get(bname)
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d) and bn.track_running_stats:
                setattr(mod, cname, _fold_pair(conv, bn))
                setattr(mod, bname, nn.Identity())
                folded += 1
    if folded == 0:
        raise NawtError("--fold-bn: this model has no convolution followed by BatchNorm to fold")
    return model


class FakeQuantization(WeightStress):
    """The quantization evaluation (nawt_core/evals/quantization.py): every weight fake-quantized
    to ``value`` bits, after folding BatchNorm into the convolutions when asked."""

    def prepare(self, model: nn.Module) -> nn.Module:
        return fold_bn(model) if self.config["fold_bn"] else model

    def perturb(self, weights, value, trial):
        return [fake_quant(w, int(value), self.config["granularity"]) for w in weights]


__all__ = ["FakeQuantization", "GRANULARITIES", "MAX_BITS", "MIN_BITS", "check", "fake_quant", "fold_bn", "levels", "quantize_"]
