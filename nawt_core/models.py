"""ResNet for CIFAR (He et al. 2016, Sec. 4.2): ResNet-20/32/44/56/110.

Three stages of n BasicBlocks (widths 16/32/64), option-A shortcuts
(stride-2 subsampling and zero-padded channels, no parameters), global average
pool, linear 64 -> classes. ResNet-20 has 269,722 parameters.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .errors import NawtError

DEPTHS = {"resnet20": 20, "resnet32": 32, "resnet44": 44, "resnet56": 56, "resnet110": 110}


class ShortcutA(nn.Module):
    """Parameter-free shortcut: subsample spatially, zero-pad the new channels."""

    def __init__(self, in_ch: int, out_ch: int, stride: int):
        super().__init__()
        self.stride = stride
        extra = out_ch - in_ch
        self.pad_lo, self.pad_hi = extra // 2, extra - extra // 2

    def forward(self, x):
        if self.stride != 1:
            x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, self.pad_lo, self.pad_hi))


class BasicBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        needs_a = stride != 1 or in_ch != out_ch
        self.shortcut = ShortcutA(in_ch, out_ch, stride) if needs_a else nn.Identity()

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNetCifar(nn.Module):
    def __init__(self, depth: int = 20, num_classes: int = 10, widths=(16, 32, 64)):
        super().__init__()
        if (depth - 2) % 6:
            raise ValueError("depth must be 6n+2")
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(3, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        blocks, in_ch = [], widths[0]
        for stage, w in enumerate(widths):
            for i in range(n):
                blocks.append(BasicBlock(in_ch, w, 2 if stage > 0 and i == 0 else 1))
                in_ch = w
        self.layers = nn.Sequential(*blocks)
        self.fc = nn.Linear(in_ch, num_classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layers(x)
        # the global average pool as a mean: the same value as adaptive_avg_pool2d(x, 1),
        # but its CUDA backward is deterministic (so --deterministic can refuse
        # nondeterministic kernels) and vmap has a fast rule for it (sweeps)
        return self.fc(x.mean((2, 3)))


def build_model(arch: str = "resnet20", num_classes: int = 10) -> ResNetCifar:
    return ResNetCifar(DEPTHS[arch], num_classes)


def weight_params(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """(name, weight) of every conv and linear layer: what the weight stresses touch."""
    return [
        (f"{mod_name}.weight" if mod_name else "weight", m.weight)
        for mod_name, m in model.named_modules()
        if isinstance(m, (nn.Conv2d, nn.Linear))
    ]


@torch.no_grad()
def weight_stats(model: nn.Module) -> dict[str, dict[str, float]]:
    """Per conv/linear weight: its L2 norm, max |w| and standard deviation (6 significant
    digits). Absolute weight noise hurts small weights most, and weight decay sets their
    size. One host read for all of them: called once per epoch, never per step."""
    named = weight_params(model)
    ws = [w.detach().float() for _, w in named]
    cols = [torch.stack(torch._foreach_norm(ws)), torch.stack(torch._foreach_norm(ws, float("inf"))),
            torch.stack([w.std() if w.numel() > 1 else w.new_zeros(()) for w in ws])]
    values = torch.stack(cols, 1).tolist()  # the one host read
    return {name.removesuffix(".weight") or name: {k: float(f"{v:.6g}") for k, v in zip(("l2", "max", "std"), row)}
            for (name, _), row in zip(named, values)}


def target_params(model: nn.Module, targets: str = "weights") -> list[tuple[str, nn.Parameter]]:
    """(name, parameter) pairs that a stress touches, in a fixed order: ``weights`` (every conv
    and linear weight) or ``all`` (every floating-point parameter; BatchNorm statistics are
    buffers and never touched)."""
    if targets == "weights":
        return weight_params(model)
    if targets == "all":
        return [(n, p) for n, p in model.named_parameters() if p.is_floating_point()]
    raise NawtError(f"unknown targets {targets!r}; choose weights or all")


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
