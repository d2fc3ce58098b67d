"""PCM inference noise: the model's equations, programming noise, drift, read noise, compensation, seeding."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.func import functional_call

from nawt_core import pcm as P
from nawt_core.errors import NawtError
from nawt_core.models import build_model, weight_params

LEVELS = [0.05, 0.2, 0.5, 0.8, 1.0]
YEAR = 365 * 86400.0


@pytest.fixture(scope="module")
def levels():
    """One 'layer' whose rows hold weights at the target conductances LEVELS (max|W| = 1: g_T = w)."""
    return torch.tensor(LEVELS).unsqueeze(1).expand(-1, 40_000).contiguous()


def test_equations_at_hand_checked_points():
    g = torch.tensor([0.0, 1e-3, 0.1, 0.5, 1.0])
    assert float(P.prog_std(torch.tensor(0.0))) == pytest.approx(0.26348 / 25, rel=1e-6)
    assert float(P.prog_std(torch.tensor(1.0))) == pytest.approx((0.26348 + 1.9650 - 1.1731) / 25, rel=1e-6)
    assert P.drift_mean(g).tolist() == pytest.approx([0.1, 0.1, -0.0155 * math.log(0.1) + 0.0244, 0.049, 0.049],
                                                     rel=1e-5)
    assert P.drift_std(g).tolist() == pytest.approx([0.045, 0.045, -0.0125 * math.log(0.1) - 0.0059, 0.008, 0.008],
                                                    rel=1e-5)
    assert P.read_q(g).tolist() == pytest.approx([0.2, 0.2, 0.0088 / 0.1**0.65, 0.0088 / 0.5**0.65, 0.0088], rel=1e-5)
    assert P.read_factor(0.0) == pytest.approx(math.sqrt(math.log((20 + 250e-9) / 500e-9)), rel=1e-12)
    assert P.read_factor(YEAR) == pytest.approx(math.sqrt(math.log((YEAR + 20 + 250e-9) / 500e-9)), rel=1e-12)


def test_programming_noise_std_against_target_conductance_is_the_polynomial(levels):
    chip = P.program([levels], seed=1)
    g = chip.g_pos[0]
    n = levels.shape[1]
    for row, level in zip(g, LEVELS):
        sigma = float(P.prog_std(torch.tensor(level)))
        assert float(row.std()) == pytest.approx(sigma, rel=0.03)  # sampling error of a std: 0.4 %
        assert abs(float(row.mean()) - level) < 5 * sigma / math.sqrt(n)
    # the device holding the (zero) negative part is programmed too, then clipped at 0: a half-normal
    sigma0 = 0.26348 / 25
    assert float(chip.g_neg[0].mean()) == pytest.approx(sigma0 / math.sqrt(2 * math.pi), rel=0.03)
    assert float((chip.g_neg[0] == 0).float().mean()) == pytest.approx(0.5, abs=0.01)


def test_drift_exponent_is_recovered_from_the_conductance_over_time(levels):
    chip = P.program([levels], seed=2)
    times = [1.0, 3600.0, 86400.0, YEAR]
    x = torch.tensor([math.log((t + P.T0) / P.T0) for t in times])
    logs = torch.stack([P.read_conductances(chip, t, seed=2, read_scale=0.0)[0][0].log() for t in times])
    xc = x - x.mean()
    slope = (xc.view(-1, 1, 1) * (logs - logs.mean(0))).sum(0) / (xc * xc).sum()  # per device
    on = chip.g_pos[0] > 0  # a device programmed to 0 (11 of 40,000 at g_T = 0.05) has no log
    assert int(on.sum()) > 0.999 * on.numel()
    assert torch.allclose(-slope[on], chip.nu_pos[0][on], atol=2e-5)
    slope = torch.where(on, slope, -chip.nu_pos[0])
    n = levels.shape[1]
    for row, level in zip(-slope, LEVELS):
        mu, sd = float(P.drift_mean(torch.tensor(level))), float(P.drift_std(torch.tensor(level)))
        assert abs(float(row.mean()) - mu) < 5 * sd / math.sqrt(n) + 1e-3 * mu  # |N(mu, sd)|: mu >> sd here
        assert float(row.std()) == pytest.approx(sd, rel=0.05)


def test_with_read_noise_the_fitted_drift_is_still_the_mean_exponent(levels):
    chip = P.program([levels], seed=3)
    times = [3600.0, 86400.0, YEAR, 10 * YEAR]
    x = torch.tensor([math.log((t + P.T0) / P.T0) for t in times])
    logs = torch.stack([P.read_conductances(chip, t, seed=3)[0][0].clamp(min=1e-9).log() for t in times])
    xc = x - x.mean()
    slope = (xc.view(-1, 1, 1) * (logs - logs.mean(0))).sum(0) / (xc * xc).sum()
    for row, nu, level in zip(-slope, chip.nu_pos[0], LEVELS):
        if level >= 0.2:
            assert float(row.mean()) == pytest.approx(float(nu.mean()), rel=0.03)


def test_read_noise_std_grows_with_log_time_as_the_formula(levels):
    chip = P.program([levels], seed=4, drift_scale=0.0)  # no drift: g(t) = g_P + read noise
    stds = []
    for t in (0.0, YEAR):
        g = P.read_conductances(chip, t, seed=4)[0][0]
        gp = chip.g_pos[0]
        z = (g - gp)[1:] / (gp * P.read_q(gp) * P.read_factor(t))[1:]  # rows 0.2 .. 1.0: far from the clip at 0
        assert float(z.std()) == pytest.approx(1.0, rel=0.02)
        assert abs(float(z.mean())) < 0.01
        stds.append(float(((g - gp) / gp)[-1].std()))
    assert stds[1] / stds[0] == pytest.approx(P.read_factor(YEAR) / P.read_factor(0.0), rel=0.03)


def test_no_drift_at_time_zero_and_the_same_chip_at_every_time(levels):
    chip = P.program([levels], seed=5)
    assert torch.equal(P.read(chip, 0.0, seed=5, read_scale=0.0)[0], P.programmed_weights(chip)[0])
    a = P.pcm_weights([levels], 3600.0, seed=5, trial=1)
    b = P.pcm_weights([levels], YEAR, seed=5, trial=1)
    chip1 = P.program([levels], seed=5, trial=1)
    assert torch.equal(a[0], P.read(chip1, 3600.0, seed=5, trial=1)[0])
    assert torch.equal(b[0], P.read(chip1, YEAR, seed=5, trial=1)[0])


class Small(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(8, 8, 3, stride=2, padding=1, bias=False)
        self.fc = nn.Linear(8 * 8 * 8, 10)

    def forward(self, x):
        x = F.relu(self.conv2(F.relu(self.conv1(x))))
        return self.fc(x.flatten(1))


@pytest.mark.parametrize("use_probes", [False, True])
def test_drift_compensation_restores_the_mean_output(use_probes):
    torch.manual_seed(0)
    model = Small().eval()
    names = [n for n, _ in weight_params(model)]
    ws = [p.detach() for _, p in weight_params(model)]
    x = torch.randn(64, 3, 16, 16)
    probes = P.layer_probes(model, x[:16], names) if use_probes else None

    @torch.no_grad()
    def mean_out(weights):
        return float(functional_call(model, dict(zip(names, weights)), (x,)).abs().mean())

    ratios = []
    for trial in range(4):  # four chips
        chip = P.program(ws, seed=6, trial=trial)
        reference = mean_out(P.programmed_weights(chip))
        raw = P.pcm_weights(ws, YEAR, seed=6, trial=trial)
        fixed = P.pcm_weights(ws, YEAR, seed=6, trial=trial, compensate=True, probes=probes)
        assert mean_out(raw) / reference < 0.6  # three layers at about (1.6e6)^-0.05 = 0.49 each (+ the digital bias)
        ratios.append(mean_out(fixed) / reference)
        # each layer's readout is back at its programmed value
        alphas = P.compensation_scales(P.programmed_weights(chip), fixed, probes)
        assert [float(a) for a in alphas] == pytest.approx([1.0] * len(ws), rel=1e-4)
    # what is left is read noise (up to 100 % of a small conductance after a year) carried into the next layer
    assert all(abs(r - 1) < 0.12 for r in ratios)
    assert sum(ratios) / len(ratios) == pytest.approx(1.0, abs=0.06)


def test_layer_probes_are_the_layers_responses_and_leave_the_model_alone():
    torch.manual_seed(1)
    model = Small().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(4, 3, 16, 16)
    probes = P.layer_probes(model, x, ["conv1.weight", "fc.weight"])
    w = torch.randn_like(model.conv1.weight)
    assert torch.allclose(probes[0](w), F.conv2d(x, w, padding=1), atol=1e-6)
    h = F.relu(model.conv2(F.relu(model.conv1(x)))).flatten(1)
    assert torch.allclose(probes[1](model.fc.weight), F.linear(h, model.fc.weight), atol=1e-5)
    assert model.training
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())


def test_resnet_weights_unchanged_same_seed_same_chip_other_trial_other_chip():
    torch.manual_seed(2)
    ws = [p.detach() for _, p in weight_params(build_model("resnet20").eval())]
    before = [w.clone() for w in ws]
    a = P.pcm_weights(ws, 86400.0, seed=1, trial=0, compensate=True)
    b = P.pcm_weights(ws, 86400.0, seed=1, trial=0, compensate=True)
    c = P.pcm_weights(ws, 86400.0, seed=1, trial=1, compensate=True)
    assert all(torch.equal(x, y) for x, y in zip(before, ws))
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not any(torch.equal(x, y) for x, y in zip(a, c))
    rel = [float((o - w).std() / w.abs().max()) for o, w in zip(a, ws)]
    assert all(0.01 < r < 0.1 for r in rel)  # a few % of max|W| a layer, a day after programming


def test_negative_time_is_refused():
    with pytest.raises(NawtError):
        P.pcm_weights([torch.ones(3, 3)], -1.0)
