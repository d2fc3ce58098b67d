"""Phase-change memory (PCM) inference noise: programming noise, conductance drift, read noise.

The statistical PCM model of Nandakumar et al. (ICECS 2019, "Phase-change
memory models for deep learning training and inference") and Joshi et al.
(Nat. Commun. 11, 2473, 2020), fitted on a million IBM PCM devices, with the
equations and constants of IBM aihwkit: its ``PCMLikeNoiseModel``
(src/aihwkit/inference/noise/pcm.py), ``SinglePairConductanceConverter`` and
``GlobalDriftCompensation``, and its documentation page "Inference and PCM
statistical model" (docs/source/pcm_inference.rst), as read at aihwkit commit
4545f11b. nawt's own code; no aihwkit import.

Conductances are in units of g_max (aihwkit's default g_max is 25 µS; its
programming-noise polynomial is in µS at g_max = 25 µS and scaled by
g_max / 25 µS, so in units of g_max the model is the same at every g_max).

1. Mapping, one scale per layer: beta = 1 / max|W|; each weight on a
   differential pair, g+ = max(beta*w, 0), g- = max(-beta*w, 0): targets g_T in [0, 1].
2. Programming, once per chip (both devices of a pair, the one at 0 too):
       g_P = max(g_T + sigma_P(g_T) * N(0, 1), 0)
       sigma_P(g) = (0.26348 + 1.9650 g - 1.1731 g^2) / 25
3. Drift exponent, once per device:
       nu = |mu_nu + sigma_nu * N(0, 1)|
       mu_nu    = clip(-0.0155 ln g_T + 0.0244, 0.049, 0.1)
       sigma_nu = clip(-0.0125 ln g_T - 0.0059, 0.008, 0.045)      (g_T clipped below at 1e-7)
4. Read at t_inf seconds after programming ends (t = t_inf + t_0, t_0 = 20 s):
       g_D(t)   = g_P * (t / t_0)^(-nu)                 (no drift at t_inf = 0)
       g(t)     = max(g_D(t) + g_D(t) * Q_s(g_P) * sqrt(ln((t + t_read) / (2 t_read))) * N(0, 1), 0)
       Q_s(g)   = min(0.0088 / max(g^0.65, 1e-3), 0.2),  t_read = 250 ns
   (1/f read noise: its std grows with log t; Q_s takes the programmed
   conductance as aihwkit's code does, where the documentation writes g_T.)
5. Back to weights: W(t) = (g+(t) - g-(t)) / beta.
6. Global drift compensation (optional; aihwkit's GlobalDriftCompensation):
   one scale per layer, alpha = readout(W_P) / readout(W(t)), applied to the
   layer's output (the same as scaling its weights), where W_P are the
   programmed weights before any drift or read noise (aihwkit's baseline) and
   readout(W) = mean |layer response to a fixed probe|. aihwkit's probe is the
   one-hot inputs (its ``get_readout_tensor``: an identity matrix), whose
   response is W itself: readout = mean|W| (``probes=None`` here). ``layer_probes``
   gives instead each layer's input on a fixed batch of images (the network's
   response to a fixed probe input), computed once from a model forward.

A trial is one programmed chip, observed at every time of a sweep: the
programming noise and the drift exponents come from a generator seeded from
(seed, trial) alone, the read noise from (seed, time, trial). So accuracy over
time follows one chip's drift, as in aihwkit's program-once-then-drift flow.

One difference from aihwkit's tile flow: aihwkit re-maps the programmed weight
to a fresh pair before drifting it (the device at 0 then stays at 0); nawt
keeps both programmed devices, each drifting with its own nu and reading with
its own noise, as the per-device model of ``BaseNoiseModel.apply_noise`` does.
The difference is of the order of sigma_P(0) = 0.011 g_max.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from .faults import normal, stress_generator
from .stressspec import check_times
from .stress import WeightStress

PROG_COEFF = (0.26348, 1.9650, -1.1731)  # sigma_P polynomial in g_T / g_max, in µS at g_max = 25 µS
PROG_COEFF_G_MAX_US = 25.0
T0 = 20.0  # s: the drift's reference time (the first read after programming)
T_READ = 250e-9  # s: the width of a read pulse (the 1/f noise integration's lower bound)
G_FLOOR = 1e-7  # g_T below this counts as this for the drift exponent (log of 0)

Probe = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class Chip:
    """One programmed copy of a list of weight tensors (conductances in units of g_max)."""

    g_pos: list[torch.Tensor]  # programmed conductance of the device holding the positive part
    g_neg: list[torch.Tensor]
    nu_pos: list[torch.Tensor]  # drift exponents, one per device
    nu_neg: list[torch.Tensor]
    beta: list[torch.Tensor]  # per layer: conductance per unit weight, 1 / max|W|
    dtype: torch.dtype


# ------------------------------------------------------------ the model's equations
def prog_std(g_target: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """sigma_P: the programming noise std at target conductance ``g_target`` (units of g_max)."""
    c0, c1, c2 = PROG_COEFF
    return scale * (c0 + c1 * g_target + c2 * g_target * g_target) / PROG_COEFF_G_MAX_US


def drift_mean(g_target: torch.Tensor) -> torch.Tensor:
    """mu_nu: the mean drift exponent at ``g_target``."""
    return (-0.0155 * torch.log(g_target.clamp(min=G_FLOOR)) + 0.0244).clamp(0.049, 0.1)


def drift_std(g_target: torch.Tensor) -> torch.Tensor:
    """sigma_nu: the device-to-device std of the drift exponent at ``g_target``."""
    return (-0.0125 * torch.log(g_target.clamp(min=G_FLOOR)) - 0.0059).clamp(0.008, 0.045)


def read_q(g_prog: torch.Tensor) -> torch.Tensor:
    """Q_s: the 1/f noise amplitude at programmed conductance ``g_prog``."""
    return (0.0088 / g_prog.clamp(min=0).pow(0.65).clamp(min=1e-3)).clamp(max=0.2)


def read_factor(t_inference: float) -> float:
    """sqrt(ln((t + t_read) / (2 t_read))) at t = t_inference + t_0."""
    t = t_inference + T0
    return math.sqrt(math.log((t + T_READ) / (2 * T_READ)))


def drift_factor_log(t_inference: float) -> float:
    """ln(t / t_0): g_D = g_P * exp(-nu * this); 0 at t_inference = 0."""
    return math.log((t_inference + T0) / T0) if t_inference > 0 else 0.0


# ------------------------------------------------------------ weights <-> devices
def targets(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(g+, g-, beta): the differential pair's target conductances and the layer's scale."""
    top = w.detach().abs().max().float()
    beta = torch.where(top > 0, 1.0 / top, torch.ones_like(top))
    g = w.detach().float() * beta
    return g.clamp(min=0, max=1), (-g).clamp(min=0, max=1), beta


@torch.no_grad()
def program(weights: Sequence[torch.Tensor], *, seed: int = 0, trial: int = 0, prog_scale: float = 1.0,
            drift_scale: float = 1.0) -> Chip:
    """Programs ``weights`` onto PCM pairs: programming noise and per-device drift
    exponents, seeded from (seed, trial). ``prog_scale``/``drift_scale`` scale sigma_P
    and nu (aihwkit's prog_noise_scale and drift_scale; 1 is the fitted model)."""
    gen = stress_generator("pcm-program", seed, 0.0, trial)
    chip = Chip([], [], [], [], [], weights[0].dtype if weights else torch.float32)
    for w in weights:
        g_pos, g_neg, beta = targets(w)
        z = normal((4, *w.shape), gen, w.device)
        for g, zp, zn, gs, nus in ((g_pos, z[0], z[2], chip.g_pos, chip.nu_pos),
                                   (g_neg, z[1], z[3], chip.g_neg, chip.nu_neg)):
            gs.append((g + prog_std(g, prog_scale) * zp).clamp_(min=0))
            nus.append((drift_mean(g) + drift_std(g) * zn).abs_().mul_(drift_scale))
        chip.beta.append(beta)
    return chip


def _to_weights(chip: Chip, g_pos: list[torch.Tensor], g_neg: list[torch.Tensor]) -> list[torch.Tensor]:
    return [((gp - gn) / b).to(chip.dtype) for gp, gn, b in zip(g_pos, g_neg, chip.beta)]


def programmed_weights(chip: Chip) -> list[torch.Tensor]:
    """W_P: the weights right after programming, before drift and read noise (compensation's baseline)."""
    return _to_weights(chip, chip.g_pos, chip.g_neg)


def drifted(g_prog: torch.Tensor, nu: torch.Tensor, t_inference: float) -> torch.Tensor:
    """g_D(t): the programmed conductance after drifting until ``t_inference``."""
    log_t = drift_factor_log(t_inference)
    return g_prog * torch.exp(-log_t * nu) if log_t else g_prog.clone()


@torch.no_grad()
def read_conductances(chip: Chip, t_inference: float, *, seed: int = 0, trial: int = 0,
                      read_scale: float = 1.0) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """(g+(t), g-(t)) per layer: drift, then 1/f read noise seeded from (seed, t, trial)."""
    check_times([t_inference])
    gen = stress_generator("pcm-read", seed, t_inference, trial)
    factor = read_scale * read_factor(t_inference)
    out_pos, out_neg = [], []
    for gp, gn, nup, nun in zip(chip.g_pos, chip.g_neg, chip.nu_pos, chip.nu_neg):
        z = normal((2, *gp.shape), gen, gp.device)
        for g, nu, zz, out in ((gp, nup, z[0], out_pos), (gn, nun, z[1], out_neg)):
            gd = drifted(g, nu, t_inference)
            out.append(gd.addcmul_(gd * read_q(g), zz, value=factor).clamp_(min=0))
    return out_pos, out_neg


def read(chip: Chip, t_inference: float, *, seed: int = 0, trial: int = 0, read_scale: float = 1.0
         ) -> list[torch.Tensor]:
    """W(t): the chip's weights read at ``t_inference`` seconds after programming."""
    return _to_weights(chip, *read_conductances(chip, t_inference, seed=seed, trial=trial, read_scale=read_scale))


# ------------------------------------------------------------ drift compensation
def readout(w: torch.Tensor, probe: Probe | None = None) -> torch.Tensor:
    """mean |response of the layer with weights ``w`` to its probe| (0-d); ``probe`` None:
    the one-hot inputs, whose response is ``w`` itself (aihwkit's readout tensor)."""
    return (w if probe is None else probe(w)).abs().float().mean()


def compensation_scales(reference: Sequence[torch.Tensor], current: Sequence[torch.Tensor],
                        probes: Sequence[Probe] | None = None) -> list[torch.Tensor]:
    """alpha per layer (0-d tensors): readout(reference) / readout(current), 1 where the current readout is 0."""
    probes = probes if probes is not None else [None] * len(reference)
    out = []
    for ref, cur, probe in zip(reference, current, probes):
        r, c = readout(ref, probe), readout(cur, probe)
        out.append(torch.where(c > 0, r / c.clamp(min=torch.finfo(c.dtype).tiny), torch.ones_like(c)))
    return out


@torch.no_grad()
def layer_probes(model: nn.Module, x: torch.Tensor, names: Sequence[str]) -> list[Probe]:
    """For each weight named in ``names`` (conv or linear ``<module>.weight``), a function
    weight -> that layer's output (no bias) on the input it receives when the model in
    eval mode runs ``x``: the fixed probe of a drift compensation. One forward pass."""
    modules = dict(model.named_modules())
    layers = [modules[n.rpartition(".")[0]] for n in names]
    seen: dict[int, torch.Tensor] = {}

    def keep(i):
        def hook(module, inp, out):  # returns None: the output stays as it is
            seen.setdefault(i, inp[0].detach())
        return hook

    hooks = [m.register_forward_hook(keep(i)) for i, m in enumerate(layers)]
    was_training = model.training
    try:
        model.eval()
        model(x)
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    probes: list[Probe] = []
    for i, m in enumerate(layers):
        if isinstance(m, nn.modules.conv._ConvNd):
            probes.append(lambda w, m=m, inp=seen[i]: m._conv_forward(inp, w, None))
        elif isinstance(m, nn.Linear):
            probes.append(lambda w, inp=seen[i]: F.linear(inp, w))
        else:
            raise TypeError(f"{names[i]}: drift compensation probes conv and linear layers only")
    return probes


# ------------------------------------------------------------ the stress
@torch.no_grad()
def pcm_weights(weights: Sequence[torch.Tensor], t_inference: float, *, seed: int = 0, trial: int = 0,
                compensate: bool = True, probes: Sequence[Probe] | None = None) -> list[torch.Tensor]:
    """New tensors: ``weights`` programmed onto PCM (chip ``trial``) and read ``t_inference``
    seconds later; with ``compensate`` (the default, as aihwkit's InferenceRPUConfig), each
    layer scaled by its global drift compensation alpha (probes None: aihwkit's one-hot
    readout; else ``layer_probes``). ``weights`` are not changed."""
    check_times([t_inference])
    chip = program(weights, seed=seed, trial=trial)
    now = read(chip, t_inference, seed=seed, trial=trial)
    if compensate:
        alphas = compensation_scales(programmed_weights(chip), now, probes)
        now = [w.mul_(a.to(w.dtype)) for w, a in zip(now, alphas)]
    return now



class PCMNoise(WeightStress):
    """The pcm evaluation (nawt_core/evals/pcm.py): chip ``trial`` programmed, read ``value`` seconds later."""

    def perturb(self, weights, value, trial):
        return pcm_weights(weights, value, seed=self.seed, trial=trial, compensate=self.config["drift"] == "compensated")


__all__ = ["PCMNoise", "Chip", "PROG_COEFF", "T0", "T_READ", "compensation_scales", "drift_mean", "drift_std", "layer_probes",
           "pcm_weights", "prog_std", "program", "programmed_weights", "read", "read_conductances", "read_factor",
           "read_q", "readout"]
