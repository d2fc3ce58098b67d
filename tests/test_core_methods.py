"""Methods: SAM against a hand computation, BN handling, rho schedule, noise statistics."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from nawt_core.config import TrainConfig
from nawt_core import spec
from nawt_core.methods import make_method
from nawt_core.models import build_model, count_params, weight_params


def test_resnet20_has_269722_parameters_and_kin_build():
    assert count_params(build_model("resnet20")) == 269_722
    assert count_params(build_model("resnet32")) > count_params(build_model("resnet20"))
    out = build_model("resnet44")(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 10)


def test_every_cli_method_has_a_torch_class():
    builtins = ("standard", "naive-noise", "noise-injection", "sam", "multistep-sam")
    assert spec.method_names()[:5] == builtins
    assert all(spec.impl(m) is not None and spec.impl(m).name == m for m in builtins)


def _tiny(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3))


def _method(model, name="sam", lr=0.1, **cfg):
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.0, weight_decay=0.0)
    c = TrainConfig(method=name, epochs=10, **cfg)
    return make_method(model, opt, c, gen=torch.Generator().manual_seed(1)), opt


def _grads_at(model, x, y, params):
    """The cross-entropy gradient of a copy of ``model`` whose parameters are ``params``."""
    m = copy.deepcopy(model)
    with torch.no_grad():
        for p, v in zip(m.parameters(), params):
            p.copy_(v)
    return torch.autograd.grad(F.cross_entropy(m(x), y), list(m.parameters()))


def test_one_sam_step_equals_the_hand_computation():
    rho, lr = 0.3, 0.1
    model = _tiny()
    x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
    w = [p.detach().clone() for p in model.parameters()]

    def grads_at(params):
        return _grads_at(model, x, y, params)

    g1 = grads_at(w)
    norm = torch.sqrt(sum((g**2).sum() for g in g1))
    w_adv = [wi + rho * gi / norm for wi, gi in zip(w, g1)]
    g2 = grads_at(w_adv)
    expected = [wi - lr * gi for wi, gi in zip(w, g2)]

    method, _ = _method(model, rho=rho, lr=lr)
    method.step(x, y)
    for p, e in zip(model.parameters(), expected):
        torch.testing.assert_close(p.detach(), e, rtol=1e-5, atol=1e-6)


def test_asam_and_multi_ascent_move_differently_from_sam_and_restore_before_the_step():
    x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
    finals = {}
    for key, kw in {"sam": {}, "asam": {"adaptive": True}, "k2": {"ascent_steps": 2}}.items():
        model = _tiny()
        method, _ = _method(model, rho=0.3, lr=0.0, **kw)  # lr 0: the step must leave w exactly restored
        before = [p.detach().clone() for p in model.parameters()]
        method.step(x, y)
        for p, b in zip(model.parameters(), before):
            torch.testing.assert_close(p.detach(), b, rtol=0, atol=1e-6)
        model2 = _tiny()
        m2, _ = _method(model2, rho=0.3, lr=0.1, **kw)
        m2.step(x, y)
        finals[key] = torch.cat([p.detach().flatten() for p in model2.parameters()])
    assert not torch.allclose(finals["sam"], finals["asam"])
    assert not torch.allclose(finals["sam"], finals["k2"])


def test_sam_updates_batchnorm_running_stats_once_per_step():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.LazyLinear(3))
    x, y = torch.randn(6, 3, 8, 8), torch.randint(0, 3, (6,))
    model(x)  # materialise the lazy layer
    bn = model[1]
    bn.reset_running_stats()
    reference = copy.deepcopy(model)
    reference.train()
    with torch.no_grad():
        reference(x)  # exactly one BN update from the clean weights
    method, _ = _method(model, rho=0.5)
    method.step(x, y)
    torch.testing.assert_close(bn.running_mean, reference[1].running_mean)
    torch.testing.assert_close(bn.running_var, reference[1].running_var)
    assert bn.momentum == 0.1  # restored after the second pass


def test_rho_schedule_grows_in_stages():
    cfg = TrainConfig(method="multistep-sam", epochs=9, rho=0.06, stages=3)
    assert [round(cfg.rho_at(e), 6) for e in range(9)] == [0, 0, 0, 0.03, 0.03, 0.03, 0.06, 0.06, 0.06]
    cfg = TrainConfig(method="multistep-sam", epochs=4, rho_stages=[0.0, 0.1])
    assert [cfg.rho_at(e) for e in range(4)] == [0.0, 0.0, 0.1, 0.1]
    assert TrainConfig(method="sam", rho=0.05).rho_at(3) == 0.05
    assert TrainConfig(method="standard").rho_at(3) == 0.0


def test_multistep_sam_with_rho_zero_takes_a_single_pass():
    model = _tiny()
    calls = []
    model.register_forward_hook(lambda *a: calls.append(1))
    method, _ = _method(model, name="multistep-sam", rho=0.1, stages=2)
    x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
    method.on_epoch_start(0)
    assert method.rho == 0.0
    method.step(x, y)
    assert len(calls) == 1
    method.on_epoch_start(9)
    assert method.rho == pytest.approx(0.1)
    method.step(x, y)
    assert len(calls) == 3  # SAM stage: two passes


def test_naive_noise_adds_absolute_gaussian_noise_once_per_epoch():
    model = build_model()
    method, _ = _method(model, name="naive-noise", noise_sigma=0.1)
    before = {n: w.detach().clone() for n, w in weight_params(model)}
    method.on_epoch_end(0)
    diffs = torch.cat([(w.detach() - before[n]).flatten() for n, w in weight_params(model)])
    assert abs(diffs.mean().item()) < 0.002
    assert diffs.std().item() == pytest.approx(0.1, rel=0.02)
    bn_w = model.bn1.weight.detach()
    assert torch.equal(bn_w, torch.ones_like(bn_w))  # BatchNorm is not a target


def test_naive_noise_last_epoch_option_skips_only_the_last_epochs_noise():
    for last, expect_last in ((True, True), (False, False)):
        model = build_model()
        method, _ = _method(model, name="naive-noise", noise_last_epoch=last)  # 10 epochs
        assert [method.changes_at_end(e) for e in (0, 8, 9)] == [True, True, expect_last]
        before = [w.detach().clone() for _, w in weight_params(model)]
        method.on_epoch_end(9)
        moved = any(not torch.equal(w, b) for (_, w), b in zip(weight_params(model), before))
        assert moved is expect_last
        method.on_epoch_end(8)  # an earlier epoch adds noise either way
        assert all(not torch.equal(w, b) for (_, w), b in zip(weight_params(model), before))
    assert not spec.method("naive-noise").changes_at_end(TrainConfig(method="naive-noise", noise_sigma=0.0), 0)
    assert not any(spec.method(m).changes_at_end(TrainConfig(method=m), 0)
                   for m in ("standard", "noise-injection", "sam", "multistep-sam"))


def test_noise_last_epoch_keeps_the_config_keys_of_runs_stored_before_it():
    for method in spec.method_names():
        old = TrainConfig(method=method).to_dict()
        old.pop("noise_last_epoch")  # a config stored before the option existed
        assert TrainConfig.from_dict(old).noise_last_epoch is True  # what naive noise did then
        assert TrainConfig.from_dict(old).key() == TrainConfig(method=method).key()
        off = TrainConfig(method=method, noise_last_epoch=False)
        # another experiment for naive noise only; the others train the same thing either way
        assert (off.key() != TrainConfig(method=method).key()) is (method == "naive-noise")
    # the key before the option existed, recomputed by hand: the dict without the new field
    import hashlib
    import json

    from nawt_core.config import NON_IDENTITY_KEYS
    d = {k: v for k, v in TrainConfig(method="naive-noise").to_dict().items()
         if k not in NON_IDENTITY_KEYS and k not in ("asam", "noise_last_epoch")}
    assert TrainConfig(method="naive-noise").key() == hashlib.sha1(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


def test_cost_class_counts_passes_per_step_from_the_rho_schedule():
    ms = TrainConfig(method="multistep-sam", epochs=9, rho=0.06, stages=3)
    assert [spec.method("multistep-sam").cost_class(ms, e) for e in (0, 2, 3, 8)] == [
        "1 pass", "1 pass", "2 passes", "2 passes"]
    k3 = TrainConfig(method="sam", ascent_steps=3)
    assert spec.method("sam").cost_class(k3, 0) == "4 passes"
    assert spec.method("sam").cost_class(TrainConfig(method="sam", rho=0.0), 0) == "1 pass"  # SAM.step: plain
    for m in ("standard", "naive-noise", "noise-injection"):
        assert {spec.method(m).cost_class(TrainConfig(method=m), e) for e in range(5)} == {"1 pass"}


def test_noise_injection_noise_is_relative_per_layer_and_clean_weights_are_updated():
    model = build_model()
    eta = 0.1
    method, _ = _method(model, name="noise-injection", noise_eta=eta, lr=0.0)
    clean = {n: w.detach().clone() for n, w in weight_params(model)}
    seen = {}
    for name, mod in model.named_modules():
        if isinstance(mod, (nn.Conv2d, nn.Linear)):
            mod.register_forward_pre_hook(lambda m, inp, name=name: seen.__setitem__(name, m.weight.detach().clone()))
    x, y = torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,))
    method.step(x, y)
    for name in ("conv1", "layers.4.conv2", "fc"):
        w0 = clean[f"{name}.weight"]
        noise = seen[name] - w0
        assert noise.std().item() == pytest.approx(eta * w0.abs().max().item(), rel=0.15)
        assert abs(noise.mean().item()) < 0.2 * eta * w0.abs().max().item()
    for n, w in weight_params(model):  # lr 0: the clean weights come back exactly
        assert torch.equal(w.detach(), clean[n])


def _asam_expected(model, x, y, rho, lr, t_of):
    """One ASAM step by hand: e = rho * T^2 g / ||T g||, gradient at w + e, SGD from w."""
    names = [n for n, _ in model.named_parameters()]
    w = [p.detach().clone() for p in model.parameters()]

    def grads_at(params):
        return _grads_at(model, x, y, params)

    g = grads_at(w)
    t = [t_of(n, wi) for n, wi in zip(names, w)]
    norm = torch.sqrt(sum(((ti * gi) ** 2).sum() for ti, gi in zip(t, g)))
    e = [rho * ti * ti * gi / norm for ti, gi in zip(t, g)]
    g2 = grads_at([wi + ei for wi, ei in zip(w, e)])
    return [wi - lr * gi for wi, gi in zip(w, g2)], e


@pytest.mark.parametrize("variant", ["davda54", "kwon"])
def test_one_asam_step_equals_the_hand_derivation(variant):
    rho, lr = 0.5, 0.1
    x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
    model = _tiny()
    if variant == "davda54":  # every parameter, T = |w|
        def t_of(name, w):
            return w.abs()
    else:  # Kwon et al.: parameters named weight get T = |w| + 0.01, the biases T = 1
        def t_of(name, w):
            return w.abs() + 0.01 if name.endswith("weight") else torch.ones_like(w)
    expected, e = _asam_expected(model, x, y, rho, lr, t_of)
    method, _ = _method(model, rho=rho, lr=lr, adaptive=True, asam=variant)
    method.step(x, y)
    for p, want in zip(model.parameters(), expected):
        torch.testing.assert_close(p.detach(), want, rtol=1e-5, atol=1e-6)
    if variant == "kwon":  # the biases move by the plain (unscaled) gradient direction
        assert all(ei.abs().sum() > 0 for ei in e)


def test_asam_variants_differ_and_only_kwon_changes_the_config_key():
    x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
    finals = {}
    for variant in ("davda54", "kwon"):
        model = _tiny()
        method, _ = _method(model, rho=0.5, lr=0.1, adaptive=True, asam=variant)
        method.step(x, y)
        finals[variant] = torch.cat([p.detach().flatten() for p in model.parameters()])
    assert not torch.allclose(finals["davda54"], finals["kwon"])
    old = TrainConfig(method="sam", adaptive=True).to_dict()
    old.pop("asam")  # a config stored before the option existed
    assert TrainConfig.from_dict(old).asam == "davda54"
    assert TrainConfig.from_dict(old).key() == TrainConfig(method="sam", adaptive=True, asam="davda54").key()
    assert TrainConfig(method="sam", adaptive=True, asam="kwon").key() != TrainConfig.from_dict(old).key()
    with pytest.raises(Exception, match="asam must be one of davda54, kwon"):
        TrainConfig(method="sam", adaptive=True, asam="other").validate()
    with pytest.raises(Exception, match="variant 'kwon' needs ASAM switched on"):  # not silently plain SAM
        TrainConfig(method="sam", asam="kwon").validate()
