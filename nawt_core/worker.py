"""A worker: claims queued runs one at a time and executes them with the trainer.

``nawt worker`` and each local slot of ``nawt study --jobs N`` run ``work``.
It registers in the Worker table, heartbeats itself and its run from a thread
(so data loading and sweeps count as alive), re-queues runs of lost workers
before each claim (queue.reap), and trains a claimed run with runner.execute,
which resumes from the run's ``last.pt`` when it has one.

A completed run of a study gets the study's sweeps right here, on the same
device, before the next claim: sweeps need the run's checkpoint and nothing
else, so spreading them with the training needs no second kind of job, and
they are skipped when already stored (the study's own pass then finds them).

SIGINT/SIGTERM stop at a safe point: the trainer keeps its last completed
epoch, the run goes back to the front of the queue, and the worker exits. A
run stopped by ``nawt stop`` (stop_requested) leaves the queue interrupted
and the worker goes on.
"""

from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from . import queue
from .errors import LostClaim, NawtError
from .status import Status
from .store import Store, utcnow


@dataclass
class WorkResult:
    worker_id: str
    completed: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    interrupted: list[int] = field(default_factory=list)  # stopped by `nawt stop`
    requeued: list[int] = field(default_factory=list)  # the worker was told to stop mid-run
    lost: list[int] = field(default_factory=list)  # taken over by another worker while this one was silent
    stopped: bool = False  # by a signal


class _Heart(threading.Thread):
    """Heartbeats the worker and its current run every ``every`` seconds."""

    def __init__(self, store: Store, worker_id: str, every: float):
        super().__init__(daemon=True, name="nawt-heartbeat")
        self.store, self.worker_id, self.every = store, worker_id, every
        self.run_id: int | None = None
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(self.every):
            try:
                queue.beat(self.store, self.worker_id, self.run_id,
                           status="running" if self.run_id is not None else "idle")
            except Exception:  # a busy database now and then: the next beat tries again
                pass


class _StopOnSignal:
    def __init__(self):
        self.flag = False

    def __enter__(self):
        self.saved = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self.saved[sig] = signal.signal(sig, self._set)
            except ValueError:  # not the main thread
                pass
        return self

    def _set(self, *_):
        self.flag = True

    def __exit__(self, *exc):
        for sig, h in self.saved.items():
            signal.signal(sig, h)
        return False


def work(store: Store, *, device: str | None = None, threads: int | None = None, once: bool = False,
         forever: bool = False, study: str | None = None, stale_after: float = queue.STALE_AFTER_S,
         max_attempts: int = queue.MAX_ATTEMPTS, data_dir=None, poll_s: float = 1.0,
         say: Callable[[str], None] = lambda s: None, reporter_factory=None) -> WorkResult:
    """Executes queued runs (of ``study`` if given) until none is left: no run
    waits and none is claimed by another worker (a lost one may come back);
    ``once``: after one run; ``forever``: waits for more until stopped.
    ``device`` (cpu, cuda, cuda:N) overrides the runs' own; ``threads`` sets torch's CPU threads."""
    import torch

    from .runner import execute

    if threads:
        torch.set_num_threads(threads)
    owner = queue.Owner.here(device or "auto")
    queue.register(store, owner, threads=torch.get_num_threads())
    res = WorkResult(owner.worker_id)
    heart = _Heart(store, owner.worker_id, min(queue.BEAT_S, stale_after / 3))
    heart.start()
    say(f"worker {owner.worker_id} started ({owner.device}, {torch.get_num_threads()} threads)")
    try:
        with _StopOnSignal() as sig:
            while not sig.flag:
                for line in queue.reap(store, stale_after=stale_after, max_attempts=max_attempts):
                    say(line)
                run = queue.claim(store, owner, study=study)
                if run is None:
                    if not forever and not _others_working(store, study):
                        break
                    time.sleep(poll_s)
                    continue
                heart.run_id = run.id
                queue.beat(store, owner.worker_id, run.id, status="running")
                say(f"run {run.id} {run.method} seed {run.seed}: claimed (attempt {run.attempts})")
                _execute_one(store, run, res, execute, data_dir, say,
                             reporter_factory(run) if reporter_factory else None, device)
                if run.id in res.completed and not sig.flag:
                    _sweep(store, run.id, data_dir, say)  # stopped meanwhile: the study's own pass sweeps it
                if run.id not in res.requeued + res.lost:
                    _release(store, run, say)
                heart.run_id = None
                queue.beat(store, owner.worker_id, None, status="idle", runs_done=len(res.completed))
                if once or run.id in res.requeued:
                    res.stopped = run.id in res.requeued
                    break
            res.stopped = res.stopped or sig.flag
    finally:
        heart.halt.set()
        heart.join()
        queue.beat(store, owner.worker_id, None, status="stopped", runs_done=len(res.completed))
    return res


def _others_working(store: Store, study: str | None) -> bool:
    """A run of the queue is claimed by another worker: it may come back if that worker is lost."""
    return any(r.status == Status.RUNNING for r in queue.queued(store, study))


def _release(store: Store, run, say) -> None:
    """Takes the finished run out of the queue, unless another worker holds it by now."""
    try:
        queue.release(store, run.id, requeue=False, holding=run.claim)
    except LostClaim:
        say(f"run {run.id}: taken over by another worker meanwhile; left to it")


def _execute_one(store: Store, claimed, res: WorkResult, execute, data_dir, say, reporter, device=None) -> None:
    run_id = claimed.id
    try:
        # ``device`` (cpu or cuda: this worker's own) overrides the run's; it is recorded in its config
        run = execute(store, run_id, reporter, data_dir=data_dir, claim=claimed.claim, device=device)
    except LostClaim as e:  # paused past the timeout, re-queued and claimed by another worker: it has the run now
        say(str(e))
        res.lost.append(run_id)
        return
    except NawtError as e:  # a failure of the run (recorded by the trainer), or it could not be resumed
        run = store.get_run(run_id)
        if run.status == Status.RUNNING:
            run = store.update_run(run_id, status=Status.FAILED, error=str(e), finished_at=utcnow())
        say(f"run {run_id} failed: {run.error}")
        res.failed.append(run_id)
        return
    if run.status == Status.COMPLETED:
        say(f"run {run_id} completed")
        res.completed.append(run_id)
    elif run.status == Status.INTERRUPTED and not run.stop_requested:
        try:  # this worker was stopped: the run waits for the next one
            queue.release(store, run_id, requeue=True, holding=claimed.claim)
        except LostClaim:
            res.lost.append(run_id)
            return
        say(f"run {run_id} stopped after epoch {run.epoch}: back in the queue")
        res.requeued.append(run_id)
    elif run.status == Status.INTERRUPTED:
        say(f"run {run_id} stopped (nawt stop) after epoch {run.epoch}")
        res.interrupted.append(run_id)
    else:
        say(f"run {run_id} failed: {run.error}")
        res.failed.append(run_id)


def _sweep(store: Store, run_id: int, data_dir, say) -> None:
    """The study's sweeps of a completed run, when it belongs to a study that has them."""
    from .study import sweep_run

    run = store.get_run(run_id)
    if not run.study:
        return
    try:
        sw = store.get_study(run.study).config.get("sweeps")
    except NawtError:
        return
    if not sw:
        return
    cfg = run.config
    try:
        sweep_run(store, run_id, sw, device=cfg.get("device", "auto"), data_dir=data_dir or cfg.get("data_dir"),
                  precision=cfg.get("precision", "auto"), say=say)
    except NawtError as e:  # recorded as a failed evaluation; the study's own pass says so too
        say(f"run {run_id}: sweep failed: {e}")


__all__ = ["WorkResult", "work"]
