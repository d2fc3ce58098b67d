"""Sharpness: Hutchinson trace and power iteration against known and dense Hessians; the model untouched."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from test_sync import host_syncs

from nawt_core import sharpness as S
from nawt_core.faults import stress_generator
from nawt_core.models import weight_params


def half_squared_error(out, y):
    return 0.5 * ((out.squeeze(-1) - y) ** 2).sum()


def quadratic(spectrum: list[float], n: int = 64, seed: int = 0):
    """A linear model and data whose mean loss 0.5 (x.w - y)^2 has Hessian diag(spectrum) exactly:
    the inputs' columns are orthogonal with squared norms n * spectrum."""
    gen = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(n, len(spectrum), generator=gen, dtype=torch.float64))
    x = (q * torch.tensor(spectrum, dtype=torch.float64).sqrt() * n**0.5).float()
    y = torch.randn(n, generator=gen)
    model = nn.Linear(len(spectrum), 1, bias=False)
    return model, x, y


def test_quadratic_with_known_hessian_trace_and_top_eigenvalue():
    spectrum = [10.0, 5.0, 4.0, 3.0] + [0.5] * 36
    model, x, y = quadratic(spectrum)
    r = S.sharpness(model, x, y, probes=8, iters=20, batch_size=16, loss_fn=half_squared_error)
    # Rademacher probes are exact on a diagonal Hessian: v^T H v = sum_i H_ii
    assert r.trace == pytest.approx(sum(spectrum), rel=1e-3)
    assert max(r.trace_samples) - min(r.trace_samples) < 1e-3 * sum(spectrum)
    # eigenvalue gap 5 / 10: 20 iterations converge far below 1e-3
    assert r.top_eigenvalue == pytest.approx(10.0, rel=1e-3)
    assert r.eig_rel_change < 1e-3 and r.iters == 20 and len(r.eig_history) == 20
    assert r.params == 40 and r.samples == 64 and r.probes == 8


def test_hutchinson_spread_on_a_dense_quadratic_is_the_theoretical_one():
    gen = torch.Generator().manual_seed(1)
    a = torch.randn(30, 30, generator=gen, dtype=torch.float64)
    h = (a @ a.T / 30).float()
    hvp = lambda vs: [[h @ v[0]] for v in vs]
    probes = 4000
    trace, se, samples = S.hutchinson(hvp, [torch.zeros(30)], probes, torch.Generator().manual_seed(2), chunk=500)
    off = h - torch.diag(torch.diag(h))
    theory = (2 * (off**2).sum() / probes).sqrt()  # Var(v^T H v) = 2 sum_{i != j} H_ij^2 for Rademacher v
    assert float(se) == pytest.approx(float(theory), rel=0.1)
    assert abs(float(trace) - float(h.trace())) < 4 * float(theory)
    eig, change, _ = S.power_iteration(lambda vs: [[h @ v[0]] for v in vs], [torch.zeros(30)], 300,
                                       torch.Generator().manual_seed(3))
    assert float(eig) == pytest.approx(float(torch.linalg.eigvalsh(h.double()).max()), rel=1e-3)


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(3)
        self.fc = nn.Linear(3 * 4 * 4, 4)

    def forward(self, x):
        return self.fc(F.relu(self.bn(self.conv(x))).flatten(1))


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    model = Tiny()
    with torch.no_grad():  # BatchNorm with running statistics of its own: eval mode must use them
        model.bn.running_mean.uniform_(-0.5, 0.5)
        model.bn.running_var.uniform_(0.5, 2.0)
        model.bn.weight.uniform_(0.5, 1.5)
    x = torch.randn(24, 2, 4, 4)
    y = torch.randint(0, 4, (24,))
    return model.train(), x, y  # left in training mode: sharpness must use eval mode and restore it


def dense_hessian(model, x, y):
    """The mean cross-entropy's Hessian over the conv and linear weights, by torch.autograd.functional."""
    names = [n for n, _ in weight_params(model)]
    shapes = [p.shape for _, p in weight_params(model)]
    flat0 = torch.cat([p.detach().flatten() for _, p in weight_params(model)])
    fixed = {k: v.detach() for k, v in {**dict(model.named_parameters()), **dict(model.named_buffers())}.items()}

    def loss(flat):
        parts = flat.split([s.numel() for s in shapes])
        ws = {n: p.view(s) for n, p, s in zip(names, parts, shapes)}
        return F.cross_entropy(torch.func.functional_call(model.eval(), {**fixed, **ws}, (x,)), y)

    h = torch.autograd.functional.hessian(loss, flat0)
    model.train()
    return h


def test_hessian_vector_products_match_the_dense_hessian(tiny):
    model, x, y = tiny
    h = dense_hessian(model, x, y)
    for batch_size in (24, 5):  # the mean over the subset, however it is batched
        hvp = S.LossHessian(model, x, y, batch_size=batch_size)
        vs = [[torch.randn_like(w) for w in hvp.weights] for _ in range(3)]
        for v, hv in zip(vs, hvp(vs)):
            expected = h @ torch.cat([t.flatten() for t in v])
            assert torch.allclose(torch.cat([t.flatten() for t in hv]), expected, rtol=1e-4, atol=1e-6)


def test_tiny_network_trace_and_top_eigenvalue_against_the_dense_hessian(tiny):
    model, x, y = tiny
    h = dense_hessian(model, x, y).double()
    eigs = torch.linalg.eigvalsh(h)
    top = eigs[eigs.abs().argmax()]
    r = S.sharpness(model, x, y, probes=400, iters=300, seed=3, batch_size=7)
    assert r.top_eigenvalue == pytest.approx(float(top), rel=1e-3)
    # the Hutchinson samples are exactly v^T H v of the probes the seed draws
    gen = stress_generator("sharpness-trace", 3, 0.0, 0)
    like = [p.detach() for _, p in weight_params(model)]
    for got in r.trace_samples[:32]:
        v = torch.cat([t.flatten() for t in S.rademacher(like, gen)]).double()
        assert got == pytest.approx(float(v @ h @ v), rel=1e-4, abs=1e-6)
    assert abs(r.trace - float(h.trace())) < 4 * r.trace_se
    assert r.trace_se == pytest.approx(float(torch.tensor(r.trace_samples).std() / 400**0.5), rel=1e-5)
    with torch.no_grad():
        assert r.loss == pytest.approx(float(F.cross_entropy(model.eval()(x), y)), rel=1e-5)
    model.train()


def test_the_model_is_left_exactly_as_it_was(tiny):
    model, x, y = tiny
    before = {k: v.clone() for k, v in model.state_dict().items()}
    grads = [p.requires_grad for p in model.parameters()]
    S.sharpness(model, x, y, probes=3, iters=3)
    assert model.training and all(m.training for m in model.modules())
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    assert [p.requires_grad for p in model.parameters()] == grads
    assert all(p.grad is None for p in model.parameters())


def test_same_seed_same_estimate_other_seed_other_probes(tiny):
    model, x, y = tiny
    a = S.sharpness(model, x, y, probes=4, iters=4, seed=1)
    b = S.sharpness(model, x, y, probes=4, iters=4, seed=1)
    c = S.sharpness(model, x, y, probes=4, iters=4, seed=2)
    assert a == b
    assert a.trace_samples != c.trace_samples


def test_all_targets_include_batchnorm_and_biases(tiny):
    model, x, y = tiny
    w = S.sharpness(model, x, y, probes=2, iters=2)
    a = S.sharpness(model, x, y, probes=2, iters=2, targets="all")
    assert w.params == 2 * 3 * 9 + 48 * 4 and a.params == w.params + 3 + 3 + 4


def test_hessian_vector_products_read_nothing_back_per_batch(tiny):
    model, x, y = tiny
    hvp = S.LossHessian(model, x, y, batch_size=4)
    vs = [[torch.randn_like(w) for w in hvp.weights]]
    with host_syncs() as seen:
        hvp(vs)
        S.power_iteration(hvp, hvp.weights, 3, torch.Generator().manual_seed(0))
    assert seen == []


def test_eval_copy_computes_what_the_model_computes_in_eval_mode(tiny):
    model, x, _ = tiny
    net = S.eval_copy(model)
    assert any(isinstance(m, S.EvalBatchNorm) for m in net.modules())
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
    with torch.no_grad():
        assert torch.allclose(net(x), model.eval()(x), rtol=1e-5, atol=1e-6)
    model.train()


def test_bf16_autocast_products_are_close_to_fp32_but_not_the_same(tiny):
    model, x, y = tiny
    h32 = S.LossHessian(model, x, y)
    h16 = S.LossHessian(model, x, y, autocast_dtype=torch.bfloat16)
    v = [[torch.randn_like(w) for w in h32.weights]]
    a = torch.cat([t.flatten() for t in h32(v)[0]])
    b = torch.cat([t.flatten() for t in h16(v)[0]])
    assert not torch.equal(a, b)
    assert float((a - b).norm() / a.norm()) < 0.05


def test_kept_graphs_give_the_rebuilt_products_and_are_built_once(tiny):
    model, x, y = tiny
    kept = S.LossHessian(model, x, y, batch_size=5, keep_graphs=True)
    rebuilt = S.LossHessian(model, x, y, batch_size=5, keep_graphs=False)
    forwards = []
    for m in kept.models:  # one model per shard
        m.register_forward_hook(lambda *_: forwards.append(1))
    vs = [[torch.randn_like(w) for w in kept.weights] for _ in range(2)]
    for _ in range(3):  # as power iteration calls it
        for a, b in zip(kept(vs), rebuilt(vs)):
            assert all(torch.allclose(p, q, rtol=1e-6, atol=1e-7) for p, q in zip(a, b))
    assert len(forwards) == -(-x.shape[0] // 5)  # one forward per batch, for all three calls
    assert torch.equal(kept.loss, rebuilt.loss)


@pytest.mark.parametrize("keep", [True, False])
def test_shards_give_the_products_of_one_and_restore_the_threads(tiny, keep):
    """Batches split over threads (one torch thread each) sum to the same products and loss; the
    caller's thread count is back afterwards; uneven shards (3 batches over 2) are fine."""
    model, x, y = tiny
    before = [p.detach().clone() for p in model.parameters()]
    threads = torch.get_num_threads()
    one = S.LossHessian(model, x, y, batch_size=x.shape[0] // 3 + 1, keep_graphs=keep, shards=1)
    two = S.LossHessian(model, x, y, batch_size=x.shape[0] // 3 + 1, keep_graphs=keep, shards=2)
    assert [len(s) for s in two.shards] == [2, 1] and len({id(m) for m in two.models}) == 2
    vs = [[torch.randn_like(w) for w in one.weights] for _ in range(3)]
    for _ in range(2):
        for a, b in zip(one(vs), two(vs)):
            assert all(torch.allclose(p, q, rtol=1e-5, atol=1e-6) for p, q in zip(a, b))
        assert torch.get_num_threads() == threads
    assert torch.allclose(one.loss, two.loss, rtol=1e-6)
    assert all(torch.equal(p, q) for p, q in zip(before, model.parameters()))
    r1 = S.sharpness(model, x, y, probes=4, iters=3, shards=1)
    r2 = S.sharpness(model, x, y, probes=4, iters=3, shards=2)
    assert r1.trace == pytest.approx(r2.trace, rel=1e-5) and r1.top_eigenvalue == pytest.approx(r2.top_eigenvalue, rel=1e-5)


def test_large_subsets_rebuild_their_graphs(tiny):
    model, x, y = tiny
    assert S.LossHessian(model, x, y).keep
    n = S.KEEP_GRAPHS_MAX + 1
    assert not S.LossHessian(model, x[:1].expand(n, *x.shape[1:]), y[:1].expand(n)).keep


class Convs(nn.Module):
    """Convolutions of every kind HessianConv2d handles: a bias, stride 2 (odd input: the transposed
    shape needs output padding), groups, dilation, and a second conv whose input needs a gradient."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(2, 4, 3, stride=2, padding=1, bias=True)
        self.b = nn.Conv2d(4, 4, 3, padding=2, dilation=2, groups=2, bias=False)
        self.fc = nn.Linear(4 * 4 * 4, 3)

    def forward(self, x):
        return self.fc(torch.tanh(self.b(F.relu(self.a(x)))).flatten(1))


@pytest.mark.parametrize("amp", [None, torch.bfloat16])
def test_fast_convolutions_give_pytorchs_own_hessian_vector_products(amp):
    torch.manual_seed(1)
    model, x, y = Convs(), torch.randn(6, 2, 7, 7), torch.randint(0, 3, (6,))
    fast = S.LossHessian(model, x, y, targets="all", autocast_dtype=amp)
    own = S.LossHessian(model, x, y, targets="all", autocast_dtype=amp, fast_conv=False)
    assert sum(isinstance(m, S.HessianConv2d) for m in fast.model.modules()) == 2
    assert not any(isinstance(m, S.HessianConv2d) for m in own.model.modules())
    vs = [[torch.randn_like(w) for w in fast.weights] for _ in range(2)]
    for a, b in zip(fast(vs), own(vs)):
        a, b = torch.cat([t.flatten() for t in a]), torch.cat([t.flatten() for t in b])
        # fp32: rounding only; bf16: the same casts, other summation orders
        assert float((a - b).norm() / b.norm()) < (1e-5 if amp is None else 2e-2)
    assert torch.equal(fast.loss, own.loss) or amp is not None
