"""Run records without torch: a run's queued row and folder, resuming checks,
the learning-rate schedule and the reporter interface.

``nawt train --detach``, ``nawt train --resume`` and the TUI create and check
runs through here without importing torch; runner.py trains them.
"""

from __future__ import annotations

import math
import os
import socket
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from . import __version__
from .config import TrainConfig
from .errors import LostClaim, NawtError
from .status import Status
from .store import Run, Store, effective_status

HEARTBEAT_S = 2.0


@dataclass
class Progress:
    """What a reporter is told at each heartbeat."""

    epoch: int  # 0-based epoch in progress
    epochs: int
    batch: int
    batches: int
    loss: float
    acc: float
    images_per_sec: float
    rho: float | None


class Reporter:
    """Receives training events; the CLI draws them, tests record them."""

    def start(self, run: Run, start_epoch: int) -> None: ...
    def batch(self, batch: int) -> None: ...
    def heartbeat(self, p: Progress) -> None: ...
    def epoch(self, row: dict) -> None: ...
    def finish(self, run: Run) -> None: ...


# ------------------------------------------------------------- run records
def runs_root(data_dir: str | Path) -> Path:
    return Path(data_dir) / "runs"


def git_commit() -> str | None:
    here = Path(__file__).resolve().parent.parent
    if not (here / ".git").exists():
        return None
    try:
        out = subprocess.run(["git", "-C", str(here), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def create_run(store: Store, cfg: TrainConfig, data_dir: str | Path = "data") -> Run:
    """Validates ``cfg`` and records it as a queued run with its own folder."""
    cfg.validate()
    root = runs_root(data_dir)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise NawtError(f"cannot create {root}: {e.strerror}") from None
    if not os.access(root, os.W_OK):
        raise NawtError(f"the data directory {root} is not writable")
    run = store.create_run(
        name=cfg.label(), method=cfg.method, study=cfg.study, config=cfg.to_dict(),
        config_key=cfg.key(), seed=cfg.seed, status=Status.QUEUED, dataset=cfg.dataset,
        epochs=cfg.epochs, nawt_version=__version__, git_commit=git_commit(),
        host=socket.gethostname(), pid=os.getpid(),  # queued, held by this process (see effective_status)
    )
    run_dir = root / str(run.id)
    if run_dir.exists() and any(run_dir.iterdir()):
        # a folder left by another database: never adopt (or resume) its files
        run_dir = root / f"{run.id}-{uuid.uuid4().hex[:8]}"
    run_dir.mkdir(parents=True, exist_ok=True)
    return store.update_run(run.id, run_dir=store.stored(run_dir))  # relative to the data dir


def note_training_code(store: Store, run: Run) -> Run:
    """The commit whose code trains ``run`` from now on. Resumed from a checkpoint by other
    code than trained its first epochs, it records both (``fd752d2+55a542c``); starting over
    (new, queued and claimed later, ``--restart``, no checkpoint yet) only the one that trains it."""
    now = git_commit()
    if not now:
        return run
    if not (run.epoch > 0 and run.checkpoint_last and run.git_commit):
        commit = now  # nothing trained by earlier code survives
    elif run.git_commit.split("+")[-1] == now:
        commit = run.git_commit
    else:
        commit = f"{run.git_commit}+{now}"
    return run if commit == run.git_commit else store.update_run(run.id, git_commit=commit)


def check_resumable(store: Store, run_id: int, *, restart: bool = False, claim: str | None = None) -> Run:
    """The run, if it can be continued (``restart``: trained again from scratch, so its
    folder and checkpoint need not be there). ``claim``: the caller claimed it from the
    queue with that token. Nothing is changed here: claims.take makes this process its
    trainer, and restart_run resets it once taken."""
    run = store.get_run(run_id)
    status = effective_status(run)
    if status == Status.COMPLETED:
        raise NawtError(f"run {run_id} is already completed")
    if claim is not None and run.claim != claim:  # re-queued and claimed again meanwhile: not ours to touch
        raise LostClaim(f"run {run_id} is no longer claimed by this worker (pid {run.pid} on {run.host} has it)")
    if status == Status.RUNNING and claim is None:
        raise NawtError(f"run {run_id} is still running (pid {run.pid} on {run.host})")
    if restart:
        return run
    folder = store.folder(run)
    # no checkpoint written yet (--checkpoint-every > 1, stopped before the first): it trains from scratch
    if folder is None or not folder.is_dir() or (run.checkpoint_last and not (folder / "last.pt").exists()):
        what = f"its folder {folder} is gone" if folder is None or not folder.is_dir() else \
            f"its checkpoint {folder / 'last.pt'} is gone"
        raise NawtError(f"run {run_id} cannot be resumed: {what}; train it again from scratch with "
                        f"`nawt train --resume {run_id} --restart`")
    return run


def restart_run(store: Store, run: Run, holding: str | None = None) -> Run:
    """Resets ``run`` (taken by this process: ``holding`` its claim) to epoch 0: folder
    recreated, last.pt and epoch rows dropped."""
    folder = store.folder(run)
    if folder is None:
        raise NawtError(f"run {run.id} has no folder recorded; it cannot be trained again")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "last.pt").unlink(missing_ok=True)
    except OSError as e:
        raise NawtError(f"cannot recreate the run folder {folder}: {e.strerror}") from None
    store.truncate_epochs(run.id, 0)
    return store.update_run(run.id, holding=holding, epoch=0, batch=0, train_seconds=0.0, error=None,
                            started_at=None, finished_at=None, checkpoint_last=None, checkpoint_final=None,
                            test_acc=None, best_test_acc=None, final_test_acc=None, train_loss=None,
                            train_acc=None)


# ----------------------------------------------------------------- schedule
def lr_at(cfg: TrainConfig, step: int, steps_per_epoch: int) -> float:
    """Cosine to zero over all steps, or x0.1 at 50 % and 75 % of the epochs
    (the 100/150 milestones of the 200-epoch recipe)."""
    total = cfg.epochs * steps_per_epoch
    if cfg.schedule == "cosine":
        return cfg.lr * 0.5 * (1 + math.cos(math.pi * step / total))
    epoch = step // steps_per_epoch
    drops = (epoch >= cfg.epochs * 0.5) + (epoch >= cfg.epochs * 0.75)
    return cfg.lr * 0.1**drops


def check_evaluable(store: Store, run: Run, hint: str = "") -> Path:
    """The final checkpoint of ``run`` as found from this data dir, if the run finished training and
    the file exists (an evaluation's first check, before anything is recorded); else one error line."""
    if run.status != Status.COMPLETED:
        raise NawtError(f"run {run.id} has not finished training (status {run.status}); "
                        "evaluate it once it has completed")
    final = store.path(run.checkpoint_final)
    if final is None or not final.exists():
        raise NawtError(f"run {run.id} has no final checkpoint on disk ({final or 'none recorded'}){hint}")
    return final
