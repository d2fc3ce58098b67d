"""Training methods: one small torch class each behind one interface, tied by
CLI name to its torch-free description in spec.py (label, colour, options, rho
schedule). ``register_method(spec, impl)`` registers both, for plugins too.

    step(x, y) -> (loss, correct)   one optimisation step; both are 0-d device
                                    tensors, so the caller decides when to sync
    on_epoch_start(epoch) / on_epoch_end(epoch)
    rho                             the SAM neighbourhood in use (None if not SAM),
                                    set per epoch from the spec's schedule

Weight arithmetic uses ``torch._foreach_*`` so that SAM's perturb/restore is a
handful of kernel launches rather than one per parameter.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import spec
from .config import TrainConfig
from .errors import NawtError
from .models import weight_params


def register_method(method_spec: spec.MethodSpec, impl: type["Method"]) -> spec.MethodSpec:
    """The public hook (spec.register_method): the method's description and its torch class."""
    return spec.register_method(method_spec, impl)


def register(cls):
    """A built-in class, tied to the spec of the same name in spec.py."""
    spec.register_method(spec.method(cls.name), cls)
    return cls


class Method:
    name = ""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, cfg: TrainConfig, *,
                 gen: torch.Generator, autocast_dtype: torch.dtype | None = None, forward=None):
        self.model = model
        self.forward_fn = model if forward is None else forward  # a torch.compile wrapper with --compile
        self.opt = optimizer
        self.cfg = cfg
        self.gen = gen  # the method's own RNG (noise), saved in checkpoints
        self.device = next(model.parameters()).device
        self.autocast_dtype = autocast_dtype
        self.spec = spec.method(cfg.method)
        self.rho: float | None = None

    def autocast(self):
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def forward_loss(self, x, y):
        with self.autocast():
            out = self.forward_fn(x)
            loss = F.cross_entropy(out, y)
        return out, loss

    def plain_step(self, x, y):
        out, loss = self.forward_loss(x, y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return loss.detach(), (out.argmax(1) == y).sum()

    def step(self, x, y):
        return self.plain_step(x, y)

    def on_epoch_start(self, epoch: int) -> None:
        self.rho = self.spec.rho_at(self.cfg, epoch)

    def on_epoch_end(self, epoch: int) -> None:
        pass

    def changes_at_end(self, epoch: int) -> bool:
        """on_epoch_end(epoch) changes the weights (the spec says when): the runner then
        evaluates the trained weights before it as well as after."""
        return self.spec.changes_at_end(self.cfg, epoch)


@register
class Standard(Method):
    """SGD with momentum: the baseline."""

    name = "standard"


@register
class NaiveNoise(Method):
    """The poster's method, kept faithful: after every epoch, Gaussian noise
    ``w += sigma * N(0, 1)`` is added to the stored conv/linear weights; after
    the last one too unless ``noise_last_epoch`` is off (spec.py says when)."""

    name = "naive-noise"

    @torch.no_grad()
    def on_epoch_end(self, epoch: int) -> None:
        if not self.changes_at_end(epoch):
            return
        for _, w in weight_params(self.model):
            w.add_(torch.randn(w.shape, generator=self.gen, device=w.device), alpha=self.cfg.noise_sigma)


@register
class NoiseInjection(Method):
    """Hardware-aware noise injection (Joshi et al. 2020): every mini-batch draws
    fresh noise with std ``eta * max|W_l|`` per layer; forward and backward run on
    the noisy weights and the update is applied to the clean ones."""

    name = "noise-injection"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.weights = [w for _, w in weight_params(self.model)]
        # buffers allocated once: a step copies into them instead of cloning
        self.clean = [torch.empty_like(w) for w in self.weights]
        self.noise = [torch.empty_like(w) for w in self.weights]

    def step(self, x, y):
        with torch.no_grad():
            torch._foreach_copy_(self.clean, self.weights)
            amax = torch._foreach_norm(self.weights, float("inf"))
            for z in self.noise:  # one draw per layer, in the order (and stream) torch.randn would use
                z.normal_(generator=self.gen)
            torch._foreach_mul_(amax, self.cfg.noise_eta)
            torch._foreach_mul_(self.noise, amax)
            torch._foreach_add_(self.weights, self.noise)
        out, loss = self.forward_loss(x, y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        with torch.no_grad():
            torch._foreach_copy_(self.weights, self.clean)  # exact restore, then the clean update
        self.opt.step()
        return loss.detach(), (out.argmax(1) == y).sum()


@contextlib.contextmanager
def frozen_bn_stats(model: nn.Module):
    """BatchNorm still normalises with batch statistics, but its running
    statistics stay put (momentum 0): SAM's extra passes must not count twice."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in bns]
    for m in bns:
        m.momentum = 0.0
    try:
        yield
    finally:
        for m, mom in zip(bns, saved):
            m.momentum = mom


ASAM_ETA = 0.01  # Kwon et al.'s eta: keeps T = |w| + eta from vanishing at w = 0


@register
class SAM(Method):
    """Sharpness-aware minimisation (Foret et al. 2021): ascend to
    ``w + rho * g / ||g||``, take the gradient there, restore w, step.
    ``adaptive`` gives ASAM, ``e = rho * T^2 g / ||T g||`` with T diagonal, in one of two variants:
    ``davda54`` (the widely used SAM repository's): T = |w| for every parameter;
    ``kwon`` (the authors', Kwon et al. 2021): T = |w| + eta for parameters named
    ``weight`` (conv, linear and BatchNorm scales, as their code selects them), T = 1
    for the rest (biases).
    With ``ascent_steps`` k > 1 the ascent is k normalised steps of rho / k each."""

    name = "sam"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        named = [(n, p) for n, p in self.model.named_parameters() if p.requires_grad]
        self.params = [p for _, p in named]
        self.rho = self.cfg.rho
        kwon = getattr(self.cfg, "asam", "davda54") == "kwon"
        self.eta = ASAM_ETA if kwon else 0.0
        # the parameters ASAM scales by T (kwon: those named weight; davda54: all)
        self.scaled = {id(p) for n, p in named if not kwon or n.rsplit(".", 1)[-1] == "weight"}

    @torch.no_grad()
    def _ascent(self, radius: float) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Moves the weights by one normalised ascent step; returns (the moved parameters, the step)."""
        params = [p for p in self.params if p.grad is not None]
        if self.cfg.adaptive:
            scaled = [p for p in params if id(p) in self.scaled]
            rest = [p for p in params if id(p) not in self.scaled]  # T = 1
            t = torch._foreach_abs(scaled)
            if self.eta:
                torch._foreach_add_(t, self.eta)
            tg = list(torch._foreach_mul([p.grad for p in scaled], t))
            plain = [p.grad for p in rest]
            norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(tg + plain)))
            torch._foreach_mul_(tg, t)  # T^2 g
            params, grads = scaled + rest, tg + plain
        else:
            grads = [p.grad for p in params]
            norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
        e = torch._foreach_mul(grads, radius / (norm + 1e-12))  # a new list: the step, not the gradient
        torch._foreach_add_(params, e)
        return params, e

    def step(self, x, y):
        rho = self.rho or 0.0
        if rho == 0.0:
            return self.plain_step(x, y)  # no neighbourhood: one pass, as cheap as standard
        out, loss = self.forward_loss(x, y)  # first pass: the loss we report, BN stats move
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        k = self.cfg.ascent_steps
        steps = []
        with frozen_bn_stats(self.model):
            for _ in range(k):
                steps.append(self._ascent(rho / k))
                self.opt.zero_grad(set_to_none=True)
                _, loss_adv = self.forward_loss(x, y)
                loss_adv.backward()
        with torch.no_grad():
            for params, e in reversed(steps):
                torch._foreach_sub_(params, e)
        self.opt.step()
        return loss.detach(), (out.argmax(1) == y).sum()


@register
class MultiStepSAM(SAM):
    """SAM whose neighbourhood grows in stages through training (0 -> rho_max by
    default); a stage with rho = 0 takes a plain single-pass step."""

    name = "multistep-sam"  # its rho per epoch: spec.py's staged schedule


def make_optimizer(params, *, lr: float, momentum: float, nesterov: bool, weight_decay: float) -> torch.optim.SGD:
    """SGD in its foreach form: a few multi-tensor kernels per step rather than a
    Python loop over the parameters (on CPU torch picks the loop by default). The
    result equals the loop's (tests/test_sync.py); fused SGD is left out, untested here."""
    return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay,
                           foreach=True)


def make_method(model, optimizer, cfg: TrainConfig, **kwargs) -> Method:
    cls = spec.impl(spec.method(cfg.method).name)
    if cls is None:
        raise NawtError(f"method {cfg.method!r} has no torch class; register it with register_method(spec, impl)")
    return cls(model, optimizer, cfg, **kwargs)
