"""Seeded randomness shared by the weight stresses (bit flips, stuck-at faults, PCM).

Each stress draws from a CPU generator seeded from (kind, seed, value, trial),
as perturb.generator does for Gaussian noise: a seed gives the same faults on
a CPU and on every GPU, a trial's faults do not depend on the other values or
trials of a sweep, and the kind keeps the streams of different stresses apart.
Random numbers are drawn on the CPU and only what the device needs (indices,
noise) is moved there.
"""

from __future__ import annotations

import hashlib

import torch


def stress_seed(kind: str, seed: int, value: float, trial: int) -> int:
    """A 63-bit seed from (kind, seed, value, trial), stable across runs and machines."""
    text = f"{kind}:{int(seed)}:{float(value)!r}:{int(trial)}".encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "little") & (2**63 - 1)


def stress_generator(kind: str, seed: int, value: float, trial: int) -> torch.Generator:
    """The CPU generator of one (kind, seed, value, trial)."""
    return torch.Generator(device="cpu").manual_seed(stress_seed(kind, seed, value, trial))


def normal(shape, gen: torch.Generator, device: torch.device, dtype=torch.float32) -> torch.Tensor:
    """Standard normal numbers drawn on the CPU from ``gen`` and moved to ``device`` (through
    pinned memory for a GPU, so the copy does not stall the host)."""
    z = torch.randn(shape, generator=gen, dtype=dtype, pin_memory=torch.device(device).type == "cuda")
    return z.to(device, non_blocking=True)


def distinct_positions(n: int, k: int, gen: torch.Generator) -> torch.Tensor:
    """``k`` distinct positions drawn uniformly from ``range(n)`` (int64, CPU, unordered).

    For small ``k`` it draws with replacement and keeps the first ``k`` distinct
    values in draw order (a uniform k-subset by symmetry), so the cost grows with
    ``k``, not ``n``; for ``k`` above n/8 one permutation is cheaper."""
    if not 0 <= k <= n:
        raise ValueError(f"cannot choose {k} distinct positions out of {n}")
    if k == 0:
        return torch.empty(0, dtype=torch.long)
    if 8 * k > n:
        return torch.randperm(n, generator=gen)[:k]
    got = torch.empty(0, dtype=torch.long)
    while got.numel() < k:
        need = k - got.numel()
        draw = torch.randint(n, (need + need // 8 + 8,), generator=gen)
        cand = torch.cat([got, draw])
        uniq, inverse = torch.unique(cand, return_inverse=True)
        first = torch.full((uniq.numel(),), cand.numel(), dtype=torch.long)
        first.scatter_reduce_(0, inverse, torch.arange(cand.numel()), "amin")
        got = uniq[first.argsort()][:k]  # earlier picks keep their place: the kept ones are the first distinct
    return got


def bernoulli_positions(n: int, p: float, gen: torch.Generator) -> torch.Tensor:
    """The positions in ``range(n)`` hit by independent Bernoulli(``p``) events:
    a Binomial(n, p) count, then that many distinct uniform positions (int64, CPU)."""
    if p <= 0 or n == 0:
        return torch.empty(0, dtype=torch.long)
    if p >= 1:
        return torch.arange(n)
    count = torch.binomial(torch.tensor(float(n), dtype=torch.float64), torch.tensor(float(p), dtype=torch.float64),
                           generator=gen)
    return distinct_positions(n, int(count), gen)


def split_positions(positions: torch.Tensor, sizes: list[int]) -> list[torch.Tensor]:
    """Global positions over tensors laid end to end -> each tensor's local positions."""
    bounds = torch.tensor([0, *sizes], dtype=torch.long).cumsum(0)
    which = torch.bucketize(positions, bounds[1:], right=True)
    order = which.argsort(stable=True)
    positions, which = positions[order], which[order]
    counts = torch.bincount(which, minlength=len(sizes)).tolist()
    return [part - bounds[i] for i, part in enumerate(positions.split(counts))]


__all__ = ["bernoulli_positions", "distinct_positions", "normal", "split_positions", "stress_generator", "stress_seed"]
