"""The run queue in the store: enqueue, claim atomically, heartbeat, re-queue the lost.

Torch-free. A run is *in the queue* while its ``queue_pos`` is set: queued
(waiting, no process) or running (claimed by a worker). Workers (``nawt worker``,
the local slots of ``nawt study --jobs N``, Ray tasks) take the lowest position first.

The claim is atomic on both supported databases:
- SQLite: ``BEGIN IMMEDIATE`` takes the write lock before the read, so two
  workers never read the same queued row as free;
- PostgreSQL: ``SELECT … FOR UPDATE SKIP LOCKED`` locks the row it reads, and
  a concurrent claimer skips it and takes the next.

A claimed run whose heartbeat has been silent for ``stale_after`` seconds (its
worker was killed, its node lost), or whose process is gone from this host, is
re-queued at the front by ``reap`` and resumes from its last checkpoint; after
``max_attempts`` claims it fails with the reason instead (the Optuna
heartbeat / stale-trial pattern).
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, update
from sqlmodel import Session, select

from .errors import NawtError
from .status import Status
from .store import Run, Store, Study, Worker, as_utc, pid_alive, utcnow

STALE_AFTER_S = 120.0  # a claimed run silent this long is re-queued
MAX_ATTEMPTS = 3
BEAT_S = 2.0  # how often a worker heartbeats itself and its run


@dataclass
class Owner:
    """Who claims: recorded on the run (host, pid, device, worker_id) and in the Worker table."""

    worker_id: str
    host: str
    pid: int
    device: str = "auto"

    @classmethod
    def here(cls, device: str = "auto") -> "Owner":
        host, pid = socket.gethostname(), os.getpid()
        return cls(f"{host}-{pid}-{uuid.uuid4().hex[:6]}", host, pid, device)


# ----------------------------------------------------------------- enqueue
def _end_pos(s: Session, front: bool) -> float:
    agg = func.min(Run.queue_pos) if front else func.max(Run.queue_pos)
    edge = s.exec(select(agg).where(Run.queue_pos.is_not(None))).one()
    if edge is None:
        return 1.0
    return float(edge) - 1.0 if front else float(edge) + 1.0


def enqueue(store: Store, run_id: int, *, front: bool = False) -> Run:
    """Puts run ``run_id`` in the queue (at the end, or the front), status queued,
    no process holding it. A run already in the queue keeps its place."""
    with store._session() as s:
        run = s.get(Run, run_id)
        if run is None:
            raise NawtError(f"no run with id {run_id} (see `nawt runs`)")
        if run.status == Status.COMPLETED:
            raise NawtError(f"run {run_id} is already completed")
        if run.queue_pos is not None and run.status == Status.QUEUED:
            return run
        if run.status == Status.RUNNING and run.pid and pid_alive(run.pid) and run.host == socket.gethostname():
            raise NawtError(f"run {run_id} is running (pid {run.pid}); stop it before queueing it")
        run.queue_pos = _end_pos(s, front)
        run.status, run.pid, run.worker_id, run.stop_requested = Status.QUEUED, None, None, False
        run.claim = None  # a trainer that still thinks it holds the run stops at its next heartbeat
        s.add(run)
        s.commit()
        s.refresh(run)
    return run


def study_runs(store: Store, study: str) -> list[int]:
    """The runs study ``study`` trains: those its row lists (it adopts runs of its settings that
    another study queued, e.g. with --queue-only) and those recorded under its name."""
    with store._session() as s:
        st = s.get(Study, study)
        ids = set((st.config or {}).get("run_ids") or []) if st is not None else set()
        ids |= set(s.exec(select(Run.id).where(Run.study == study)).all())
    return sorted(ids)


def queued(store: Store, study: str | None = None) -> list[Run]:
    """The queue in order: queued runs first by position, then claimed (running) ones."""
    q = select(Run).where(Run.queue_pos.is_not(None))
    if study is not None:
        q = q.where(Run.id.in_(study_runs(store, study)))
    with store._session() as s:
        rows = list(s.exec(q).all())
    return sorted(rows, key=lambda r: (r.status != Status.QUEUED, r.queue_pos, r.id))


def move(store: Store, run_id: int, to: int) -> Run:
    """Moves a queued run to place ``to`` (1 = next to be claimed) among the queued runs."""
    waiting = [r for r in queued(store) if r.status == Status.QUEUED]
    ids = [r.id for r in waiting]
    if run_id not in ids:
        raise NawtError(f"run {run_id} is not waiting in the queue (see `nawt queue`)")
    if to < 1:
        raise NawtError(f"--to must be 1 or more (got {to})")
    ids.remove(run_id)
    ids.insert(min(to, len(ids) + 1) - 1, run_id)
    with store._session() as s:  # renumber: positions stay small and distinct
        for pos, rid in enumerate(ids, 1):
            s.exec(update(Run).where(Run.id == rid, Run.status == Status.QUEUED).values(queue_pos=float(pos)))
        s.commit()
    return store.get_run(run_id)


def cancel(store: Store, run_id: int) -> Run:
    """Takes a waiting run out of the queue; it stays recorded as interrupted (resumable)."""
    with store._session() as s:
        n = s.exec(update(Run).where(Run.id == run_id, Run.status == Status.QUEUED, Run.queue_pos.is_not(None))
                   .values(queue_pos=None, status=Status.INTERRUPTED, error="cancelled in the queue",
                           finished_at=utcnow())).rowcount
        s.commit()
    if not n:
        run = store.get_run(run_id)
        why = "running: stop it with `nawt stop`" if run.status == Status.RUNNING else f"{run.status}, not queued"
        raise NawtError(f"run {run_id} is {why}")
    return store.get_run(run_id)


# ------------------------------------------------------------------- claim
def claim(store: Store, owner: Owner, *, study: str | None = None) -> Run | None:
    """Atomically takes the first queued run (of ``study`` if given: the runs its row lists,
    adopted ones included) for ``owner``: status running, claimed_at, worker_id/host/pid,
    attempts + 1, a new claim token (claims.py). None when the queue holds nothing for it.
    Exactly one claimer gets each run."""
    q = select(Run.id).where(Run.status == Status.QUEUED, Run.queue_pos.is_not(None))
    if study is not None:
        q = q.where(Run.id.in_(study_runs(store, study)))
    q = q.order_by(Run.queue_pos, Run.id).limit(1)
    sqlite = store.engine.dialect.name == "sqlite"
    now = utcnow()
    with store.engine.connect() as conn:
        if sqlite:
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock first: no one else reads the queue meanwhile
        else:
            q = q.with_for_update(skip_locked=True)
        run_id = conn.execute(q).scalar()
        if run_id is None:
            conn.rollback()
            return None
        conn.execute(update(Run).where(Run.id == run_id).values(
            status=Status.RUNNING, worker_id=owner.worker_id, host=owner.host, pid=owner.pid,
            claimed_at=now, heartbeat_at=now, attempts=Run.attempts + 1, finished_at=None, claim=uuid.uuid4().hex))
        conn.commit()
    return store.get_run(run_id)


def release(store: Store, run_id: int, *, requeue: bool, holding: str | None = None) -> Run:
    """After the worker's trainer returned: back to the front of the queue
    (``requeue``: the worker was told to stop) or out of the queue (done).
    ``holding``: only while the worker still holds the run's claim (else LostClaim)."""
    if requeue:
        with store._session() as s:
            pos = _end_pos(s, front=True)
        return store.update_run(run_id, holding=holding, status=Status.QUEUED, queue_pos=pos, pid=None,
                                worker_id=None, finished_at=None, claim=None)
    return store.update_run(run_id, holding=holding, queue_pos=None)


# ----------------------------------------------------------- stale claims
def is_lost(run: Run, now, stale_after: float, host: str | None = None) -> bool:
    """A claimed run nobody works on: heartbeat silent too long, or its process gone from this host."""
    if run.status != Status.RUNNING or run.queue_pos is None:
        return False
    if run.pid and run.host == (host or socket.gethostname()) and not pid_alive(run.pid):
        return True
    beat = run.heartbeat_at or run.claimed_at or run.created_at
    return (as_utc(now) - as_utc(beat)).total_seconds() > stale_after


def reap(store: Store, *, stale_after: float = STALE_AFTER_S, max_attempts: int = MAX_ATTEMPTS,
         host: str | None = None) -> list[str]:
    """Re-queues (at the front) claimed runs whose worker is lost; fails those
    that used up ``max_attempts``. Each change is conditional on the row being
    unchanged, so two reapers never both act on one run. Returns what changed."""
    now = utcnow()
    changed = []
    with store._session() as s:
        lost = [r for r in s.exec(select(Run).where(Run.status == Status.RUNNING, Run.queue_pos.is_not(None))).all()
                if is_lost(r, now, stale_after, host)]
    for r in lost:
        why = f"its worker {r.worker_id} (pid {r.pid} on {r.host}) stopped heartbeating"
        same = (Run.id == r.id, Run.status == Status.RUNNING, Run.worker_id == r.worker_id,
                Run.attempts == r.attempts)
        with store._session() as s:
            if r.attempts >= max_attempts:
                values: dict[str, Any] = dict(status=Status.FAILED, queue_pos=None, finished_at=now, claim=None,
                                              error=f"{why}; gave up after {r.attempts} attempts")
                what = f"run {r.id} failed ({r.attempts} attempts)"
            else:
                values = dict(status=Status.QUEUED, queue_pos=_end_pos(s, front=True), pid=None, worker_id=None,
                              claim=None, error=f"re-queued: {why}")  # its trainer, if it wakes, stops
                what = f"run {r.id} re-queued"
            if s.exec(update(Run).where(*same).values(**values)).rowcount:
                changed.append(what)
            s.commit()
    return changed


# ----------------------------------------------------------------- workers
def register(store: Store, owner: Owner, threads: int | None = None) -> Worker:
    w = Worker(id=owner.worker_id, host=owner.host, pid=owner.pid, device=owner.device, threads=threads,
               heartbeat_at=utcnow(), status="idle")
    with store._session() as s:
        s.add(w)
        s.commit()
        s.refresh(w)
    return w


def beat(store: Store, worker_id: str, run_id: int | None = None, **fields: Any) -> None:
    """The worker's heartbeat, and its run's (so a run in data loading or a sweep is not taken for lost)."""
    now = utcnow()
    with store._session() as s:
        s.exec(update(Worker).where(Worker.id == worker_id).values(heartbeat_at=now, run_id=run_id, **fields))
        if run_id is not None:
            s.exec(update(Run).where(Run.id == run_id, Run.worker_id == worker_id, Run.status == Status.RUNNING)
                   .values(heartbeat_at=now))
        s.commit()


def workers(store: Store) -> list[Worker]:
    with store._session() as s:
        return list(s.exec(select(Worker).order_by(Worker.started_at)).all())


def worker_state(w: Worker, now=None, stale_after: float = STALE_AFTER_S) -> str:
    """idle | running | stopped, or stale: not stopped, yet silent (or its process gone from this host)."""
    if w.status == "stopped":
        return w.status
    now = now or utcnow()
    gone = w.host == socket.gethostname() and not pid_alive(w.pid)
    silent = w.heartbeat_at is None or (as_utc(now) - as_utc(w.heartbeat_at)) > timedelta(seconds=stale_after)
    return "stale" if gone or silent else w.status


__all__ = ["BEAT_S", "MAX_ATTEMPTS", "Owner", "STALE_AFTER_S", "beat", "cancel", "claim", "enqueue", "is_lost",
           "move", "queued", "reap", "register", "release", "study_runs", "worker_state", "workers"]
