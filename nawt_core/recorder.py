"""What `nawt eval` and `nawt study` record around each evaluation: a queued row per run
at once (the TUI shows it before the model is even loaded), progress in the store now
and then, and a log in the run's folder (`runs/<id>/eval-<evaluation id>.log`). Torch-free."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import Any, Callable

from .errors import Failed, NawtError
from .status import Status

PROGRESS_EVERY_S = 2.0  # store writes: at most one every this many seconds


class EvalRecorder:
    def __init__(self, store: Any, run_ids: list[int], kind: str, options: dict[str, Any]):
        self.store = store
        self.rows = {rid: store.create_evaluation(run_id=rid, kind=kind, config=dict(options), status=Status.QUEUED,
                                                  host=socket.gethostname(), pid=os.getpid())
                     for rid in run_ids}

    def run(self, rid: int, sweep: Callable[..., Any], show: Callable[[int, int], None] = lambda d, t: None) -> Any:
        """Runs `sweep(evaluation=..., progress=...)` for run `rid`, logging to the run folder."""
        ev = self.rows[rid]
        run = self.store.get_run(rid)
        log = _open_log(self.store.folder(run), ev.id)  # the run's folder in this data dir (a copy's own)
        self.store.update_evaluation(ev.id, log_path=self.store.stored(log.name) if log else None)
        last = [0.0, -1]

        def progress(done: int, total: int) -> None:
            show(done, total)
            now = time.monotonic()
            if now - last[0] >= PROGRESS_EVERY_S or done == total:
                last[0] = now
                self.store.update_evaluation(ev.id, progress=done / total if total else None)
            tenth = 10 * done // total if total else 0
            if log and tenth != last[1]:
                last[1] = tenth
                _write(log, f"{done}/{total} done")

        _write(log, f"evaluation {ev.id}: {ev.kind} of run {rid} ({run.method} {run.name}) {ev.config}")
        t0 = time.perf_counter()
        try:
            result = sweep(evaluation=ev, progress=progress)
            self.store.update_evaluation(ev.id, progress=1.0)
            _write(log, f"completed in {time.perf_counter() - t0:.1f} s; clean accuracy "
                   f"{100 * (result.clean_acc or 0):.2f} %")
            return result
        except BaseException as e:
            why = "interrupted" if isinstance(e, KeyboardInterrupt) else str(e) or type(e).__name__
            _write(log, f"error: {why}")
            self.store.update_evaluation(ev.id, status=Status.FAILED, error=why[:500])
            if isinstance(e, NawtError) and not isinstance(e, Failed):
                raise Failed(str(e)) from None  # recorded and started: a failure (exit 1), not bad input
            raise
        finally:
            if log:
                log.close()

    def __enter__(self) -> "EvalRecorder":
        return self

    def __exit__(self, et, e, tb) -> bool:
        if et is not None:
            self.abandon("an earlier evaluation in the same command stopped"
                         if et is not KeyboardInterrupt else "interrupted")
        return False

    def abandon(self, why: str) -> None:
        """Queued rows that will never start (an earlier one failed) say so."""
        for ev in self.rows.values():
            now = next((e for e in self.store.evaluations(ev.run_id) if e.id == ev.id), None)
            if now is not None and now.status == Status.QUEUED:
                self.store.update_evaluation(ev.id, status=Status.FAILED, error=f"not started: {why}"[:500])


def _open_log(run_dir: Path | None, eval_id: int):
    if run_dir is None:
        return None
    try:
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        return open(Path(run_dir) / f"eval-{eval_id}.log", "a", buffering=1)
    except OSError:
        return None  # an unwritable folder must not stop the evaluation itself


def _write(fh, line: str) -> None:
    if fh:
        fh.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}\n")
