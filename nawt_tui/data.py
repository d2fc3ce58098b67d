"""Torch-free data access for the TUI: the DataSource that reads the store (views: nawt_tui.views).

Everything here runs in worker threads (never on the UI thread) and turns
store rows into small immutable views the screens can diff cheaply.
"""

from __future__ import annotations

import os
import socket
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from nawt_core import evalspec

from .views import (CSV_FIELDS, Curve, RunDetail, RunView, eval_label, fmt_acc, fmt_duration, fmt_float,  # noqa: F401
                    fmt_rate, fmt_size, naive, pct, progress_bar, run_view, summarize_points)

STATUS_FILTERS = ("running", "queued", "completed", "failed", "interrupted", "stale")


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def like(now: datetime, ref: datetime | None) -> datetime:
    """`now` (naive UTC) made aware when the store's datetimes are aware."""
    if ref is not None and ref.tzinfo is not None:
        return now.replace(tzinfo=timezone.utc)
    return now


def store_datetime(dt: datetime, column_type: object) -> datetime:
    """A datetime the store's column accepts (aware UTC for sqlmodel's UTCDateTime)."""
    if getattr(column_type, "timezone", False) or type(column_type).__name__ == "UTCDateTime":
        return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt
    return naive(dt)


class DataError(Exception):
    """A database problem the UI shows as a message (missing, locked, corrupt)."""


def _short(e: BaseException) -> str:
    text = str(getattr(e, "orig", None) or e)
    line = text.splitlines()[0] if text else type(e).__name__
    return line[:200]


# ------------------------------------------------------------------ formatting


class DataSource:
    """Opens the store lazily (in a worker) and turns its rows into views."""

    def __init__(self, db_url: str, data_dir: str, now: Callable[[], datetime] | None = None,
                 host: str | None = None, cifar_dir: str | None = None):
        self.db_url = db_url
        self.data_dir = data_dir
        self.cifar_dir = cifar_dir or None  # where CIFAR-10 is read when not under data_dir
        self.now = now or utcnow
        self.host = host or socket.gethostname()
        self._store: Any = None
        self._lock = threading.Lock()

    @property
    def display_url(self) -> str:
        from nawt_core.store import mask_url

        return mask_url(self.db_url)

    def cli_args(self) -> list[str]:
        """`--db --data-dir [--cifar-dir]` for every `nawt` process the TUI launches."""
        from .launch import common_args

        return common_args(self.db_url, self.data_dir, self.cifar_dir)

    def store(self) -> Any:
        with self._lock:
            if self._store is None:
                try:
                    from nawt_core.store import Store
                except Exception as e:  # pragma: no cover - broken install
                    raise DataError(f"cannot load the store: {_short(e)}") from None
                try:
                    self._store = Store(self.db_url, create=False, home=self.data_dir)
                except Exception as e:
                    raise DataError(_short(e)) from None
            return self._store

    def _call(self, fn: Callable[[Any], Any]) -> Any:
        store = self.store()
        try:
            return fn(store)
        except DataError:
            raise
        except Exception as e:
            msg = _short(e)
            if "locked" in msg:
                msg = f"the database is locked ({msg}); retrying"
            raise DataError(msg) from None

    def status_of(self, run: Any, now: datetime) -> str:
        from nawt_core.store import effective_status

        ref = run.heartbeat_at or run.started_at or run.created_at
        return effective_status(run, now=like(now, ref), host=self.host)

    def run_views(self) -> list[RunView]:
        now = self.now()

        def load(store: Any) -> list[RunView]:
            runs = store.list_runs()
            waiting = sorted((r for r in runs if r.status == "queued" and getattr(r, "queue_pos", None) is not None),
                             key=lambda r: (r.queue_pos, r.id))
            place = {r.id: i for i, r in enumerate(waiting, 1)}
            return [run_view(r, now, self.status_of(r, now), place.get(r.id)) for r in runs]

        return self._call(load)

    def worker_rows(self) -> list[dict[str, Any]]:
        """The workers view's rows: id, host, device, state (stale ones marked), run, heartbeat age."""
        now = self.now()

        def load(store: Any) -> list[dict[str, Any]]:
            from nawt_core import queue

            rows = []
            for w in queue.workers(store):
                beat = w.heartbeat_at
                age = None if beat is None else (like(now, beat) - beat).total_seconds()
                rows.append({"id": w.id, "host": w.host, "device": w.device, "threads": w.threads,
                             "state": queue.worker_state(w, like(now, beat or w.started_at)),
                             "run_id": w.run_id, "runs_done": w.runs_done, "beat_age": age})
            return rows

        return self._call(load)

    def studies(self) -> list[Any]:
        return self._call(lambda s: s.list_studies())

    def runs(self, ids: list[int] | None = None) -> list[Any]:
        return self._call(lambda s: s.list_runs(ids=ids))

    def run_detail(self, run_id: int) -> RunDetail:
        now = self.now()

        def load(store: Any) -> RunDetail:
            run = store.get_run(run_id)
            status = self.status_of(run, now)
            from nawt_core.store import effective_status

            evs = store.evaluations(run_id)
            for ev in evs:  # detached rows: the shown status (stale when its process is gone), never saved
                ev.status = effective_status(ev, host=self.host)
            curves: dict[int, Curve] = {}
            swept = {s.name for s in evalspec.sweeps()}
            for ev in evs:
                if ev.kind not in swept:
                    continue
                params, mean, std, mins, ns = summarize_points(store.points(ev.id))
                curves[ev.id] = Curve(ev.id, ev.kind, eval_label(ev), params, mean, std, mins, ns)
            return RunDetail(run, status, run_view(run, now, status), store.epochs(run_id), evs,
                             curves, [], [])

        detail = self._call(load)
        store = self.store()  # paths are recorded relative to the data dir
        folder = store.folder(detail.run)
        detail.files = list_files(str(folder or ""))
        detail.log_tail = tail_file(str(store.path(detail.run.log_path) or (folder / "train.log" if folder else "")),
                                    200)
        for ev in detail.evaluations:
            detail.eval_status[ev.id] = self.eval_status_of(ev)
            if ev.log_path:  # each evaluation's own log, after the training's
                tail = tail_file(str(store.path(ev.log_path)), 40)
                detail.log_tail += [f"── evaluation {ev.id} ({ev.kind}): {ev.log_path}", *tail]
        return detail

    def eval_status_of(self, ev: Any) -> str:
        """An evaluation whose process is gone from this host before it finished is stale."""
        from nawt_core.store import effective_status

        return effective_status(ev, host=self.host)

    def curves(self, run_ids: list[int]) -> list[tuple[Any, list[Any]]]:
        """Each run with its epoch rows (for overlaid training curves)."""
        return self._call(lambda s: [(r, s.epochs(r.id)) for r in s.list_runs(ids=run_ids)])

    def set_tags(self, run_id: int, tags: list[str]) -> Any:
        return self._call(lambda s: s.update_run(run_id, tags=tags))

    def compare(self, run_ids: list[int] | None, study: str | None, variants: dict[str, str] | None = None) -> Any:
        """nawt_core.compare for a selection, with the variant shown per evaluation (e.g. its mode)."""
        from nawt_core.compare import compare

        return self._call(lambda s: compare(s, run_ids=run_ids, study=study, variants=variants))

    def sharpness(self, comparison: Any) -> tuple[list[dict], list[str]]:
        """Each compared run's sharpness beside its AUC under Gaussian weight noise, and notes
        (nawt_core.sharp_robust, as `nawt plot sharpness` draws them); none when a kind is missing."""
        from nawt_core import sharp_robust

        if not sharp_robust.available():
            return [], []
        return self._call(lambda s: sharp_robust.sharpness_points(comparison, s))

    def write_report(self, comparison: Any) -> tuple[list[Any], str]:
        """`nawt report` for a comparison: the files written (HTML first) and a note on left-out figures."""
        from nawt_core.report import write

        return self._call(lambda s: write(s, comparison, home=self.data_dir))

    def compare_signature(self, run_ids: list[int] | None, study: str | None) -> tuple:
        """What a comparison counts, cheaply: the selection's runs with their status
        and the completed evaluations (the compare screen recomputes when it changes)."""
        from nawt_core.compare import select_runs

        def load(store: Any) -> tuple:
            runs = select_runs(store, run_ids, study)
            ids = {r.id for r in runs}
            evs = [e.id for e in store.evaluations(completed_only=True) if e.run_id in ids]
            return tuple((r.id, r.status, r.final_test_acc) for r in runs), tuple(evs)

        return self._call(load)


def list_files(run_dir: str) -> list[tuple[str, int, datetime]]:
    """Files of a run folder (checkpoints, log, exports): name, size, mtime."""
    if not run_dir:
        return []
    root = Path(run_dir)
    out: list[tuple[str, int, datetime]] = []
    try:
        for dirpath, _dirs, files in os.walk(root):
            for f in files:
                p = Path(dirpath) / f
                try:
                    st = p.stat()
                except OSError:
                    continue
                out.append((str(p.relative_to(root)), st.st_size,
                            datetime.fromtimestamp(st.st_mtime, timezone.utc).replace(tzinfo=None)))
                if len(out) >= 500:
                    break
    except OSError:
        return []
    return sorted(out)


def tail_file(path: str, lines: int) -> list[str]:
    if not path:
        return []
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(size - 64 * 1024, 0))
            data = f.read().decode("utf-8", "replace")
    except OSError:
        return []
    return data.splitlines()[-lines:]
