"""One run, one trainer; one study, one process. Torch-free.

A run is trained by the process holding its *claim*: a token written on the
run (``Run.claim``) when a process takes it, by a compare-and-swap that only
one of several racing processes wins. Taking a run outside the queue
(``nawt train --resume``, a detached trainer, a study in its own process) is
``take``; a worker's claim from the queue (queue.claim) writes a token in the
same atomic statement. A conditional UPDATE on the token is atomic on SQLite
(one writer at a time) and on PostgreSQL (the second updater waits for the
row lock, then re-checks the condition and finds the token changed), so no
lock has to be held across the read and the write.

Fencing: the trainer writes the run only where the token is still its own
(``Store.update_run(..., holding=token)``, ``add_epoch``) and checks it
before each checkpoint and the final write. A trainer that was paused longer
than the heartbeat timeout, whose run was re-queued and claimed by another
worker meanwhile, finds its token gone at its next heartbeat (every 2 s) and
stops without writing (``LostClaim``).

A study is held the same way (``Study.holder``, with the host, pid and a
heartbeat): a second ``nawt study`` of the same name while one runs is
refused before it writes anything, instead of training every run twice.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from .errors import LostClaim, NawtError
from .status import Status
from .store import Run, Store, Study, as_utc, pid_alive, utcnow

STUDY_SILENT_S = 120.0  # a study held on another host whose heartbeat is this old is taken for dead
BEAT_S = 2.0


def new_token() -> str:
    return uuid.uuid4().hex


def same(column, value):
    """``column == value``, where None compares as SQL NULL."""
    return column.is_(None) if value is None else column == value


# ------------------------------------------------------------------ runs
def take(store: Store, run: Run) -> Run:
    """Makes this process the one trainer of ``run`` (just read and found resumable):
    status running, this host and pid, a new claim token, out of the queue. Only if
    the run is still as read (its status and token): of two processes resuming it
    at once, one wins and the other gets one line naming the winner."""
    token, now = new_token(), utcnow()
    with store._session() as s:
        n = s.exec(update(Run).where(Run.id == run.id, Run.status == run.status, same(Run.claim, run.claim))
                   .values(claim=token, status=Status.RUNNING, pid=os.getpid(), host=socket.gethostname(),
                           heartbeat_at=now, finished_at=None, queue_pos=None, worker_id=None)).rowcount
        s.commit()
    if not n:
        raise busy(store.get_run(run.id))
    return store.get_run(run.id)


def busy(run: Run) -> NawtError:
    return NawtError(f"run {run.id} is being trained by another process (pid {run.pid} on {run.host}); "
                     "nothing was changed")


def holds(store: Store, run_id: int, token: str) -> bool:
    return store.get_run(run_id).claim == token


def check(store: Store, run_id: int, token: str | None) -> None:
    """LostClaim unless this process (``token``) still holds run ``run_id``."""
    if token is not None and not holds(store, run_id, token):
        raise lost(store.get_run(run_id))


def lost(run: Run) -> LostClaim:
    who = f"pid {run.pid} on {run.host}" if run.status == Status.RUNNING else f"now {run.status}"
    return LostClaim(f"run {run.id} was taken over by another process ({who}) while this one was silent; "
                     "this one stopped without writing")


# ---------------------------------------------------------------- studies
def _alive(st: Study, now: datetime) -> bool:
    if not st.holder:
        return False
    if st.holder_host == socket.gethostname():
        return pid_alive(st.holder_pid)
    beat = st.heartbeat_at
    return beat is not None and (as_utc(now) - as_utc(beat)).total_seconds() < STUDY_SILENT_S


def hold_study(store: Store, name: str) -> str:
    """This process runs study ``name`` from now on; NawtError when another live
    process does. Returns the token that ``release_study`` gives back."""
    token, now = new_token(), utcnow()
    me = dict(holder=token, holder_host=socket.gethostname(), holder_pid=os.getpid(), heartbeat_at=now)
    with store._session() as s:
        try:  # a new study: the primary key lets one inserter win
            s.add(Study(name=name, **me))
            s.commit()
            return token
        except IntegrityError:
            s.rollback()
    st = store.get_study(name)
    if _alive(st, now):
        raise NawtError(f"study {name} is running in another process (pid {st.holder_pid} on {st.holder_host}); "
                        "wait for it or stop it (Ctrl-C), then run the same command again")
    with store._session() as s:
        n = s.exec(update(Study).where(Study.name == name, same(Study.holder, st.holder)).values(**me)).rowcount
        s.commit()
    if not n:
        raise NawtError(f"study {name} was started by another process just now; nothing was changed")
    return token


def release_study(store: Store, name: str, token: str) -> None:
    with store._session() as s:
        s.exec(update(Study).where(Study.name == name, Study.holder == token).values(holder=None, holder_pid=None))
        s.commit()


class StudyHeart(threading.Thread):
    """Beats a held study every BEAT_S seconds, so another host can tell it is alive."""

    def __init__(self, store: Store, name: str, token: str):
        super().__init__(daemon=True, name="nawt-study-heartbeat")
        self.store, self.name, self.token = store, name, token
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(BEAT_S):
            try:
                with self.store._session() as s:
                    s.exec(update(Study).where(Study.name == self.name, Study.holder == self.token)
                           .values(heartbeat_at=utcnow()))
                    s.commit()
            except Exception:  # noqa: BLE001 - a busy database now and then: the next beat tries again
                pass

    def stop(self) -> None:
        self.halt.set()
        self.join()


__all__ = ["LostClaim", "StudyHeart", "busy", "check", "hold_study", "holds", "lost", "new_token",
           "release_study", "same", "take"]
