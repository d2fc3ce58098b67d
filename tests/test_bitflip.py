"""Bit flips on signed integer weights: the flip rate, two's complement, seeding, nothing changed in place."""

from __future__ import annotations

import math

import pytest
import torch

from nawt_core import bitflip as B
from nawt_core import faults
from nawt_core.errors import NawtError
from nawt_core.models import build_model, weight_params
from nawt_core.quantize import fake_quant


@pytest.fixture(scope="module")
def weights():
    torch.manual_seed(0)
    model = build_model("resnet20").eval().to(memory_format=torch.channels_last)
    return [p.detach() for _, p in weight_params(model)]


def flipped_bits(before: list[torch.Tensor], after: list[torch.Tensor], bits: int) -> torch.Tensor:
    """Per stored bit position, how many weights have that bit changed (from the integers)."""
    counts = torch.zeros(bits, dtype=torch.long)
    for w, w2 in zip(before, after):
        q, step = B.quantize_int(w, bits)
        q2 = torch.round(w2 / step).to(torch.int64)  # exact: w2 = q2 * step
        assert torch.equal(q2.to(step.dtype) * step, w2)
        xor = (q ^ q2) & ((1 << bits) - 1)
        counts += torch.stack([((xor >> b) & 1).sum() for b in range(bits)])
    return counts


def binomial_ok(count: int, n: int, p: float, z: float = 5.0) -> bool:
    return abs(count - n * p) <= z * math.sqrt(n * p * (1 - p)) + 1


def test_rate_zero_is_the_per_channel_quantized_model(weights):
    for bits in (2, 4, 8, 16):
        out = B.bitflip_weights(weights, 0.0, bits=bits)
        assert all(torch.equal(o, fake_quant(w, bits, "channel")) for o, w in zip(out, weights))


@pytest.mark.parametrize("rate", [1e-5, 1e-3, 0.05])
def test_observed_flip_rate_is_within_a_binomial_interval(weights, rate):
    n_bits = sum(w.numel() for w in weights) * 8
    total = 0
    for trial in range(3):
        counts = flipped_bits(weights, B.bitflip_weights(weights, rate, bits=8, seed=4, trial=trial), 8)
        assert binomial_ok(int(counts.sum()), n_bits, rate)
        total += counts
    if rate >= 1e-3:  # every bit position is hit alike, the sign bit too
        per_position = 3 * n_bits // 8
        assert all(binomial_ok(int(c), per_position, rate) for c in total)


def test_msb_target_flips_only_the_sign_bit_at_the_requested_rate(weights):
    n = sum(w.numel() for w in weights)
    counts = flipped_bits(weights, B.bitflip_weights(weights, 2e-3, bits=6, target="msb", seed=1), 6)
    assert counts[:5].sum() == 0
    assert counts[5] > 0 and binomial_ok(int(counts[5]), n, 2e-3)


def test_a_sign_bit_flip_moves_the_integer_by_two_to_the_k_minus_1():
    q = torch.tensor([3, -1, 0, 127, -127, -128 + 1])
    sign = torch.full_like(q, 1 << 7)
    assert B.flip(q, sign, 8).tolist() == [3 - 128, -1 + 128, -128, -1, 1, -127 + 128]
    assert B.flip(torch.tensor([5, -6]), torch.tensor([1, 2]), 4).tolist() == [4, -8]  # 0101->0100, 1010->1000


def test_every_sign_bit_flipped_is_the_twos_complement_error_in_weight_units(weights):
    bits = 8
    out = B.bitflip_weights(weights, 1.0, bits=bits, target="msb")
    for w, o in zip(weights, out):
        q, step = B.quantize_int(w, bits)
        expected = torch.where(q >= 0, q - 128, q + 128).to(step.dtype) * step
        assert torch.equal(o, expected)
        # a weight moves by 2^(k-1) steps: just over its channel's max|W| (128/127 of it)
        assert torch.allclose((o - fake_quant(w, bits)).abs(), 128 * step.expand_as(w), rtol=1e-6)


def test_rate_one_flips_every_bit(weights):
    w = weights[3]
    q, step = B.quantize_int(w, 5)
    assert torch.equal(B.bitflip_weights([w], 1.0, bits=5)[0], (~q).to(step.dtype) * step)  # ~q = -q - 1


def test_weights_are_left_exactly_as_they_were(weights):
    before = [w.clone() for w in weights]
    B.bitflip_weights(weights, 0.01, seed=3)
    assert all(torch.equal(a, b) for a, b in zip(before, weights))


def test_same_seed_same_flips_other_trial_or_seed_other_flips(weights):
    a = B.bitflip_weights(weights, 1e-3, seed=7, trial=2)
    b = B.bitflip_weights(weights, 1e-3, seed=7, trial=2)
    c = B.bitflip_weights(weights, 1e-3, seed=7, trial=3)
    d = B.bitflip_weights(weights, 1e-3, seed=8, trial=2)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not all(torch.equal(x, y) for x, y in zip(a, c))
    assert not all(torch.equal(x, y) for x, y in zip(a, d))


def test_a_trials_flips_do_not_depend_on_the_tensors_memory_format(weights):
    plain = [w.contiguous() for w in weights]
    a = B.bitflip_weights(weights, 1e-3, seed=1)
    b = B.bitflip_weights(plain, 1e-3, seed=1)
    assert all(torch.equal(x, y) for x, y in zip(a, b))


def test_bad_settings_are_refused(weights):
    for kw in ({"bits": 1}, {"bits": 17}, {"target": "lsb"}):
        with pytest.raises(NawtError):
            B.bitflip_weights(weights, 1e-3, **kw)
    with pytest.raises(NawtError):
        B.bitflip_weights(weights, 1.5)


def test_distinct_positions_are_distinct_and_uniform():
    gen = torch.Generator().manual_seed(0)
    for n, k in ((10, 10), (1000, 3), (100_000, 500), (50, 20)):
        p = faults.distinct_positions(n, k, gen)
        assert p.numel() == k and p.unique().numel() == k and int(p.min()) >= 0 and int(p.max()) < n
    hits = torch.zeros(20, dtype=torch.long)
    for _ in range(2000):  # the small-k path: each of 20 positions equally likely
        hits += torch.bincount(faults.distinct_positions(20, 2, gen), minlength=20)
    assert all(binomial_ok(int(h), 2000, 2 / 20) for h in hits)


def test_split_positions_gives_each_tensor_its_local_indices():
    parts = faults.split_positions(torch.tensor([9, 0, 4, 5, 3]), [4, 1, 6])
    assert [p.tolist() for p in parts] == [[0, 3], [0], [4, 0]]  # offsets 0, 4, 5
