"""Robustness and quantization sweeps over trained runs, stored as
Evaluation + EvalPoint rows, and the sweep benchmark.

A sweep loads the run's final checkpoint read-only into a fresh model (or
deep-copies a model it is handed), so neither the file on disk nor a live
training's model is ever changed. It evaluates on the training device with the
test set already there.

Two engines evaluate the perturbed copies, and they give the same numbers:
- ``loop``: perturb in place, evaluate, restore the clean weights (``_foreach``
  copies, no reallocation), one copy at a time;
- ``batched``: ``torch.func.functional_call`` + ``vmap`` over a stack of
  ``chunk`` perturbed weight sets, one forward pass for all of them.
``strategy="auto"`` times both on a slice of the test set once per
(device, arch, targets) and keeps the faster: on the 2-core CPU the loop wins
(vmap turns each conv into a grouped conv, which is slower there); on a GPU
the batched pass can win because a single ResNet-20 pass leaves it idle.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import logging
import os
import socket
import time
import warnings
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.func import functional_call, vmap

from . import perturb as P
from . import quantize as Q
from .checkpoint import load, load_model_state
from .config import TrainConfig
from .data import load_arrays, synthetic, to_input
from .device import (autocast_dtype, device_for_label, device_name, keep_freed_memory, resolve_device,
                     resolve_precision, synchronize, tf32_flags)
from .errors import Failed, NawtError
from .evalspec import DEFAULT_BITS, DEFAULT_STRENGTHS, DEFAULT_TRIALS, NOISE_SOURCE, STRATEGIES, check_strategy, noise_source
from .evaluate import evaluate
from .failures import describe
from .hardware import check_precision, device_kind
from .models import build_model
from .status import Status
from .store import Evaluation, Run, Store, utcnow

log = logging.getLogger("nawt.sweeps")


Progress = Callable[[int, int], None]


# ------------------------------------------------------------ model + data
@dataclass
class TestSet:
    x: torch.Tensor  # normalised float, channels_last, on the device
    y: torch.Tensor
    source: str

    @property
    def n(self) -> int:
        return int(self.y.numel())


_TEST_CACHE: dict[tuple, TestSet] = {}


def load_test_set(cfg: TrainConfig, device: torch.device, data_dir=None, test_subset: int | None = None) -> TestSet:
    """The run's test split on ``device`` (cached per process)."""
    n_test = test_subset if test_subset is not None else cfg.test_subset
    root = str(data_dir or cfg.data_dir)
    key = (cfg.dataset, root, cfg.train_subset, n_test, str(device))
    if key not in _TEST_CACHE:
        arrays = load_arrays(cfg.dataset, root, train_subset=cfg.train_subset, test_subset=n_test)
        x = to_input(torch.from_numpy(arrays.x_test).to(device))
        _TEST_CACHE.clear()  # one test set at a time is plenty
        _TEST_CACHE[key] = TestSet(x, torch.from_numpy(arrays.y_test).to(device), arrays.source)
    return _TEST_CACHE[key]


def finished_run(store: Store, run_id: int) -> Run:
    """The run, if it finished training and its final checkpoint exists."""
    run = store.get_run(run_id)
    if run.status != Status.COMPLETED:
        raise NawtError(f"run {run_id} has not finished training (status {run.status}); "
                        "evaluate it once it has completed")
    final = store.path(run.checkpoint_final)
    if final is None or not final.exists():
        raise NawtError(f"run {run_id} has no final checkpoint on disk ({final or 'none recorded'})")
    return run.model_copy(update={"checkpoint_final": str(final)})  # the file as found from this data dir


def load_run_model(run: Run, device: torch.device) -> tuple[nn.Module, TrainConfig]:
    """A fresh model holding the run's final weights (the file is only read)."""
    cfg = TrainConfig.from_dict(run.config)
    state = load(run.checkpoint_final, map_location=device)
    model = build_model(cfg.arch)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as e:
        raise NawtError(f"checkpoint {run.checkpoint_final} does not match {cfg.arch}: "
                        f"{str(e).splitlines()[0][:160]}") from None
    return model.to(device, memory_format=torch.channels_last).eval(), cfg


def _device(name: str | None, run: Run | None = None) -> torch.device:
    """``name``, or where None the family the run trained on (see device_for_label)."""
    dev = resolve_device(name if name else device_for_label(run.device if run else ""))
    if dev.type == "cpu":
        keep_freed_memory()
    return dev


def _precision(requested: str, dev: torch.device) -> tuple[torch.dtype | None, dict]:
    """The autocast dtype of ``requested`` on ``dev``, and what an Evaluation's config records of it."""
    precision, reason = resolve_precision(check_precision(requested), dev)
    return autocast_dtype(precision, dev), {"precision": precision, "precision_reason": reason}


# ---------------------------------------------------------------- engines
class Perturber:
    """Evaluates perturbed copies of one model; the model given is copied, never changed."""

    def __init__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, mode: str = "absolute",
                 targets: str = "weights", seed: int = 0, batch_size: int = 1000,
                 autocast_dtype: torch.dtype | None = None):
        P.check(mode, targets)
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.x, self.y, self.mode, self.targets, self.seed = x, y, mode, targets, seed
        self.batch_size = batch_size
        self.amp = autocast_dtype  # None: fp32
        self.names = [n for n, _ in P.target_params(self.model, targets)]
        self.params = [p for _, p in P.target_params(self.model, targets)]
        self.clean = [p.detach().clone() for p in self.params]
        self.device = x.device

    def noise(self, strength: float, trial: int) -> list[torch.Tensor]:
        gen = P.generator(self.seed, strength, trial, self.device)
        return P.noise_like(self.clean, strength, self.mode, gen)

    def restore(self) -> None:
        torch._foreach_copy_(self.params, self.clean)

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
            if s:
                torch._foreach_add_(self.params, self.noise(s, t))
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
                noise = self.noise(s, t) if s else [torch.zeros_like(w) for w in self.clean]
                for st, w, z in zip(stacks, self.clean, noise):
                    torch.add(w, z, out=st[j])
            loss = torch.zeros(k, device=self.device)
            correct = torch.zeros(k, device=self.device, dtype=torch.long)
            bs = max(1, self.batch_size // k) if self.device.type == "cpu" else self.batch_size
            for b in range(0, x.shape[0], bs):
                with warnings.catch_warnings(), self._autocast():
                    warnings.simplefilter("ignore", UserWarning)  # vmap's slow-path notice for adaptive pooling
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
        """(loss, accuracy) per (strength, trial) job, in order."""
        return [r for _, r in self.stream(jobs, len(jobs), strategy, chunk, progress)]

    def stream(self, jobs: Iterable[tuple[float, int]], total: int, strategy: str = "loop", chunk: int = 8,
               progress: Progress | None = None):
        """Yields ((strength, trial), (loss, accuracy)) as jobs are evaluated; ``jobs``
        may be a lazy iterator, so memory does not grow with the number of trials."""
        if strategy not in ("loop", "batched"):
            raise NawtError(f"unknown sweep strategy {strategy!r}; choose auto, loop or batched")
        step = chunk if strategy == "batched" else 1
        it, done = iter(jobs), 0
        while part := list(itertools.islice(it, step)):
            res = self.batched(part, chunk=chunk) if strategy == "batched" else self.loop(part)
            done += len(part)
            if progress:
                progress(done, total)
            yield from zip(part, res)


_CHOICE: dict[tuple, tuple[str, dict]] = {}


def choose_strategy(perturber: Perturber, arch: str = "", chunk: int = 8, images: int = 256) -> tuple[str, dict]:
    """Times both engines on a slice of the test set (once per device, arch and
    targets in this process) and returns the faster with the timings."""
    key = (str(perturber.device), arch, perturber.targets, chunk, perturber.amp)
    if key in _CHOICE:
        return _CHOICE[key]
    x, y = perturber.x[:images], perturber.y[:images]
    jobs = [(0.01, t) for t in range(chunk)]
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


def sweep_jobs(strengths: Iterable[float], trials: int) -> Iterator[tuple[float, int]]:
    """(strength, trial) pairs, generated lazily; strength 0 is deterministic, so it gets one trial."""
    return ((float(s), t) for s in strengths for t in range(1 if s == 0 else trials))


def count_jobs(strengths: Iterable[float], trials: int) -> int:
    return sum(1 if s == 0 else trials for s in strengths)


POINTS_PER_WRITE = 1000  # evaluation points are stored in batches of this many


# -------------------------------------------------------------- stored sweeps
def _check_strengths(strengths) -> list[float]:
    out = []
    for s in strengths:
        try:
            out.append(float(s))
        except (TypeError, ValueError):
            raise NawtError(f"perturbation strengths must be numbers (got {s!r})") from None
    if not out:
        raise NawtError("give at least one perturbation strength")
    return sorted(set(out))


class _recorded:
    """Marks an evaluation failed if the sweep raises (Ctrl-C included)."""

    def __init__(self, store: Store, ev: Evaluation):
        self.store, self.ev = store, ev

    def __enter__(self):
        return self

    def __exit__(self, et, e, tb):
        if et is None:
            return False
        why = "interrupted" if et is KeyboardInterrupt else describe(e, "evaluating")
        try:
            self.store.update_evaluation(self.ev.id, status=Status.FAILED, error=why[:500], finished_at=utcnow())
        except Exception:  # noqa: BLE001 - e.g. the database's disk is full: the next start records it
            pass
        if et is KeyboardInterrupt or isinstance(e, Failed):
            return False
        if isinstance(e, NawtError):  # started, then failed: a failure (exit 1), not bad input
            raise Failed(str(e)) from None
        raise Failed(f"evaluation {self.ev.id} failed: {why}") from None


def _start(store: Store, evaluation: Evaluation | None, **fields) -> Evaluation:
    """The evaluation row, created now or, when the caller queued one already, taken over."""
    if evaluation is None:
        return store.create_evaluation(**fields)
    return store.update_evaluation(evaluation.id, **fields)


def robustness_sweep(store: Store, run_id: int, *, mode: str = "absolute", strengths: Iterable[float] | None = None,
                     trials: int = DEFAULT_TRIALS, seed: int = 0, targets: str = "weights", device: str | None = None,
                     data_dir=None, test_subset: int | None = None, strategy: str = "auto", chunk: int = 8,
                     precision: str = "auto", progress: Progress | None = None,
                     evaluation: Evaluation | None = None) -> Evaluation:
    """Accuracy of perturbed copies of run ``run_id`` for every strength and
    trial, stored as one Evaluation (kind ``robustness``) with a point per
    (strength, trial). ``device`` None: the family the run trained on. Returns
    the completed Evaluation."""
    strengths = _check_strengths(DEFAULT_STRENGTHS.get(mode, [0.1]) if strengths is None else strengths)
    P.check(mode, targets, strengths, trials)
    check_strategy(strategy)
    run = finished_run(store, run_id)
    dev = _device(device, run)
    amp, prec = _precision(precision, dev)
    model, cfg = load_run_model(run, dev)
    test = load_test_set(cfg, dev, data_dir, test_subset)
    pert = Perturber(model, test.x, test.y, mode=mode, targets=targets, seed=seed, autocast_dtype=amp)
    probe = {}
    if strategy == "auto":
        strategy, probe = choose_strategy(pert, cfg.arch, chunk)
    config = {"mode": mode, "strengths": strengths, "trials": trials, "targets": targets,
              "test_images": test.n, "dataset": test.source, "strategy": strategy, "noise": NOISE_SOURCE,
              **prec, **probe}
    ev = _start(store, evaluation, run_id=run.id, kind="robustness", config=config, seed=seed,
                status=Status.RUNNING, device=device_name(dev), **tf32_flags(dev), host=socket.gethostname(),
                pid=os.getpid())
    t0 = time.perf_counter()
    with _recorded(store, ev):
        _, clean_acc = pert.clean_eval()
        done = pert.stream(sweep_jobs(strengths, trials), count_jobs(strengths, trials), strategy, chunk, progress)
        while batch := list(itertools.islice(done, POINTS_PER_WRITE)):
            store.add_points(ev.id, [{"param": s, "trial": t, "accuracy": acc, "loss": loss}
                                     for (s, t), (loss, acc) in batch])
        return store.update_evaluation(ev.id, status=Status.COMPLETED, clean_acc=clean_acc,
                                       seconds=time.perf_counter() - t0, finished_at=utcnow())


@torch.no_grad()
def quantization_accuracies(model: nn.Module, x, y, bits: list[int], granularity: str = "channel",
                            fold: bool = False, progress: Progress | None = None,
                            autocast_dtype: torch.dtype | None = None):
    """(clean (loss, acc), [(loss, acc) per bit width]) on a copy of ``model``."""
    m = Q.fold_bn(model) if fold else copy.deepcopy(model).eval()
    ws = [w for _, w in Q.weight_params(m)]
    clean = [w.detach().clone() for w in ws]
    fp = evaluate(m, x, y, autocast_dtype=autocast_dtype)
    out = []
    for i, b in enumerate(bits):
        torch._foreach_copy_(ws, clean)
        Q.quantize_(m, b, granularity)
        out.append(evaluate(m, x, y, autocast_dtype=autocast_dtype))
        if progress:
            progress(i + 1, len(bits))
    return fp, out


def quantization_sweep(store: Store, run_id: int, *, bits: Iterable[int] | None = None, granularity: str = "channel",
                       fold_bn: bool = False, device: str | None = None, data_dir=None, test_subset: int | None = None,
                       precision: str = "auto", progress: Progress | None = None,
                     evaluation: Evaluation | None = None) -> Evaluation:
    """Accuracy of run ``run_id`` with fake-quantized weights per bit width,
    stored as one Evaluation (kind ``quantization``), a point per bit width."""
    bits = Q.check(DEFAULT_BITS if bits is None else list(bits), granularity)
    bits = sorted(set(bits), reverse=True)
    run = finished_run(store, run_id)
    dev = _device(device, run)
    amp, prec = _precision(precision, dev)
    model, cfg = load_run_model(run, dev)
    test = load_test_set(cfg, dev, data_dir, test_subset)
    config = {"bits": bits, "granularity": granularity, "fold_bn": fold_bn, "test_images": test.n,
              "dataset": test.source, **prec}
    ev = _start(store, evaluation, run_id=run.id, kind="quantization", config=config, seed=0,
                status=Status.RUNNING, device=device_name(dev), **tf32_flags(dev), host=socket.gethostname(),
                pid=os.getpid())
    t0 = time.perf_counter()
    with _recorded(store, ev):
        (_, fp), res = quantization_accuracies(model, test.x, test.y, bits, granularity, fold_bn, progress, amp)
        store.add_points(ev.id, [{"param": float(b), "trial": 0, "accuracy": acc, "loss": loss}
                                 for b, (loss, acc) in zip(bits, res)])
        return store.update_evaluation(ev.id, status=Status.COMPLETED, clean_acc=fp,
                                       seconds=time.perf_counter() - t0, finished_at=utcnow())


def find_evaluation(store: Store, run_id: int, kind: str, config: dict, seed: int = 0) -> Evaluation | None:
    """The latest completed evaluation of ``run_id`` whose config contains every
    item of ``config`` (a study's test for 'already done'). Older sweeps lack
    some items: their precision was fp32, their noise source follows from their device."""
    for ev in reversed(store.evaluations(run_id, kind, completed_only=True)):
        c = {"precision": "fp32", **(ev.config or {})}
        if kind == "robustness":
            c["noise"] = noise_source(ev.config, device_kind(ev.device))
        if ev.seed == seed and all(c.get(k) == v for k, v in config.items()):
            return ev
    return None


# ---------------------------------------------------------------- benchmark
def bench_sweep(*, device: str = "auto", arch: str = "resnet20", copies: int = 16, images: int = 2000,
                mode: str = "absolute", strength: float = 0.05, strategy: str = "auto", chunk: int = 8,
                checkpoint: str | None = None, seed: int = 0, precision: str = "fp32") -> dict:
    """Times the sweep engine against a plain perturb-evaluate-restore loop
    (deep-copied state_dict, in-place noise, ``evaluate``, ``load_state_dict``)
    in the same process, on ``copies`` perturbed copies of one model and
    ``images`` synthetic test images (speed does not depend on the data).

    Returns a dict: device, arch, copies, images, strategy (the engine the sweep
    used), loop_evals_per_s / batched_evals_per_s (each engine on its own),
    reference_evals_per_s, sweep_evals_per_s, ratio (sweep / reference, > 1 is
    faster), max_acc_diff (sweep vs reference accuracies: same seeds, same numbers)."""
    P.check(mode, "weights", (strength,), copies)
    check_strategy(strategy)
    if images < 1:
        raise NawtError(f"images must be at least 1 (got {images})")
    dev = _device(device)
    amp, prec = _precision(precision, dev)
    model = build_model(arch)
    if checkpoint:
        model.load_state_dict(load_model_state(checkpoint, map_location="cpu"))
    model = model.to(dev, memory_format=torch.channels_last).eval()
    data = synthetic(10, images, seed=seed)
    x = to_input(torch.from_numpy(data.x_test).to(dev))
    y = torch.from_numpy(data.y_test).to(dev)
    jobs = [(strength, t) for t in range(copies)]

    # the reference: what one would write without thinking about speed
    def reference():
        saved = copy.deepcopy(model.state_dict())
        accs = []
        for s, t in jobs:
            P.perturb_(model, s, mode=mode, seed=seed, trial=t)
            accs.append(evaluate(model, x, y, autocast_dtype=amp)[1])
            model.load_state_dict(saved)
        return accs

    def timed(fn):
        fn_jobs = fn()
        synchronize(dev)
        t0 = time.perf_counter()
        res = fn()
        synchronize(dev)
        return time.perf_counter() - t0, res, fn_jobs

    pert = Perturber(model, x, y, mode=mode, seed=seed, autocast_dtype=amp)
    ref_s, ref_acc, _ = timed(reference)
    loop_s, loop_res, _ = timed(lambda: pert.loop(jobs))
    try:
        bat_s, bat_res, _ = timed(lambda: pert.batched(jobs, chunk=chunk))
    except (RuntimeError, NotImplementedError) as e:
        log.warning("the batched sweep engine failed here (%s)", str(e)[:120])
        bat_s, bat_res = float("inf"), loop_res
    if strategy == "auto":
        strategy = "loop" if loop_s <= bat_s else "batched"
    sweep_s, sweep_res = (loop_s, loop_res) if strategy == "loop" else (bat_s, bat_res)
    diff = max(abs(a - r[1]) for a, r in zip(ref_acc, sweep_res))
    return {
        "device": device_name(dev), "arch": arch, "copies": copies, "images": images, "chunk": chunk,
        "strategy": strategy, "precision": prec["precision"],
        "loop_evals_per_s": copies / loop_s,
        "batched_evals_per_s": copies / bat_s if bat_s != float("inf") else 0.0,
        "reference_evals_per_s": copies / ref_s,
        "sweep_evals_per_s": copies / sweep_s,
        "ratio": ref_s / sweep_s,
        "max_acc_diff": diff,
        "agree_batched_loop": max(abs(a[1] - b[1]) for a, b in zip(loop_res, bat_res)),
    }


__all__ = ["DEFAULT_BITS", "DEFAULT_STRENGTHS", "DEFAULT_TRIALS", "Perturber", "STRATEGIES", "TestSet",
           "bench_sweep", "choose_strategy", "find_evaluation", "finished_run", "load_run_model",
           "load_test_set", "quantization_accuracies", "quantization_sweep", "robustness_sweep", "sweep_jobs"]
