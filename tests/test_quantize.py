"""Fake quantization: level counts, per-channel vs per-tensor scales, BN folding."""

from __future__ import annotations

import pytest
import torch

from nawt_core import quantize as Q
from nawt_core.errors import NawtError
from nawt_core.models import build_model


@pytest.mark.parametrize("bits", [2, 3, 4, 6, 8])
def test_level_count_at_k_bits(bits):
    torch.manual_seed(bits)
    w = torch.randn(8, 16, 3, 3)
    qc = Q.fake_quant(w, bits, "channel")
    qt = Q.fake_quant(w, bits, "tensor")
    assert Q.levels(bits) == 2**bits - 1
    assert torch.unique(qt).numel() <= Q.levels(bits)
    for c in range(8):
        assert torch.unique(qc[c]).numel() <= Q.levels(bits)
    if bits <= 4:  # 144 values per channel fill a small grid
        assert torch.unique(qt).numel() >= Q.levels(bits) - 2
    # symmetric: the extreme is exact, and the grid is symmetric about zero
    assert qt.abs().max() == pytest.approx(w.abs().max().item())
    # error at most half a step
    step_t = w.abs().max() / (2 ** (bits - 1) - 1)
    assert (qt - w).abs().max() <= step_t / 2 + 1e-6


def test_one_bit_is_sign_times_mean_abs():
    w = torch.tensor([[0.5, -1.0, 2.0, -0.5], [0.1, 0.1, -0.1, 0.0]])
    q = Q.fake_quant(w, 1, "channel")
    assert torch.allclose(q[0], torch.tensor([1.0, -1.0, 1.0, -1.0]))
    assert torch.allclose(q[1], torch.tensor([0.075, 0.075, -0.075, 0.075]))
    assert torch.unique(Q.fake_quant(torch.randn(100), 1, "tensor")).numel() == 2


def test_per_channel_scales_keep_small_channels_that_per_tensor_flattens():
    w = torch.randn(4, 8, 3, 3)
    w[0] *= 100  # one large channel sets the per-tensor scale
    qt = Q.fake_quant(w, 4, "tensor")
    qc = Q.fake_quant(w, 4, "channel")
    assert torch.count_nonzero(qt[1:]) == 0  # crushed to zero
    assert (qc[1:] - w[1:]).abs().max() < 0.5 * w[1:].abs().max()
    for c in range(4):  # each channel's own max is on its grid
        assert qc[c].abs().max() == pytest.approx(w[c].abs().max().item(), rel=1e-5)


def test_quantize_in_place_touches_only_conv_and_linear_weights():
    m = build_model("resnet20")
    bn_before = m.bn1.weight.clone()
    Q.quantize_(m, 3)
    assert torch.unique(m.conv1.weight[0]).numel() <= 7
    assert torch.equal(m.bn1.weight, bn_before)


def test_bn_folding_preserves_eval_outputs():
    torch.manual_seed(0)
    m = build_model("resnet20")
    for mod in m.modules():  # give BatchNorm non-trivial statistics and affine terms
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.5, 0.5)
            mod.running_var.uniform_(0.5, 2.0)
            mod.weight.data.uniform_(0.5, 1.5)
            mod.bias.data.uniform_(-0.2, 0.2)
    m.eval()
    x = torch.randn(4, 3, 32, 32)
    before = {k: v.clone() for k, v in m.state_dict().items()}
    f = Q.fold_bn(m)
    assert not any(isinstance(mod, torch.nn.BatchNorm2d) for mod in f.modules())
    with torch.no_grad():
        assert torch.allclose(f(x), m(x), atol=1e-4, rtol=1e-4)
    for k, v in m.state_dict().items():  # the original is untouched
        assert torch.equal(v, before[k])


@pytest.mark.parametrize("bits", [0, 17, -1, 2.5])
def test_bits_outside_1_16_are_rejected(bits):
    with pytest.raises(NawtError, match="1 to 16"):
        Q.check([bits])


def test_unknown_granularity_is_rejected():
    with pytest.raises(NawtError, match="granularity"):
        Q.check([8], "row")
