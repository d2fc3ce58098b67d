"""The engine every weight stress shares, and the base class of an evaluation's implementation.

An evaluation that perturbs the weights subclasses ``WeightStress`` and says
only how: ``perturb(weights, value, trial)`` returns new tensors (weights in,
perturbed weights out, seeded by ``self.seed`` and the trial). ``Perturber``
evaluates the perturbed copies; two engines give the same numbers:
- ``loop``: copy the perturbed weights in, evaluate, restore the clean ones
  (``_foreach`` copies, no reallocation), one copy at a time;
- ``batched``: ``torch.func.functional_call`` + ``vmap`` over a stack of
  ``chunk`` perturbed weight sets, one forward pass for all of them.
``strategy="auto"`` times both on a slice of the test set once per
(device, arch, targets) and keeps the faster: on the 2-core CPU the loop wins
(vmap turns each conv into a grouped conv, which is slower there); on a GPU
the batched pass can win because a single ResNet-20 pass leaves it idle.

An evaluation that measures something else (per-run scalars) subclasses
``Evaluator`` and writes ``measure``. sweeps.py stores what either returns.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import logging
import time
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.func import functional_call, vmap

from .device import synchronize
from .errors import NawtError
from .evaluate import evaluate
from .evalspec import EvalSpec
from .models import target_params

log = logging.getLogger("nawt.sweeps")

Progress = Callable[[int, int], None]
RECAL_BATCH = 128  # training images per BatchNorm recalibration batch
# weights in, perturbed weights out (new tensors), for (value, trial); None: the weights as they are
Stress = Callable[[list[torch.Tensor], float, int], "list[torch.Tensor] | None"]


@dataclass
class TestSet:
    x: torch.Tensor  # normalised float, channels_last, on the device
    y: torch.Tensor
    source: str

    @property
    def n(self) -> int:
        return int(self.y.numel())


@dataclass
class Context:
    """What an implementation is given: the run's model (a fresh copy with its final weights), its
    TrainConfig, the test set on the device, the autocast dtype and the engine's settings."""

    model: nn.Module
    cfg: Any  # config.TrainConfig
    test: TestSet
    device: torch.device
    amp: torch.dtype | None
    strategy: str = "loop"
    chunk: int = 8
    progress: Progress | None = None
    train_set: Callable[[int], tuple[torch.Tensor, torch.Tensor]] | None = None  # first n training images


# ---------------------------------------------------------------- engines
class Perturber:
    """Evaluates perturbed copies of one model; the model given is copied, never changed."""

    def __init__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, stress: Stress,
                 targets: str = "weights", seed: int = 0, batch_size: int = 1000,
                 autocast_dtype: torch.dtype | None = None, after: Callable[[nn.Module], Any] | None = None):
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.x, self.y, self.stress, self.targets, self.seed = x, y, stress, targets, seed
        self.batch_size = batch_size
        self.amp = autocast_dtype  # None: fp32
        self.names = [n for n, _ in target_params(self.model, targets)]
        self.params = [p for _, p in target_params(self.model, targets)]
        self.clean = [p.detach().clone() for p in self.params]
        self.device = x.device
        # run on each stressed copy before it is evaluated (BatchNorm recalibration); it may change
        # buffers, so they are kept and put back with the weights
        self.after = after
        self.buffers = [b for b in self.model.buffers() if b.is_floating_point()] if after else []
        self.clean_buffers = [b.detach().clone() for b in self.buffers]

    def restore(self) -> None:
        torch._foreach_copy_(self.params, self.clean)
        if self.buffers:
            torch._foreach_copy_(self.buffers, self.clean_buffers)

    @torch.no_grad()
    def clean_eval(self, x=None, y=None) -> tuple[float, float]:
        self.restore()
        return evaluate(self.model, self.x if x is None else x, self.y if y is None else y,
                        batch_size=self.batch_size, autocast_dtype=self.amp)

    # one copy at a time
    @torch.no_grad()
    def loop(self, jobs: list[tuple[float, int]], x=None, y=None) -> list[tuple[float, float]]:
        x = self.x if x is None else x
        y = self.y if y is None else y
        out = []
        for s, t in jobs:
            self.restore()
            stressed = self.stress(self.clean, s, t)
            if stressed is not None:
                torch._foreach_copy_(self.params, stressed)
            if self.after is not None:
                self.after(self.model)
            out.append(evaluate(self.model, x, y, batch_size=self.batch_size, autocast_dtype=self.amp))
        self.restore()
        return out

    # many copies per forward pass
    @torch.no_grad()
    def batched(self, jobs: list[tuple[float, int]], x=None, y=None, chunk: int = 8) -> list[tuple[float, float]]:
        x = self.x if x is None else x
        y = self.y if y is None else y
        self.restore()
        fixed = {**dict(self.model.named_parameters()), **dict(self.model.named_buffers())}
        for n in self.names:
            fixed.pop(n)
        names = self.names

        def one(ws, xb):
            return functional_call(self.model, {**fixed, **dict(zip(names, ws))}, (xb,))

        run = vmap(one, in_dims=(0, None))
        out: list[tuple[float, float]] = []
        for i in range(0, len(jobs), chunk):
            part = jobs[i : i + chunk]
            k = len(part)
            stacks = [torch.empty((k, *w.shape), device=w.device, dtype=w.dtype) for w in self.clean]
            for j, (s, t) in enumerate(part):
                for st, w in zip(stacks, self.stress(self.clean, s, t) or self.clean):
                    st[j].copy_(w)
            loss = torch.zeros(k, device=self.device)
            correct = torch.zeros(k, device=self.device, dtype=torch.long)
            bs = max(1, self.batch_size // k) if self.device.type == "cpu" else self.batch_size
            for b in range(0, x.shape[0], bs):
                with warnings.catch_warnings(), self._autocast():
                    warnings.simplefilter("ignore", UserWarning)  # vmap's slow-path notice for some ops
                    logits = run(stacks, x[b : b + bs]).float()  # (k, B, classes)
                yb = y[b : b + bs]
                loss += F.cross_entropy(logits.transpose(1, 2), yb.expand(k, -1), reduction="none").sum(1)
                correct += (logits.argmax(2) == yb).sum(1)
            n = x.shape[0]
            out += [(lo / n, c / n) for lo, c in zip(loss.tolist(), correct.tolist())]
        return out

    def _autocast(self):
        return torch.autocast(self.device.type, dtype=self.amp) if self.amp else contextlib.nullcontext()

    def run(self, jobs, strategy: str = "loop", chunk: int = 8, progress: Progress | None = None):
        """(loss, accuracy) per (value, trial) job, in order."""
        return [r for _, r in self.stream(jobs, len(jobs), strategy, chunk, progress)]

    def stream(self, jobs: Iterable[tuple[float, int]], total: int, strategy: str = "loop", chunk: int = 8,
               progress: Progress | None = None):
        """Yields ((value, trial), (loss, accuracy)) as jobs are evaluated; ``jobs``
        may be a lazy iterator, so memory does not grow with the number of trials."""
        if strategy not in ("loop", "batched"):
            raise NawtError(f"unknown sweep strategy {strategy!r}; choose auto, loop or batched")
        if strategy == "batched" and self.after is not None:
            raise NawtError("BatchNorm recalibration needs the loop strategy (each copy is recalibrated)")
        step = chunk if strategy == "batched" else 1
        it, done = iter(jobs), 0
        while part := list(itertools.islice(it, step)):
            res = self.batched(part, chunk=chunk) if strategy == "batched" else self.loop(part)
            done += len(part)
            if progress:
                progress(done, total)
            yield from zip(part, res)


_CHOICE: dict[tuple, tuple[str, dict]] = {}


def choose_strategy(perturber: Perturber, arch: str = "", chunk: int = 8, images: int = 256,
                    probe: float = 0.01) -> tuple[str, dict]:
    """Times both engines on a slice of the test set (once per device, arch and
    targets in this process) and returns the faster with the timings."""
    key = (str(perturber.device), arch, perturber.targets, chunk, perturber.amp)
    if key in _CHOICE:
        return _CHOICE[key]
    x, y = perturber.x[:images], perturber.y[:images]
    jobs = [(probe, t) for t in range(chunk)]
    timing = {}
    for name in ("loop", "batched"):
        fn = perturber.loop if name == "loop" else (lambda j, x, y: perturber.batched(j, x, y, chunk=chunk))
        try:
            fn(jobs[:2], x, y)  # warm-up
            synchronize(perturber.device)
            t0 = time.perf_counter()
            fn(jobs, x, y)
            synchronize(perturber.device)
            timing[name] = len(jobs) / (time.perf_counter() - t0)
        except (RuntimeError, NotImplementedError) as e:  # e.g. a vmap rule missing, out of memory
            log.warning("the %s sweep engine failed on this device (%s); not using it", name, str(e)[:120])
            timing[name] = 0.0
    perturber.restore()
    best = max(timing, key=timing.get)
    _CHOICE[key] = (best, {f"{k}_evals_per_s": v for k, v in timing.items()})
    return _CHOICE[key]


def sweep_jobs(strengths: Iterable[float], trials: int, identity: float | None = 0.0) -> Iterator[tuple[float, int]]:
    """(value, trial) pairs, generated lazily; the value that changes nothing (strength 0) gets one trial."""
    return ((float(s), t) for s in strengths for t in range(1 if s == identity else trials))


def count_jobs(strengths: Iterable[float], trials: int, identity: float | None = 0.0) -> int:
    return sum(1 if s == identity else trials for s in strengths)


# ------------------------------------------------------- implementations
class Evaluator:
    """An evaluation's implementation: ``spec`` and the checked ``config`` (its options) in, numbers out.

    ``setup(ctx)`` runs before the evaluation is recorded and returns the config items it adds
    (before and after the precision's, to keep stored configs in one order); ``measure(ctx)``
    returns the clean accuracy (or None) and the points, (param, trial, loss, accuracy) each."""

    def __init__(self, spec: EvalSpec, config: dict[str, Any], seed: int = 0):
        self.spec, self.config, self.seed = spec, config, seed

    def setup(self, ctx: Context) -> tuple[dict, dict]:
        return {}, {}

    def measure(self, ctx: Context) -> tuple[float | None, Iterable[tuple[float, int, float | None, float]]]:
        raise NotImplementedError


class WeightStress(Evaluator):
    """An evaluation that perturbs the weights; a subclass writes ``perturb`` (and may ``prepare``
    the model, e.g. fold BatchNorm, and ``record`` config items such as the noise source)."""

    targets = "weights"  # models.target_params: weights (conv and linear) or all
    probe: float | None = None  # the value the engines are timed with [default: the largest swept]

    def perturb(self, weights: list[torch.Tensor], value: float, trial: int) -> list[torch.Tensor] | None:
        raise NotImplementedError

    def prepare(self, model: nn.Module) -> nn.Module:
        return model

    def record(self) -> dict:
        """Config items to store besides the options (default: the spec's ``records``)."""
        return dict(self.spec.records)

    def recalibration(self, ctx: Context) -> Callable[[nn.Module], Any] | None:
        """With the ``recalibrate_bn`` option at N > 0: re-estimate BatchNorm's statistics on the
        first N batches of RECAL_BATCH training images (not augmented) after each stress."""
        n = int(self.config.get("recalibrate_bn") or 0)
        if n == 0:
            return None
        from .bn_recal import recalibrate_bn

        x, _ = ctx.train_set(n * RECAL_BATCH)
        batches = list(x.split(RECAL_BATCH))
        if len(batches) < n:
            raise NawtError(f"--recalibrate-bn {n}: the run's training set has only {int(x.shape[0])} images "
                            f"({len(batches)} batches of {RECAL_BATCH})")
        return lambda model: recalibrate_bn(model, batches, n)

    def trials(self) -> int:
        return int(self.config.get("trials", 1))

    def jobs(self) -> tuple[Iterator[tuple[float, int]], int]:
        grid, identity = self.spec.grid(self.config), self.spec.param.identity
        return sweep_jobs(grid, self.trials(), identity), count_jobs(grid, self.trials(), identity)

    def setup(self, ctx: Context) -> tuple[dict, dict]:
        self.perturber = Perturber(self.prepare(ctx.model), ctx.test.x, ctx.test.y, stress=self.perturb,
                                   targets=self.targets, seed=self.seed, autocast_dtype=ctx.amp,
                                   after=self.recalibration(ctx))
        if not self.spec.batchable or self.perturber.after is not None:
            self.strategy = "loop"
            return self.record(), {}
        self.strategy, measured = ctx.strategy, {}
        if ctx.strategy == "auto":
            grid = [v for v in self.spec.grid(self.config) if v != self.spec.param.identity]
            probe = self.probe if self.probe is not None else max(grid, default=0.0)
            self.strategy, measured = choose_strategy(self.perturber, ctx.cfg.arch, ctx.chunk, probe=probe)
        return {"strategy": self.strategy, **self.record()}, measured

    def measure(self, ctx: Context):
        _, clean = self.perturber.clean_eval()
        jobs, total = self.jobs()
        done = self.perturber.stream(jobs, total, self.strategy, ctx.chunk, ctx.progress)
        return clean, ((s, t, loss, acc) for (s, t), (loss, acc) in done)


__all__ = ["Context", "Evaluator", "Perturber", "Progress", "Stress", "TestSet", "WeightStress", "choose_strategy",
           "count_jobs", "sweep_jobs"]
