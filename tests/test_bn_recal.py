"""BatchNorm recalibration: the statistics torch's update_bn computes, everything else restored, no host reads."""

from __future__ import annotations

import copy

import pytest
import torch
from test_sync import host_syncs
from torch.optim.swa_utils import update_bn

from nawt_core import bn_recal as R
from nawt_core.errors import NawtError
from nawt_core.models import build_model, weight_params
from nawt_core.stuck import stuck_weights


@pytest.fixture(scope="module")
def stressed():
    """A ResNet-20 with running statistics of its own, 5 % of its weights stuck at +-max, and 4 batches."""
    torch.manual_seed(0)
    model = build_model("resnet20")
    with torch.no_grad():
        for _, m in R.batchnorms(model):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
            m.num_batches_tracked.fill_(1234)
        ws = [p for _, p in weight_params(model)]
        for w, s in zip(ws, stuck_weights(ws, 0.05, value="max", seed=1)):
            w.copy_(s)
    batches = [torch.randn(16, 3, 32, 32) for _ in range(4)]
    return model.eval(), batches


def stats(model):
    return {k: v.clone() for k, v in model.state_dict().items() if k.endswith(("running_mean", "running_var"))}


def test_statistics_are_those_of_torchs_update_bn(stressed):
    model, batches = stressed
    ours = R.recalibrate_bn(copy.deepcopy(model), batches, 3)
    ref = copy.deepcopy(model)
    update_bn([(b,) for b in batches[:3]], ref)  # momentum None: the plain average over the batches
    got, want = stats(ours), stats(ref)
    assert got.keys() == want.keys() and len(got) == 2 * 19
    for k in got:
        assert torch.allclose(got[k], want[k], rtol=1e-5, atol=1e-6), k
    assert not torch.allclose(got["bn1.running_var"], stats(model)["bn1.running_var"])  # it did change them


def test_the_first_batchnorm_gets_the_mean_of_its_batch_statistics(stressed):
    model, batches = stressed
    out = R.recalibrate_bn(copy.deepcopy(model), batches, 4)
    with torch.no_grad():
        acts = [model.conv1(b) for b in batches]
    means = torch.stack([a.mean((0, 2, 3)) for a in acts]).mean(0)
    variances = torch.stack([a.var((0, 2, 3), unbiased=True) for a in acts]).mean(0)
    assert torch.allclose(out.bn1.running_mean, means, atol=1e-6)
    assert torch.allclose(out.bn1.running_var, variances, rtol=1e-5)


def test_everything_but_the_statistics_is_restored(stressed):
    model, batches = stressed
    m = copy.deepcopy(model).train()
    m.layers[0].eval()  # a mixed state comes back as it was
    modes = [x.training for x in m.modules()]
    before = m.state_dict()
    before = {k: v.clone() for k, v in before.items()}
    R.recalibrate_bn(m, [(b, torch.zeros(16)) for b in batches], 2)  # (x, y) pairs are fine
    assert [x.training for x in m.modules()] == modes
    assert all(bn.momentum == 0.1 for _, bn in R.batchnorms(m))
    after = m.state_dict()
    for k, v in before.items():
        if k.endswith(("running_mean", "running_var")):
            continue
        assert torch.equal(v, after[k]), k  # parameters and num_batches_tracked untouched


def test_bn_statistics_for_other_weights_leaves_the_model_alone(stressed):
    model, batches = stressed
    before = {k: v.clone() for k, v in model.state_dict().items()}
    names = [n for n, _ in weight_params(model)]
    other = stuck_weights([p.detach() for _, p in weight_params(model)], 0.01, value="zero", seed=2)
    got = R.bn_statistics(model, dict(zip(names, other)), batches, 2)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    ref = copy.deepcopy(model)
    with torch.no_grad():
        for (_, p), w in zip(weight_params(ref), other):
            p.copy_(w)
    want = stats(R.recalibrate_bn(ref, batches, 2))
    assert got.keys() == want.keys()
    assert all(torch.equal(got[k], want[k]) for k in got)


def test_zero_batches_is_a_no_op_and_too_few_batches_are_refused(stressed):
    model, batches = stressed
    m = copy.deepcopy(model)
    R.recalibrate_bn(m, batches, 0)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in m.state_dict().items())
    with pytest.raises(NawtError, match="asked for 5 training batches but got 4"):
        R.recalibrate_bn(m, batches, 5)
    with pytest.raises(NawtError):
        R.recalibrate_bn(m, batches, -1)


def test_recalibration_reads_nothing_back_per_batch(stressed):
    model, batches = stressed
    m = copy.deepcopy(model)
    with host_syncs() as seen:
        R.recalibrate_bn(m, batches, 4)
    assert seen == []
