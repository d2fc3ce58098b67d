"""Stuck-at faults: an exact count per model, the stuck levels, seeding, nothing changed in place."""

from __future__ import annotations

import pytest
import torch

from nawt_core import stuck as S
from nawt_core.errors import NawtError
from nawt_core.models import build_model, weight_params


@pytest.fixture(scope="module")
def weights():
    torch.manual_seed(0)
    model = build_model("resnet20").eval().to(memory_format=torch.channels_last)
    ws = [p.detach() for _, p in weight_params(model)]
    assert all(bool((w != 0).all()) for w in ws)  # so a weight stuck at 0 always changes
    return ws


def changed(a, b):
    return sum(int((x != y).sum()) for x, y in zip(a, b))


@pytest.mark.parametrize("fraction", [0.0, 0.001, 0.0123, 0.3, 1.0])
def test_exactly_the_fraction_of_the_models_weights_is_stuck(weights, fraction):
    n = sum(w.numel() for w in weights)
    k = int(fraction * n + 0.5)
    for trial in range(2):
        out = S.stuck_weights(weights, fraction, value="zero", seed=1, trial=trial)
        assert changed(out, weights) == k
        assert sum(int((o == 0).sum()) for o in out) == k


def test_faults_spread_over_the_whole_model_not_per_tensor(weights):
    # 0.1 % of the 432 weights of the first convolution rounds to 0 per tensor;
    # per model it is hit in proportion over trials (expected 0.43 faults a trial)
    hits = [changed(S.stuck_weights(weights, 0.001, seed=2, trial=t)[:1], weights[:1]) for t in range(60)]
    assert 8 <= sum(hits) <= 50


def test_max_sticks_at_the_layers_plus_or_minus_max(weights):
    out = S.stuck_weights(weights, 0.05, value="max", seed=3)
    signs = []
    for w, o in zip(weights, out):
        top = w.abs().max()
        diff = o != w
        assert bool((o[diff].abs() == top).all())
        signs.append(torch.sign(o[diff]))
    signs = torch.cat(signs)
    assert abs(float(signs.mean())) < 0.03  # the sign is a fair coin (k = 13,417)


def test_both_puts_half_at_zero_and_half_at_max(weights):
    out = S.stuck_weights(weights, 0.05, value="both", seed=4)
    zeros = at_max = 0
    for w, o in zip(weights, out):
        diff = o != w
        zeros += int((o[diff] == 0).sum())
        at_max += int((o[diff].abs() == w.abs().max()).sum())
    k = int(0.05 * sum(w.numel() for w in weights) + 0.5)
    # the rare weight already at its layer's max (and stuck there) does not change
    assert k - 20 <= zeros + at_max <= k
    assert abs(zeros / (zeros + at_max) - 0.5) < 0.02


def test_weights_are_left_exactly_as_they_were_and_keep_their_layout(weights):
    before = [w.clone() for w in weights]
    out = S.stuck_weights(weights, 0.1, value="both", seed=5)
    assert all(torch.equal(a, b) for a, b in zip(before, weights))
    assert all(o.stride() == w.stride() for o, w in zip(out, weights))


def test_positions_count_in_logical_order_whatever_the_memory_format(weights):
    plain = [w.contiguous() for w in weights]
    a = S.stuck_weights(weights, 0.01, value="max", seed=6)
    b = S.stuck_weights(plain, 0.01, value="max", seed=6)
    assert all(torch.equal(x, y) for x, y in zip(a, b))


def test_same_seed_same_faults_other_trial_other_faults(weights):
    a = S.stuck_weights(weights, 0.01, seed=7, trial=0)
    b = S.stuck_weights(weights, 0.01, seed=7, trial=0)
    c = S.stuck_weights(weights, 0.01, seed=7, trial=1)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not all(torch.equal(x, y) for x, y in zip(a, c))


def test_bad_settings_are_refused(weights):
    with pytest.raises(NawtError):
        S.stuck_weights(weights, 1.5)
    with pytest.raises(NawtError):
        S.stuck_weights(weights, 0.01, value="one")
