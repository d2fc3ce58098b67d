"""Evaluations of trained runs, stored as Evaluation + EvalPoint rows, and the sweep benchmark.

``sweep(store, kind, run_id, **options)`` runs any registered evaluation
(nawt_core/evalspec.py) on a run: it checks the options against the spec,
loads the run's final checkpoint read-only into a fresh model (so neither the
file on disk nor a live training's model is ever changed), puts the test set on
the device, hands both to the evaluation's implementation (stress.py:
``WeightStress`` for anything that perturbs the weights) and stores the clean
accuracy and every point. ``<kind>_sweep(store, run_id, **options)`` is the
same for one kind (e.g. ``robustness_sweep``).
"""

from __future__ import annotations

import copy
import functools
import itertools
import logging
import os
import socket
import time

import torch
import torch.nn as nn

from . import evalspec
from . import perturb as P
from .checkpoint import load, load_model_state
from .config import TrainConfig
from .data import load_arrays, synthetic, to_input
from .device import (autocast_dtype, device_for_label, device_name, keep_freed_memory, resolve_device,
                     resolve_precision, synchronize, tf32_flags)
from .errors import Failed, NawtError
from .evalspec import check_strategy
from .evaluate import evaluate
from .failures import describe
from .hardware import check_precision, device_kind
from .options import UNSET
from .records import check_evaluable
from .models import build_model
from .status import Status
from .store import Evaluation, Run, Store, utcnow
from .stress import Context, Progress, TestSet, choose_strategy, count_jobs, sweep_jobs
from .stress import Perturber as _Perturber

log = logging.getLogger("nawt.sweeps")
POINTS_PER_WRITE = 1000  # evaluation points are stored in batches of this many


# ------------------------------------------------------------ model + data
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
    final = check_evaluable(store, run)
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
class Perturber(_Perturber):
    """stress.Perturber with Gaussian noise of ``mode`` (perturb.py) unless a ``stress`` is given."""

    def __init__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, mode: str = "absolute",
                 targets: str = "weights", seed: int = 0, stress=None, **kw):
        if stress is None:
            P.check(mode, targets)
            stress = functools.partial(_gaussian, mode=mode, seed=seed)
        super().__init__(model, x, y, stress=stress, targets=targets, seed=seed, **kw)


def _gaussian(weights, value, trial, *, mode, seed):
    return P.noisy(weights, value, mode, seed, trial)


# -------------------------------------------------------------- stored sweeps
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


def _train_set(cfg: TrainConfig, device: torch.device, data_dir):
    """The first n training images of the run's data on ``device``, normalised, not augmented."""
    def first(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        arrays = load_arrays(cfg.dataset, str(data_dir or cfg.data_dir), train_subset=cfg.train_subset,
                             test_subset=cfg.test_subset)
        return (to_input(torch.from_numpy(arrays.x_train[:n]).to(device)),
                torch.from_numpy(arrays.y_train[:n]).to(device))
    return first


def sweep(store: Store, kind: str, run_id: int, *, seed: int = 0, strategy: str = "auto", chunk: int = 8,
          device: str | None = None, data_dir=None, test_subset: int | None = None, precision: str = "auto",
          progress: Progress | None = None, evaluation: Evaluation | None = None, **options) -> Evaluation:
    """Evaluation ``kind`` of run ``run_id`` with ``options`` (its spec's; the rest default),
    stored as one Evaluation with its points. ``device`` None: the family the run trained on;
    ``evaluation``: a row already queued for it (nawt_core/recorder.py). Returns the completed row."""
    spec = evalspec.evaluation(kind)
    config = spec.checked(options)
    if spec.batchable:
        check_strategy(strategy)
    run = finished_run(store, run_id)
    dev = _device(device, run)
    amp, prec = _precision(precision, dev)
    model, cfg = load_run_model(run, dev)
    test = load_test_set(cfg, dev, data_dir, test_subset)
    job = evalspec.impl(kind)(spec, config, seed if spec.seeded else 0)
    ctx = Context(model, cfg, test, dev, amp, strategy, chunk, progress, _train_set(cfg, dev, data_dir))
    recorded, measured = job.setup(ctx)
    ev = _start(store, evaluation, run_id=run.id, kind=kind, seed=job.seed, status=Status.RUNNING,
                config={**config, "test_images": test.n, "dataset": test.source, **recorded, **prec, **measured},
                device=device_name(dev), **tf32_flags(dev), host=socket.gethostname(), pid=os.getpid())
    t0 = time.perf_counter()
    with _recorded(store, ev):
        clean, points = job.measure(ctx)
        points = iter(points)
        while batch := list(itertools.islice(points, POINTS_PER_WRITE)):
            store.add_points(ev.id, [{"param": float(p), "trial": t, "accuracy": acc, "loss": loss}
                                     for p, t, loss, acc in batch])
        return store.update_evaluation(ev.id, status=Status.COMPLETED, clean_acc=clean,
                                       seconds=time.perf_counter() - t0, finished_at=utcnow())


def __getattr__(name: str):
    """``<kind>_sweep`` (e.g. ``robustness_sweep``): ``sweep`` for that registered kind."""
    kind = name[: -len("_sweep")].replace("_", "-") if name.endswith("_sweep") and not name.startswith("_") else None
    for spec in evalspec.evaluations() if kind else ():
        if spec.name.replace("_", "-") == kind:
            def one_kind(store: Store, run_id: int, _kind=spec.name, **options) -> Evaluation:
                return sweep(store, _kind, run_id, **options)

            one_kind.__name__ = name
            return one_kind
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def find_evaluation(store: Store, run_id: int, kind: str, config: dict, seed: int = 0) -> Evaluation | None:
    """The latest completed evaluation of ``run_id`` whose config contains every
    item of ``config`` (a study's test for 'already done'). Older ones lack some
    items: their precision was fp32, an option added later its ``assumed`` value (e.g.
    no BatchNorm recalibration); the spec's ``legacy`` hook supplies the rest."""
    spec = evalspec.evaluation(kind)
    for ev in reversed(store.evaluations(run_id, kind, completed_only=True)):
        c = {"precision": "fp32", **(ev.config or {})}
        c.update({o.name: o.assumed for o in spec.options if o.name not in c and o.assumed is not UNSET})
        if spec.legacy is not None:
            c.update(spec.legacy(ev.config, device_kind(ev.device)))
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


__all__ = ["Perturber", "TestSet", "bench_sweep", "choose_strategy", "count_jobs", "find_evaluation", "finished_run",
           "load_run_model", "load_test_set", "sweep", "sweep_jobs"]
