"""Bit flips in weights stored as signed integers (two's complement).

Each conv/linear weight tensor is quantized per output channel to signed
``bits``-bit integers on the symmetric restricted grid quantize.fake_quant
uses: ``q = clamp(round(W / s), -(2^(k-1)-1), 2^(k-1)-1)`` with
``s = max|W_channel| / (2^(k-1)-1)``. Every stored bit of every weight is then
flipped independently with probability ``rate`` (``target="all"``), or only the
most significant bit, the sign bit (``target="msb"``), and the integers are
dequantized, ``W' = q' * s``.

Two's complement is what makes a flipped sign bit the large error it is on
hardware: flipping bit k-1 changes the stored value by -2^(k-1) (0 -> 1) or
+2^(k-1) (1 -> 0), so a weight moves by 2^(k-1) * s, just over its channel's
max|W| (q = 3 becomes 3 - 128 = -125 at 8 bits). A flip can also reach
-2^(k-1), one step outside the symmetric grid: that is the stored pattern.

At ``rate = 0`` the result is the quantized model (quantize.fake_quant at the
same bits, per channel): a bit-flip sweep's baseline is the integer model, not
the float one. Faults are drawn as a Binomial(n_bits, rate) count and that many
distinct bit positions over the model's stored bits (faults.bernoulli_positions,
the same distribution as a Bernoulli per bit, at a cost that grows with the
number of flips), from a CPU generator seeded from (seed, rate, trial).
"""

from __future__ import annotations

from typing import Sequence

import torch

from .faults import bernoulli_positions, split_positions, stress_generator
from .stressspec import BITFLIP_BITS, check_bitflip_bits, check_bitflip_target, check_rates
from .stress import WeightStress


def channel_scale(w: torch.Tensor, bits: int) -> torch.Tensor:
    """The per-output-channel step ``max|W_c| / (2^(k-1)-1)``, shaped to broadcast over ``w``
    (channels whose weights are all zero get step 1 so that they stay zero)."""
    qmax = 2 ** (bits - 1) - 1
    a = w.detach().abs()
    if w.dim() < 2:
        m = a.max().reshape([1] * w.dim())
    else:
        m = a.reshape(w.shape[0], -1).amax(1).view(-1, *([1] * (w.dim() - 1)))
    s = m / qmax
    return torch.where(s > 0, s, torch.ones_like(s))


def quantize_int(w: torch.Tensor, bits: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(signed integers as int64, per-channel step): ``w ~ q * step``."""
    qmax = 2 ** (bits - 1) - 1
    step = channel_scale(w, bits)
    q = torch.clamp(torch.round(w.detach() / step), -qmax, qmax).to(torch.int64)
    return q, step


def flip(q: torch.Tensor, xor_mask: torch.Tensor, bits: int) -> torch.Tensor:
    """The signed ``bits``-bit integers ``q`` with the bits set in ``xor_mask`` flipped (two's complement)."""
    pattern = (q & ((1 << bits) - 1)) ^ xor_mask  # the stored bit pattern, after the flips
    return pattern - ((pattern >> (bits - 1)) & 1) * (1 << bits)  # back to signed


def flip_masks(numels: Sequence[int], rate: float, bits: int, target: str, gen: torch.Generator
               ) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per tensor, (element index, bit value) of every flipped bit (CPU int64 tensors).

    The model's stored bits are laid end to end (``numel * bits`` per tensor, or
    ``numel`` sign bits for ``target="msb"``) and each is hit with probability ``rate``."""
    per = bits if target == "all" else 1
    hit = bernoulli_positions(sum(numels) * per, rate, gen)
    out = []
    for local in split_positions(hit, [n * per for n in numels]):
        if target == "all":
            element, bit = local // bits, local % bits
        else:
            element, bit = local, torch.full_like(local, bits - 1)
        out.append((element, torch.ones_like(bit) << bit))
    return out


@torch.no_grad()
def bitflip_weights(weights: Sequence[torch.Tensor], rate: float, *, bits: int = BITFLIP_BITS, target: str = "all",
                    seed: int = 0, trial: int = 0) -> list[torch.Tensor]:
    """New tensors: ``weights`` quantized to ``bits``-bit integers per output channel, each
    stored bit flipped with probability ``rate`` (``target="msb"``: only the sign bit),
    dequantized to the weights' dtype on their device. ``weights`` are not changed."""
    check_rates([rate])
    bits = check_bitflip_bits(bits)
    check_bitflip_target(target)
    gen = stress_generator("bitflip-" + target, seed, rate, trial)
    masks = flip_masks([w.numel() for w in weights], rate, bits, target, gen)
    out = []
    for w, (element, value) in zip(weights, masks):
        q, step = quantize_int(w, bits)
        if element.numel():
            xor = torch.zeros(w.numel(), dtype=torch.int64, device=w.device)
            # positions are distinct, so the bits of one element add up to their OR
            xor.index_add_(0, element.to(w.device, non_blocking=True), value.to(w.device, non_blocking=True))
            q = flip(q, xor.view(w.shape), bits)
        out.append((q.to(step.dtype) * step).to(w.dtype))
    return out



class BitFlips(WeightStress):
    """The bitflip evaluation (nawt_core/evals/bitflip.py): integer weights with flipped bits per (rate, trial)."""

    probe = 1e-3

    def perturb(self, weights, value, trial):
        return bitflip_weights(weights, value, bits=self.config["bits"], target=self.config["target"],
                               seed=self.seed, trial=trial)


__all__ = ["BitFlips", "bitflip_weights", "channel_scale", "flip", "flip_masks", "quantize_int"]
