"""Sharpness of the training loss: the Hessian's trace (Hutchinson) and its top eigenvalue (power iteration).

Both need only Hessian-vector products H v, computed by double backward
(Pearlmutter's trick: the gradient of g(w) . v, with g the gradient built with
``create_graph``), never the Hessian itself. PyHessian (Yao et al., "PyHessian:
Neural networks through the lens of the Hessian", IEEE BigData 2020,
github.com/amirgholami/PyHessian) is the reference; this is nawt's own code.

What is differentiated: the mean loss (cross-entropy by default, no weight
decay term) over a fixed subset of training images given as tensors, with
respect to the weights the stresses perturb (``targets="weights"``: every
conv/linear weight, perturb.target_params; ``"all"``: every float parameter).
The model runs in eval mode: BatchNorm normalises with its running statistics,
so the loss is the function of the weights that inference computes (PyHessian
does the same). The model is never changed: the products are taken on a copy
(each BatchNorm as the per-channel affine map it is in eval mode, whose double
backward is far cheaper) through ``torch.func.functional_call`` on detached
copies of the weights.

- trace: Hutchinson's estimator, tr(H) = E[v^T H v] for Rademacher v (entries
  +-1); the mean over ``probes`` probes, with its standard error (std over
  probes / sqrt(probes)). Each probe costs one double backward per batch; the
  forward pass and first backward of a batch are built once and, for subsets of
  up to KEEP_GRAPHS_MAX images, serve every probe and power iteration.
- top eigenvalue: power iteration from a Gaussian start, v <- Hv / |Hv|, for
  ``iters`` iterations, the Rayleigh quotient v^T H v of each iterate recorded;
  its convergence is the relative change over the last iteration. Power
  iteration finds the eigenvalue of largest magnitude (for a trained network
  the largest, positive one).

For isotropic weight noise of std s, the expected loss increase is about
(s^2 / 2) tr(H): the link to the Gaussian robustness sweep (DESIGN.md).
Randomness (probes, start vector) comes from CPU generators seeded from the seed.
"""

from __future__ import annotations

import contextlib
import copy
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.func import functional_call

from .faults import normal, stress_generator
from .perturb import target_params
from .stressspec import check_sharpness
from .stress import Evaluator

Vectors = list[torch.Tensor]  # one tensor per parameter
HVP = Callable[[list[Vectors]], list[Vectors]]  # several vectors in, H times each out
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (output, target) -> summed loss


def summed_cross_entropy(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(out, y, reduction="sum")


def dot(a: Vectors, b: Vectors) -> torch.Tensor:
    """Sum over parameters of the elementwise products (a 0-d tensor, no host read)."""
    return torch.stack([(x * y).sum() for x, y in zip(a, b)]).sum()


def rademacher(like: Vectors, gen: torch.Generator) -> Vectors:
    """Independent +-1 entries shaped like ``like``, drawn on the CPU and moved to their device."""
    return [torch.randint(2, p.shape, generator=gen).mul_(2).sub_(1).to(p.device, p.dtype) for p in like]


class EvalBatchNorm(nn.Module):
    """BatchNorm in eval mode as one per-channel affine map, x * a + b, with the same parameter and
    buffer names: the same function, but its double backward is one multiply where BatchNorm's
    computes batch reductions it does not need (a quarter of a Hessian-vector product's time)."""

    def __init__(self, bn: nn.modules.batchnorm._BatchNorm):
        super().__init__()
        self.eps = bn.eps
        self.weight, self.bias = bn.weight, bn.bias
        self.register_buffer("running_mean", bn.running_mean)
        self.register_buffer("running_var", bn.running_var)

    def forward(self, x):
        a = torch.rsqrt(self.running_var + self.eps)
        b = -self.running_mean * a
        if self.weight is not None:
            a, b = a * self.weight, b * self.weight + self.bias
        shape = (1, -1) + (1,) * (x.dim() - 2)
        return x * a.view(shape) + b.view(shape)


def _backward(g: torch.Tensor, x: torch.Tensor, w: torch.Tensor, conf: tuple, mask: list[bool]):
    stride, padding, dilation, groups = conf
    return torch.ops.aten.convolution_backward(g, x, w, None, stride, padding, dilation, False, [0, 0], groups, mask)


# conv2d and its two gradients as autograd Functions whose derivatives are one another: every
# Hessian-vector product then runs conv2d's three efficient kernels (forward, backward data, backward
# weights). PyTorch's own double backward of a convolution computes one term as a convolution with
# the batch as channels and the image as kernel, and goes through transposed convolutions: slow on a CPU.
class _Conv(torch.autograd.Function):
    """y = conv2d(x, w)."""

    @staticmethod
    def forward(ctx, x, w, conf):
        ctx.save_for_backward(x, w)
        ctx.conf = conf
        stride, padding, dilation, groups = conf
        return F.conv2d(x, w, None, stride, padding, dilation, groups)

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        gx, gw = ctx.needs_input_grad[:2]
        return (_InputGrad.apply(g, w, x, ctx.conf) if gx else None,
                _WeightGrad.apply(x, g, w, ctx.conf) if gw else None, None)


class _InputGrad(torch.autograd.Function):
    """conv2d's input gradient from the output gradient g: linear in g and in w
    (<result, u> = <g, conv2d(u, w)>); ``x`` gives only the input's shape."""

    @staticmethod
    def forward(ctx, g, w, x, conf):
        ctx.save_for_backward(g, w, x)
        ctx.conf = conf
        return _backward(g, x, w, conf, [True, False, False])[0]

    @staticmethod
    def backward(ctx, u):
        g, w, _x = ctx.saved_tensors
        gg, gw = ctx.needs_input_grad[:2]
        return (_Conv.apply(u, w, ctx.conf) if gg else None,
                _WeightGrad.apply(u, g, w, ctx.conf) if gw else None, None, None)


class _WeightGrad(torch.autograd.Function):
    """conv2d's weight gradient from the input x and output gradient g: bilinear
    (<result, u> = <g, conv2d(x, u)>); ``w`` gives only the weight's shape."""

    @staticmethod
    def forward(ctx, x, g, w, conf):
        ctx.save_for_backward(x, g, w)
        ctx.conf = conf
        return _backward(g, x, w, conf, [False, True, False])[1]

    @staticmethod
    def backward(ctx, u):
        x, g, _w = ctx.saved_tensors
        gx, gg = ctx.needs_input_grad[:2]
        return (_InputGrad.apply(g, u, x, ctx.conf) if gx else None,
                _Conv.apply(x, u, ctx.conf) if gg else None, None, None)


class HessianConv2d(nn.Conv2d):
    """nn.Conv2d (same parameters, same function) whose Hessian-vector products avoid PyTorch's slow
    double-backward term: 0.82x the time in fp32 and 0.89x under bf16 on the 2-core AMD EPYC
    (README, Stress tests; see ``eval_copy``). Autocast is applied by hand (both operands cast as
    F.conv2d would be), since the custom backward runs outside the autocast region."""

    def _conv_forward(self, x, weight, bias):
        if self.padding_mode != "zeros" or isinstance(self.padding, str):
            return super()._conv_forward(x, weight, bias)
        dev = x.device.type
        if torch.is_autocast_enabled(dev):
            dtype = torch.get_autocast_dtype(dev)
            x, weight, bias = x.to(dtype), weight.to(dtype), None if bias is None else bias.to(dtype)
        with torch.autocast(dev, enabled=False):
            out = _Conv.apply(x, weight, (self.stride, self.padding, self.dilation, self.groups))
            return out if bias is None else out + bias.view(1, -1, 1, 1)


def eval_copy(model: nn.Module, fast_conv: bool = True) -> nn.Module:
    """A copy of ``model`` in eval mode whose BatchNorms with running statistics are EvalBatchNorm
    and (``fast_conv``) whose Conv2d layers are HessianConv2d: the same function, cheaper products."""
    net = copy.deepcopy(model).eval()
    for mod in list(net.modules()):
        for name, child in list(mod.named_children()):
            if isinstance(child, nn.modules.batchnorm._BatchNorm) and child.track_running_stats:
                setattr(mod, name, EvalBatchNorm(child))
            elif fast_conv and type(child) is nn.Conv2d:
                child.__class__ = HessianConv2d  # a subclass: same state, isinstance still holds
    return net


# Graphs of at most this many images are kept between products (ResNet-20's graphs for double
# backward hold about 3 MB per image in fp32: 3.7 GB peak for 1,000); larger subsets rebuild them every call.
KEEP_GRAPHS_MAX = 1024


def default_batch_size(device: torch.device) -> int:
    """Images per graph: on a CPU, 100 keeps a batch's tensors in cache (a double backward over 1,000
    images took 4.2 s at 100 and 5.6 s at 250 per batch on the 2-core AMD EPYC); a GPU wants large batches."""
    return 100 if device.type == "cpu" else 1000


class LossHessian:
    """Hessian-vector products of the mean loss of ``model`` (eval mode) on ``x``, ``y``.

    The products are taken on a private copy of the model (eval_copy), so the
    model itself is never touched and its BatchNorms cost one multiply each.
    The forward pass and first backward of each batch (the graph a product
    differentiates again) are built once and kept for every later product when
    the subset has at most ``KEEP_GRAPHS_MAX`` images (``keep_graphs`` overrides):
    power iteration then costs one double backward per iteration, not a rebuild too.

    On a CPU the batches are split into ``shards`` groups (default: one per torch
    thread), each differentiated on its own thread with one torch thread: a
    product's many small operations then never wait for each other's halves
    (on the 2-core AMD EPYC a whole bf16 sharpness run took 0.85x the time of one shard, an fp32
    product 0.91x; README, Hardware stresses). The shards' sums are added in a fixed order."""

    def __init__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, targets: str = "weights",
                 batch_size: int | None = None, loss_fn: LossFn = summed_cross_entropy,
                 autocast_dtype: torch.dtype | None = None, keep_graphs: bool | None = None,
                 fast_conv: bool = True, shards: int | None = None):
        self.model, self.x, self.y, self.loss_fn = eval_copy(model, fast_conv), x, y, loss_fn
        self.amp = autocast_dtype  # None: fp32 throughout
        self.batch_size = max(1, int(batch_size or default_batch_size(x.device)))
        self.keep = x.shape[0] <= KEEP_GRAPHS_MAX if keep_graphs is None else keep_graphs
        starts = list(range(0, x.shape[0], self.batch_size))
        n = max(1, min(len(starts), int(shards or default_shards(x.device))))
        self.shards = [starts[i::n] for i in range(n)]  # batch starts per shard
        # functional_call swaps a module's tensors while it runs: a model per shard (the weights are shared)
        self.models = [self.model, *(eval_copy(model, fast_conv) for _ in self.shards[1:])]
        self._kept: dict[int, tuple[Vectors, tuple[torch.Tensor, ...]]] = {}
        self._losses: dict[int, torch.Tensor] = {}
        named = target_params(self.model, targets)
        self.names = [n for n, _ in named]
        self.weights = [p.detach() for _, p in named]
        fixed = {**dict(self.model.named_parameters()), **dict(self.model.named_buffers())}
        self.fixed = {k: v.detach() for k, v in fixed.items() if k not in set(self.names)}

    @property
    def loss(self) -> torch.Tensor:
        """The mean loss on the subset (0 until the first product has built the graphs)."""
        total = torch.zeros((), device=self.x.device)
        for start in sorted(self._losses):
            total = total + self._losses[start]
        return total

    def _batch_loss(self, ws: Vectors, xb: torch.Tensor, yb: torch.Tensor, model: nn.Module) -> torch.Tensor:
        amp = torch.autocast(xb.device.type, dtype=self.amp) if self.amp else contextlib.nullcontext()
        with amp:
            out = functional_call(model, {**self.fixed, **dict(zip(self.names, ws))}, (xb,))
        return self.loss_fn(out.float(), yb) / self.x.shape[0]

    def _graph(self, start: int, model: nn.Module) -> tuple[Vectors, tuple[torch.Tensor, ...]]:
        """(weights, gradient with its graph) of the batch at ``start``: kept, or built now on ``model``."""
        if start in self._kept:
            return self._kept[start]
        ws = [w.detach().requires_grad_() for w in self.weights]
        end = start + self.batch_size
        with torch.enable_grad():
            batch = self._batch_loss(ws, self.x[start:end], self.y[start:end], model)
            grads = torch.autograd.grad(batch, ws, create_graph=True)
        self._losses[start] = batch.detach()
        if self.keep:
            self._kept[start] = (ws, grads)
        return ws, grads

    def _products(self, shard: int, vectors: list[Vectors]) -> list[Vectors]:
        """The sum over the batches of ``shard`` of H_batch v, for each v."""
        out = [[torch.zeros_like(w) for w in self.weights] for _ in vectors]
        for start in self.shards[shard]:
            ws, grads = self._graph(start, self.models[shard])
            for j, v in enumerate(vectors):
                with torch.enable_grad():
                    hv = torch.autograd.grad(grads, ws, grad_outputs=v, allow_unused=True, materialize_grads=True,
                                             retain_graph=self.keep or j < len(vectors) - 1)
                torch._foreach_add_(out[j], hv)
        return out

    def __call__(self, vectors: list[Vectors]) -> list[Vectors]:
        """H v for each v of ``vectors``; the graph of a batch serves all of them."""
        if len(self.shards) == 1:
            return self._products(0, vectors)
        threads = torch.get_num_threads()
        each = max(1, threads // len(self.shards))

        def shard(i: int) -> list[Vectors]:
            torch.set_num_threads(each)  # this thread's own OpenMP setting
            return self._products(i, vectors)

        try:
            with ThreadPoolExecutor(len(self.shards), thread_name_prefix="nawt-hvp") as pool:
                parts = list(pool.map(shard, range(len(self.shards))))
        finally:
            torch.set_num_threads(threads)
        out = parts[0]
        for part in parts[1:]:
            for o, p in zip(out, part):
                torch._foreach_add_(o, p)
        return out


def default_shards(device: torch.device) -> int:
    """Shards of a product: one per torch thread on a CPU, one on a GPU (its own streams)."""
    return torch.get_num_threads() if device.type == "cpu" else 1


def hutchinson(hvp: HVP, like: Vectors, probes: int, gen: torch.Generator, chunk: int = 32
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(trace estimate, its standard error, v^T H v per probe) from ``probes`` Rademacher probes,
    ``chunk`` of them per call of ``hvp`` (0-d tensors and a 1-d tensor on the weights' device)."""
    samples = []
    for start in range(0, probes, chunk):
        vs = [rademacher(like, gen) for _ in range(min(chunk, probes - start))]
        samples += [dot(v, hv) for v, hv in zip(vs, hvp(vs))]
    s = torch.stack(samples)
    se = s.std() / probes**0.5 if probes > 1 else torch.full_like(s[0], float("nan"))
    return s.mean(), se, s


def power_iteration(hvp: HVP, like: Vectors, iters: int, gen: torch.Generator, tol: float | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(top eigenvalue, relative change over the last iteration, Rayleigh quotient per iteration).

    Without ``tol`` all ``iters`` iterations run and nothing is read on the host;
    with it, iteration stops once the relative change falls below ``tol`` (one host
    read per iteration)."""
    v = [normal(p.shape, gen, p.device, p.dtype) for p in like]
    norm = dot(v, v).sqrt()
    v = [x / norm for x in v]
    history = []
    for _ in range(iters):
        hv = hvp([v])[0]
        history.append(dot(v, hv))
        norm = dot(hv, hv).sqrt()
        v = [x / norm for x in hv]
        if tol is not None and len(history) > 1 and _rel_change(history) < tol:
            break
    h = torch.stack(history)
    change = _rel_change(history) if len(history) > 1 else torch.full_like(h[0], float("nan"))
    return h[-1], change, h


def _rel_change(history: list[torch.Tensor]) -> torch.Tensor:
    return (history[-1] - history[-2]).abs() / history[-1].abs().clamp(min=1e-12)


@dataclass
class Sharpness:
    """The result of ``sharpness``; every number as a plain float."""

    trace: float
    trace_se: float  # standard error of the Hutchinson mean
    top_eigenvalue: float
    eig_rel_change: float  # |lambda_last - lambda_previous| / |lambda_last|: the power iteration's convergence
    loss: float  # the mean loss on the subset, at the model's weights
    samples: int
    probes: int
    iters: int
    params: int  # how many weights the Hessian is taken over
    targets: str
    trace_samples: list[float] = field(default_factory=list)  # v^T H v per probe
    eig_history: list[float] = field(default_factory=list)  # the Rayleigh quotient per iteration

    def as_dict(self) -> dict:
        return asdict(self)


def sharpness(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, probes: int = 32, iters: int = 20,
              seed: int = 0, targets: str = "weights", batch_size: int | None = None, chunk: int = 32,
              tol: float | None = None, loss_fn: LossFn = summed_cross_entropy,
              autocast_dtype: torch.dtype | None = None, keep_graphs: bool | None = None,
              fast_conv: bool = True, shards: int | None = None) -> Sharpness:
    """Hessian trace and top eigenvalue of the mean loss of ``model`` (eval mode, BatchNorm
    running statistics) on the fixed subset ``x``, ``y`` (already on the model's device),
    with respect to its ``targets`` weights. ``model`` is left exactly as it was.
    ``autocast_dtype`` (e.g. torch.bfloat16) runs the products under autocast: faster,
    less exact; None (the default) is fp32 throughout. ``fast_conv=False`` differentiates
    convolutions twice with PyTorch's own double backward (slower; the same products).
    ``shards``: batch groups differentiated at once (LossHessian; default one per CPU thread)."""
    check_sharpness(int(x.shape[0]), probes, iters)
    hvp = LossHessian(model, x, y, targets=targets, batch_size=batch_size, loss_fn=loss_fn,
                      autocast_dtype=autocast_dtype, keep_graphs=keep_graphs, fast_conv=fast_conv, shards=shards)
    like = hvp.weights
    trace, se, samples = hutchinson(hvp, like, probes, stress_generator("sharpness-trace", seed, 0.0, 0), chunk)
    loss = hvp.loss
    eig, change, history = power_iteration(hvp, like, iters, stress_generator("sharpness-power", seed, 0.0, 0), tol)
    nums = torch.stack([trace, se, eig, change, loss]).tolist()  # the one host read
    return Sharpness(*nums, samples=int(x.shape[0]), probes=probes, iters=len(history),
                     params=sum(w.numel() for w in like), targets=targets,
                     trace_samples=samples.tolist(), eig_history=history.tolist())



class HessianSharpness(Evaluator):
    """The sharpness evaluation (nawt_core/evals/sharpness.py): trace and top eigenvalue per run."""

    def measure(self, ctx):
        x, y = ctx.train_set(self.config["samples"])
        s = sharpness(ctx.model, x, y, probes=self.config["probes"], iters=self.config["iters"], seed=self.seed,
                      autocast_dtype=ctx.amp)
        points = [(0.0, i, None, v) for i, v in enumerate(s.trace_samples)]  # the trace's spread: one per probe
        points += [(1.0, 0, None, s.top_eigenvalue), (2.0, 0, None, s.loss)]
        return None, points


__all__ = ["HessianConv2d", "HessianSharpness", "EvalBatchNorm", "HVP", "LossHessian", "Sharpness", "dot", "eval_copy", "hutchinson", "power_iteration",
           "rademacher", "sharpness", "summed_cross_entropy"]
