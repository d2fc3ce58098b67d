"""Stopping and removing runs, shared by the CLI (`nawt stop`, `nawt rm`) and the TUI.

Torch-free. A stop is a flag the trainer polls plus SIGTERM to its process when
that process lives on this host; nothing here waits for the run to end.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
from datetime import datetime
from pathlib import Path
from typing import Any

from .errors import NawtError
from .status import Status
from .store import effective_status, pid_alive


def _local_pid(run: Any, host: str) -> int | None:
    return run.pid if run.host == host and run.pid and pid_alive(run.pid) else None


def stop_run(store: Any, run_id: int, host: str | None = None, now: datetime | None = None) -> str:
    """Asks run `run_id` to stop (it saves a checkpoint and becomes interrupted); says what was done."""
    host = host or socket.gethostname()
    run = store.get_run(run_id)
    status = effective_status(run, now=now, host=host)
    if status == Status.STALE:
        raise NawtError(f"run {run_id} is stale: its process is gone, nothing to stop "
                        f"(resume it with `nawt train --resume {run_id}`)")
    if status not in (Status.RUNNING, Status.QUEUED):
        raise NawtError(f"run {run_id} is {status}; only a running or queued run can be stopped")
    if status == Status.QUEUED and run.queue_pos is not None:
        from .queue import cancel  # waiting in the run queue: no trainer to tell, take it out

        cancel(store, run_id)
        return f"run {run_id} taken out of the queue (interrupted; `nawt train --resume {run_id}` trains it)"
    store.update_run(run_id, stop_requested=True)
    pid = _local_pid(run, host)
    if pid is None:
        where = f"on {run.host}" if run.host and run.host != host else "without a process yet"
        return f"stop requested for run {run_id} ({status} {where}): it stops when its trainer next looks"
    try:
        os.kill(pid, signal.SIGTERM)
    except OSError as e:
        return f"stop requested for run {run_id} (SIGTERM to pid {pid} failed: {e.strerror})"
    return f"stopping run {run_id} (SIGTERM sent to pid {pid})"


def check_removable(store: Any, run_id: int, host: str | None = None, now: datetime | None = None) -> Any:
    """The run, if it may be removed: not while a process still trains it."""
    host = host or socket.gethostname()
    run = store.get_run(run_id)
    status = effective_status(run, now=now, host=host)
    if status == Status.RUNNING or (status == Status.QUEUED and _local_pid(run, host)):
        raise NawtError(f"run {run_id} is {status}: stop it first (`nawt stop {run_id}`)")
    return run


def remove_run(store: Any, run_id: int, data_dir: str | os.PathLike, *, files: bool,
               host: str | None = None, now: datetime | None = None) -> str:
    """Deletes the run's records and, with `files`, its folder: only a real folder (not a
    symbolic link) directly inside ``<data_dir>/runs/`` named for the run. A row that names
    a folder elsewhere (a copied data dir's row pointing at the original, an edited row)
    keeps that folder."""
    run = check_removable(store, run_id, host, now)
    folder = store.folder(run)
    store.delete_run(run_id)
    if not files or folder is None:
        return f"removed run {run_id}" + (f" (its folder {folder} is kept)" if folder else "")
    why = _not_removable(folder, run_id, data_dir)
    if why:
        return f"removed run {run_id} (folder {folder} not removed: {why})"
    shutil.rmtree(folder, ignore_errors=True)
    return f"removed run {run_id} and {folder}"


def _not_removable(folder: Path, run_id: int, data_dir: str | os.PathLike) -> str | None:
    """Why ``folder`` must not be deleted as run ``run_id``'s, or None."""
    runs = Path(data_dir) / "runs"
    target = Path(os.path.abspath(folder))  # not resolved: a symlink must be seen as one
    if target.is_symlink():
        return "it is a symbolic link"
    if not target.is_dir():
        return "missing"
    if os.path.realpath(target.parent) != os.path.realpath(runs):
        return f"it is not in {runs}"
    number = target.name.split("-", 1)[0]  # runs/7, or runs/7-1a2b3c4d when runs/7 was taken
    if not number.isdigit() or int(number) != run_id:
        return f"it is not named for run {run_id}"
    return None
