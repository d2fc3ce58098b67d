"""Progress of a study you can watch, as plain lines (no torch, no UI).

A study's in-process runs on a pipe or in a log, the `nawt worker` processes
that `--jobs`/`--gpus` start and the Ray tasks all report through
``LineReporter``: one line when a run starts (its device and precision), one
per epoch with loss, accuracy and an ETA for the run and for the whole
study's training, prefixed by the run id so that parallel runs' lines can be
told apart. ``sweep_progress`` does the same for a sweep, a line a quarter.

The study ETA is the study's epochs still to train (read from the store once
an epoch) times this run's wall seconds per epoch, divided by the runs of the
study training now: a rough figure where methods differ in cost (SAM's epochs
take about twice as long), which is why it is marked ``≈``.
"""

from __future__ import annotations

import time
from typing import Callable

from .records import Reporter
from .status import Status
from .store import Run, Store, effective_status

Say = Callable[[str], None]


def duration(seconds: float) -> str:
    """'12s', '4m10s', '3h05m' (days as hours: a study ETA of '52h00m' reads plainly)."""
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def study_left(store: Store, study: str) -> tuple[int, int]:
    """(epochs still to train, runs training now) over the study's unfinished runs."""
    left, live = 0, 0
    for r in store.list_runs(study=study):
        if r.status in (Status.COMPLETED, Status.FAILED):
            continue
        left += max(0, (r.epochs or 0) - (r.epoch or 0))
        live += effective_status(r) == Status.RUNNING
    return left, live


def start_text(run: Run, start_epoch: int) -> str:
    where = f"resuming after epoch {start_epoch}" if start_epoch else "starting"
    prec = f"{run.precision} ({run.precision_reason})" if run.precision else "-"
    return (f"[run {run.id}] {run.method} seed {run.seed}, {where}: {run.epochs} epochs on {run.device or '-'}, "
            f"precision {prec}")


def epoch_text(run_id: int, row: dict, epochs: int, run_eta: float | None, study_eta: float | None) -> str:
    test = "" if row.get("test_acc") is None else f" test {100 * row['test_acc']:.2f}%"  # fits 80 columns
    eta = "" if run_eta is None else f"  eta {duration(run_eta)}"
    eta += "" if study_eta is None else f", study ≈{duration(study_eta)}"
    return (f"[run {run_id}] epoch {row['epoch']}/{epochs}  loss {row['train_loss']:.4f} "
            f"acc {100 * row['train_acc']:.2f}%{test}  {row['images_per_sec']:.0f} img/s{eta}")


def planned_left(store: Store, cfgs) -> tuple[int, int]:
    """(epochs still to train, 1) for an in-process study's planned configs,
    whose runs are created one after another (study_left would miss those not
    yet created): each config's epochs less those its furthest run has done."""
    left = 0
    for cfg in cfgs:
        done = max((r.epochs if r.status == Status.COMPLETED else r.epoch or 0 for r in store.find_runs(cfg.key())),
                   default=0)
        left += max(0, cfg.epochs - done)
    return left, 1


class EtaClock:
    """Wall seconds per epoch of one run since it (re)started, and the ETAs they give.
    ``left()``: (the study's epochs still to train, its runs training now)."""

    def __init__(self, store: Store | None = None, study: str | None = None,
                 left: Callable[[], tuple[int, int]] | None = None):
        self.left = left or ((lambda: study_left(store, study)) if store is not None and study else None)

    def start(self, start_epoch: int) -> None:
        self.t0, self.first = time.monotonic(), start_epoch

    def etas(self, epoch: int, epochs: int) -> tuple[float | None, float | None]:
        done = epoch - self.first
        if done <= 0:
            return None, None
        per = (time.monotonic() - self.t0) / done
        run_eta = per * (epochs - epoch)
        if self.left is None:
            return run_eta, None
        left, live = self.left()
        return run_eta, per * left / max(1, live)


class LineReporter(Reporter):
    """A study's run as plain lines, through ``say`` (a print, a logger)."""

    def __init__(self, say: Say, store: Store | None = None, study: str | None = None, left=None):
        self.say, self.clock = say, EtaClock(store, study, left)

    def start(self, run, start_epoch):
        self.run_id, self.epochs = run.id, run.epochs
        self.clock.start(start_epoch)
        self.say(start_text(run, start_epoch))

    def epoch(self, row):
        self.say(epoch_text(self.run_id, row, self.epochs, *self.clock.etas(row["epoch"], self.epochs)))


def sweep_progress(say: Say, label: str, parts: int = 4) -> Callable[[int, int], None]:
    """A sweep's progress callback (done, total) that says a line at each quarter, with an ETA."""
    t0, shown = time.monotonic(), [0]

    def progress(done: int, total: int) -> None:
        step = min(parts, total) and done * min(parts, total) // total
        if total and step > shown[0]:
            shown[0] = step
            left = (time.monotonic() - t0) / done * (total - done)
            say(f"{label}: {done}/{total}" + (f"  eta {duration(left)}" if done < total else "  done"))

    return progress


__all__ = ["EtaClock", "LineReporter", "duration", "epoch_text", "planned_left", "start_text", "study_left", "sweep_progress"]
