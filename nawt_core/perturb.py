"""Post-training Gaussian weight perturbation (analog noise, drift).

For strength ``s`` and each targeted tensor ``W``:
- ``absolute``: ``W + s * N(0, 1)`` (the poster's convention),
- ``relative``: ``W + s * max|W| * N(0, 1)`` (the hardware convention, per layer),
- ``std``:      ``W + s * std(W) * N(0, 1)``.

Targets: ``weights`` (every conv and linear weight, see models.weight_params)
or ``all`` (every floating-point parameter, BatchNorm affine and biases too;
running statistics are buffers and are never touched).

Noise is seeded per (seed, strength, trial): the same seed reproduces every
number, and a trial's noise does not depend on which other strengths or trials
are in the sweep, nor on whether copies are evaluated one at a time or batched.
It is drawn from a CPU generator and moved to the weights' device, so a seed
means the same perturbations on a CPU and on any GPU (a CUDA generator draws
other numbers from the same seed).
"""

from __future__ import annotations

import copy
import hashlib

import torch
import torch.nn as nn

from .errors import NawtError
from .evals.robustness import MODES, TARGETS, check_robustness
from .models import target_params
from .stress import WeightStress


def check(mode: str, targets: str = "weights", strengths=(), trials: int = 1) -> None:
    """evals.robustness.check_robustness, in the argument order the sweeps use."""
    check_robustness(mode, strengths, trials, targets)


def trial_seed(seed: int, strength: float, trial: int) -> int:
    """A 63-bit seed from (seed, strength, trial), stable across runs and machines."""
    text = f"{int(seed)}:{float(strength)!r}:{int(trial)}".encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "little") & (2**63 - 1)


def generator(seed: int, strength: float, trial: int, device=None) -> torch.Generator:
    """The (seed, strength, trial) noise generator: always a CPU one (``device`` is
    kept for callers of the old signature and ignored)."""
    return torch.Generator(device="cpu").manual_seed(trial_seed(seed, strength, trial))


def scale_of(w: torch.Tensor, strength: float, mode: str) -> torch.Tensor | float:
    """The noise standard deviation for tensor ``w`` (a 0-d tensor or a float)."""
    if mode == "absolute":
        return float(strength)
    if mode == "relative":
        return strength * w.detach().abs().max()
    if mode == "std":
        return strength * (w.detach().float().std() if w.numel() > 1 else w.new_zeros(()))
    raise NawtError(f"unknown perturbation mode {mode!r}; choose one of: {', '.join(MODES)}")


def noise_like(tensors: list[torch.Tensor], strength: float, mode: str, gen: torch.Generator) -> list[torch.Tensor]:
    """One noise tensor per input tensor, drawn in order from the CPU generator
    ``gen`` and moved to the tensor's device. For a GPU the draw goes into
    pinned memory, so the copy is asynchronous (torch's pinned-memory cache
    does not reuse a block before its copy has finished)."""
    out = []
    for w in tensors:
        z = torch.randn(w.shape, generator=gen, dtype=w.dtype, pin_memory=w.device.type == "cuda")
        out.append(z.to(w.device, non_blocking=True).mul_(scale_of(w, strength, mode)))
    return out


@torch.no_grad()
def perturb_(model: nn.Module, strength: float, *, mode: str = "absolute", seed: int = 0, trial: int = 0,
             targets: str = "weights") -> nn.Module:
    """Adds the (seed, strength, trial) noise to ``model``'s weights in place."""
    check(mode, targets, (strength,))
    params = [p for _, p in target_params(model, targets)]
    if strength == 0 or not params:
        return model
    gen = generator(seed, strength, trial, params[0].device)
    noise = noise_like(params, strength, mode, gen)
    torch._foreach_add_(params, noise)
    return model


def perturbed_copy(model: nn.Module, strength: float, **kw) -> nn.Module:
    """A perturbed deep copy; ``model`` itself is left as it was."""
    return perturb_(copy.deepcopy(model), strength, **kw)


def noisy(weights: list[torch.Tensor], strength: float, mode: str, seed: int, trial: int) -> list[torch.Tensor] | None:
    """New tensors: ``weights`` plus the (seed, strength, trial) noise; None at strength 0 (nothing changes)."""
    if not strength:
        return None
    return torch._foreach_add(weights, noise_like(weights, strength, mode, generator(seed, strength, trial)))


class GaussianNoise(WeightStress):
    """The robustness evaluation (nawt_core/evals/robustness.py): Gaussian noise per (strength, trial)."""

    probe = 0.01  # the strength the engines are timed with (strategy auto)

    @property
    def targets(self) -> str:
        return self.config["targets"]

    def perturb(self, weights, value, trial):
        return noisy(weights, value, self.config["mode"], self.seed, trial)


__all__ = ["MODES", "TARGETS", "GaussianNoise", "check", "generator", "noise_like", "noisy", "perturb_",
           "perturbed_copy", "scale_of", "target_params", "trial_seed"]
