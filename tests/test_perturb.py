"""Weight perturbation: statistics per mode, seeding, targets, nothing changed in place by copies."""

from __future__ import annotations

import pytest
import torch

from nawt_core import perturb as P
from nawt_core.errors import NawtError
from nawt_core.models import build_model, weight_params


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model("resnet20").eval()


def deltas(model, strength, **kw):
    before = {n: w.detach().clone() for n, w in weight_params(model)}
    m2 = P.perturbed_copy(model, strength, **kw)
    after = dict(weight_params(m2))
    return {n: (after[n].detach() - before[n], before[n]) for n in before}


def test_absolute_noise_has_the_requested_std(model):
    d = deltas(model, 0.1, mode="absolute", seed=1)
    allz = torch.cat([dz.flatten() for dz, _ in d.values()])
    assert allz.std().item() == pytest.approx(0.1, rel=0.02)
    assert allz.mean().abs().item() < 0.005


def test_relative_noise_scales_per_layer_with_max_abs_weight(model):
    d = deltas(model, 0.05, mode="relative", seed=2)
    ratios = []
    for dz, w in d.values():
        if w.numel() < 2000:
            continue
        ratios.append(dz.std().item() / (0.05 * w.abs().max().item()))
    assert len(ratios) >= 10
    assert all(r == pytest.approx(1.0, rel=0.1) for r in ratios)
    # layers differ in max|W|, so the absolute noise differs between layers
    stds = [dz.std().item() for dz, w in d.values() if w.numel() >= 2000]
    assert max(stds) / min(stds) > 1.2


def test_std_mode_scales_with_weight_std(model):
    d = deltas(model, 0.5, mode="std", seed=3)
    for dz, w in d.values():
        if w.numel() >= 2000:
            assert dz.std().item() == pytest.approx(0.5 * w.std().item(), rel=0.1)


def test_same_seed_same_noise_and_trials_differ(model):
    a = P.perturbed_copy(model, 0.05, seed=7, trial=3)
    b = P.perturbed_copy(model, 0.05, seed=7, trial=3)
    c = P.perturbed_copy(model, 0.05, seed=7, trial=4)
    d = P.perturbed_copy(model, 0.05, seed=8, trial=3)
    wa, wb, wc, wd = (dict(weight_params(m))["fc.weight"] for m in (a, b, c, d))
    assert torch.equal(wa, wb)
    assert not torch.equal(wa, wc)
    assert not torch.equal(wa, wd)
    assert P.trial_seed(7, 0.05, 3) == P.trial_seed(7, 0.05, 3) != P.trial_seed(7, 0.1, 3)


def test_copy_leaves_the_model_untouched_and_zero_is_identity(model):
    before = {k: v.clone() for k, v in model.state_dict().items()}
    P.perturbed_copy(model, 0.2, seed=1)
    z = P.perturbed_copy(model, 0.0, seed=1)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])
        assert torch.equal(z.state_dict()[k], before[k])


def test_targets_weights_vs_all(model):
    w_only = P.perturbed_copy(model, 0.1, targets="weights")
    every = P.perturbed_copy(model, 0.1, targets="all")
    bn = model.bn1.weight
    assert torch.equal(w_only.bn1.weight, bn)
    assert not torch.equal(every.bn1.weight, bn)
    assert torch.equal(every.bn1.running_mean, model.bn1.running_mean)  # buffers never touched
    assert not torch.equal(w_only.conv1.weight, model.conv1.weight)


@pytest.mark.parametrize("kw,msg", [
    (dict(mode="gauss"), "unknown perturbation mode"),
    (dict(targets="bias"), "unknown targets"),
    (dict(strengths=[-0.1]), ">= 0"),
    (dict(strengths=[float("nan")]), ">= 0"),
    (dict(trials=0), "at least 1"),
])
def test_bad_input_is_one_clear_error(kw, msg):
    args = dict(mode="absolute", targets="weights", strengths=[0.1], trials=1) | kw
    with pytest.raises(NawtError, match=msg):
        P.check(**args)
