"""Torch-free data access for the TUI: run views, formatting, evaluation curves.

Everything here runs in worker threads (never on the UI thread) and turns
store rows into small immutable views the screens can diff cheaply.
"""

from __future__ import annotations

import math
import os
import socket
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from nawt_core import spec
from nawt_core.runview import run_settings, run_tags

STATUS_FILTERS = ("running", "queued", "completed", "failed", "interrupted", "stale")


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def naive(dt: datetime | None) -> datetime | None:
    """Naive UTC, whether the store hands back aware or naive datetimes."""
    if dt is None or dt.tzinfo is None:
        return dt
    return dt.astimezone(timezone.utc).replace(tzinfo=None)


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
def fmt_duration(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds < 0:
        return "—"
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}m{s:02d}s"
    h, m = divmod(m, 60)
    if h < 100:
        return f"{h}h{m:02d}m"
    d, h = divmod(h, 24)
    return f"{d}d{h:02d}h"


def fmt_acc(x: float | None, digits: int = 2) -> str:
    """An accuracy (a fraction in the store) as a percentage, like the CLI: 0.5852 -> '58.52'."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"{100 * x:.{digits}f}"


def pct(x: float | None) -> float | None:
    """A fraction as percent points, for plots (None stays None)."""
    return None if x is None else 100 * x


def fmt_float(x: float | None, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"{x:.{digits}f}"


def fmt_rate(x: float | None) -> str:
    if not x:
        return "—"
    return f"{x:,.0f}" if x >= 100 else f"{x:.1f}"


def fmt_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def progress_bar(fraction: float, width: int = 10) -> str:
    """A bar of eighth blocks, `width` cells wide."""
    fraction = min(max(fraction, 0.0), 1.0)
    eighths = int(round(fraction * width * 8))
    full, part = divmod(eighths, 8)
    bar = "█" * full
    if full < width:
        bar += (" ▏▎▍▌▋▊▉"[part] if part else "") + " " * (width - full - (1 if part else 0))
    return bar


# ------------------------------------------------------------------ run views
@dataclass(frozen=True)
class RunView:
    id: int
    name: str
    method: str
    status: str  # effective status (stale for a crashed running run)
    stored_status: str
    epoch: int
    epochs: int
    batch: int
    batches: int
    train_loss: float | None
    test_acc: float | None
    best_test_acc: float | None
    images_per_sec: float | None
    elapsed_s: float | None
    eta_s: float | None
    device: str
    study: str | None
    host: str
    pid: int | None
    run_dir: str
    train_seconds: float
    created_at: datetime | None
    stop_requested: bool = False
    settings: tuple[tuple[str, Any], ...] = ()  # config items that can differ between runs
    tags: tuple[str, ...] = ()
    notes: str = ""

    @property
    def fraction(self) -> float:
        if not self.epochs:
            return 0.0
        done = self.epoch
        if self.status == "running" and self.batches and self.epoch < self.epochs:
            done += min(self.batch, self.batches) / self.batches
        return min(done / self.epochs, 1.0)

    @property
    def live(self) -> bool:
        return self.status in ("running", "queued")

    def cell_text(self) -> dict[str, str]:
        """Plain text of every column (what the CSV export writes, formatted)."""
        return {
            "id": str(self.id),
            "name": self.name,
            "method": self.method,
            "status": self.status + (" (stopping)" if self.stop_requested and self.live else ""),
            "progress": f"{self.epoch}/{self.epochs}",
            "loss": fmt_float(self.train_loss),
            "acc": fmt_acc(self.test_acc),
            "best": fmt_acc(self.best_test_acc),
            "ips": fmt_rate(self.images_per_sec),
            "elapsed": fmt_duration(self.elapsed_s),
            "eta": fmt_duration(self.eta_s) if self.status == "running" else "—",
            "device": self.device,
            "study": self.study or "—",
            "tags": " ".join(self.tags) or "—",
        }

    def sort_value(self, column: str) -> Any:
        values = {
            "id": self.id,
            "name": self.name.lower(),
            "method": spec.order(self.method),
            "status": self.status,
            "progress": self.fraction,
            "loss": self.train_loss,
            "acc": self.test_acc,
            "best": self.best_test_acc,
            "ips": self.images_per_sec,
            "elapsed": self.elapsed_s,
            "eta": self.eta_s,
            "device": self.device,
            "study": self.study or "",
            "tags": " ".join(self.tags),
        }
        v = values.get(column, self.id)
        # None sorts last in ascending order
        return (v is None, v if v is not None else 0, self.id)

    def csv_row(self) -> dict[str, Any]:
        return {k: float(f"{v:.10g}") if isinstance(v, float) else v for k, v in self._csv_row().items()}

    def _csv_row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "method": self.method,
            "status": self.status,
            "study": self.study or "",
            "epoch": self.epoch,
            "epochs": self.epochs,
            "train_loss": "" if self.train_loss is None else self.train_loss,
            "test_acc": "" if self.test_acc is None else self.test_acc,
            "best_test_acc": "" if self.best_test_acc is None else self.best_test_acc,
            "images_per_sec": "" if self.images_per_sec is None else self.images_per_sec,
            "elapsed_s": "" if self.elapsed_s is None else round(self.elapsed_s, 1),
            "eta_s": "" if self.eta_s is None else round(self.eta_s, 1),
            "train_seconds": round(self.train_seconds or 0.0, 1),
            "device": self.device,
            "tags": " ".join(self.tags),
        }


CSV_FIELDS = (
    "id", "name", "method", "status", "study", "epoch", "epochs", "train_loss", "test_acc",
    "best_test_acc", "images_per_sec", "elapsed_s", "eta_s", "train_seconds", "device", "tags",
)


def run_view(run: Any, now: datetime, status: str) -> RunView:
    """A view of one Run row at time `now` (naive UTC)."""
    elapsed: float | None = None
    started, finished, beat = naive(run.started_at), naive(run.finished_at), naive(run.heartbeat_at)
    if started is not None:
        end = finished if finished is not None and status != "running" else None
        if status == "running":
            end = now
        elif end is None:
            end = beat
        if end is not None:
            elapsed = max((end - started).total_seconds(), 0.0)
    if elapsed is None and run.train_seconds:
        elapsed = run.train_seconds
    eta: float | None = None
    if status == "running" and run.epochs:
        done = run.epoch + ((run.batch / run.batches) if run.batches and run.epoch < run.epochs else 0.0)
        remaining = max(run.epochs - done, 0.0)
        if run.epoch > 0 and run.train_seconds > 0:
            eta = remaining * run.train_seconds / run.epoch
        elif run.images_per_sec and run.batches:
            bs = (run.config or {}).get("batch_size") or 128
            eta = remaining * run.batches * bs / run.images_per_sec
        elif elapsed and done > 0:
            eta = elapsed * remaining / done
    return RunView(
        id=run.id,
        name=run.name or "",
        method=run.method or "",
        status=status,
        stored_status=run.status,
        epoch=run.epoch or 0,
        epochs=run.epochs or 0,
        batch=run.batch or 0,
        batches=run.batches or 0,
        train_loss=run.train_loss,
        test_acc=run.test_acc if run.final_test_acc is None else run.final_test_acc,
        best_test_acc=run.best_test_acc,
        images_per_sec=run.images_per_sec,
        elapsed_s=elapsed,
        eta_s=eta,
        device=run.device or (run.config or {}).get("device", ""),
        study=run.study,
        host=run.host or "",
        pid=run.pid,
        run_dir=run.run_dir or "",
        train_seconds=run.train_seconds or 0.0,
        created_at=naive(run.created_at),
        stop_requested=bool(run.stop_requested),
        settings=tuple(run_settings(run).items()),
        tags=tuple(run_tags(run)),
        notes=run.notes or "",
    )


# ------------------------------------------------------------------ eval curves
@dataclass
class Curve:
    """An evaluation summarised per parameter: mean, std, min over trials."""

    evaluation_id: int
    kind: str
    label: str
    params: list[float] = field(default_factory=list)
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)
    minimum: list[float] = field(default_factory=list)
    trials: list[int] = field(default_factory=list)


def summarize_points(points: list[Any]) -> tuple[list[float], list[float], list[float], list[float], list[int]]:
    by: dict[float, list[float]] = {}
    for p in points:
        by.setdefault(float(p.param), []).append(float(p.accuracy))
    params = sorted(by)
    mean, std, mins, ns = [], [], [], []
    for k in params:
        xs = by[k]
        m = sum(xs) / len(xs)
        var = sum((x - m) ** 2 for x in xs) / (len(xs) - 1) if len(xs) > 1 else 0.0
        mean.append(m)
        std.append(math.sqrt(var))
        mins.append(min(xs))
        ns.append(len(xs))
    return params, mean, std, mins, ns


def eval_label(ev: Any) -> str:
    cfg = ev.config or {}
    if ev.kind == "robustness":
        return f"robustness ({cfg.get('mode', 'absolute')})"
    if ev.kind == "quantization":
        return f"quantization ({cfg.get('granularity', 'channel')})"
    return ev.kind


@dataclass
class RunDetail:
    run: Any
    status: str
    view: RunView
    epochs: list[Any]
    evaluations: list[Any]
    curves: dict[int, Curve]
    files: list[tuple[str, int, datetime]]
    log_tail: list[str]
    eval_status: dict[int, str] = field(default_factory=dict)  # stale: its process is gone

    @property
    def evaluating(self) -> bool:
        return any(st in ("queued", "running") for st in self.eval_status.values())


# ------------------------------------------------------------------ data source
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
                    self._store = Store(self.db_url, create=False)
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
            return [run_view(r, now, self.status_of(r, now)) for r in store.list_runs()]

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
            for ev in evs:
                if ev.kind not in ("robustness", "quantization"):
                    continue
                params, mean, std, mins, ns = summarize_points(store.points(ev.id))
                curves[ev.id] = Curve(ev.id, ev.kind, eval_label(ev), params, mean, std, mins, ns)
            return RunDetail(run, status, run_view(run, now, status), store.epochs(run_id), evs,
                             curves, [], [])

        detail = self._call(load)
        detail.files = list_files(detail.run.run_dir)
        detail.log_tail = tail_file(detail.run.log_path or (
            str(Path(detail.run.run_dir) / "train.log") if detail.run.run_dir else ""), 200)
        for ev in detail.evaluations:
            detail.eval_status[ev.id] = self.eval_status_of(ev)
            if ev.log_path:  # each evaluation's own log, after the training's
                tail = tail_file(ev.log_path, 40)
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

    def compare(self, run_ids: list[int] | None, study: str | None, mode: str) -> Any:
        try:
            from nawt_core.compare import compare
        except ImportError as e:
            raise DataError(f"comparison unavailable: {_short(e)}") from None
        return self._call(lambda s: compare(s, run_ids=run_ids, study=study, mode=mode))

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
