"""What the screens show of a run, its evaluations and its detail, and how numbers are written.

Small immutable views built in worker threads from store rows (nawt_tui.data reads them);
the screens diff them cheaply.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from nawt_core import evalspec, spec
from nawt_core.hardware import device_kind, short_device
from nawt_core.runview import run_settings, run_tags
from nawt_core.stats import mean_sd
from nawt_core.textsafe import printable


def naive(dt: datetime | None) -> datetime | None:
    """Naive UTC, whether the store hands back aware or naive datetimes."""
    if dt is None or dt.tzinfo is None:
        return dt
    return dt.astimezone(timezone.utc).replace(tzinfo=None)


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
    queue_place: int | None = None  # 1-based place of a queued run in the run queue
    worker: str = ""  # the worker that claimed the run (host-pid-suffix), for a running run

    @property
    def status_text(self) -> str:
        if self.stop_requested and self.live:
            return self.status + " (stopping)"
        return f"{self.status} #{self.queue_place}" if self.queue_place and self.status == "queued" else self.status

    @property
    def where(self) -> str:
        """Where a running run trains: device, host and worker (the tail of its id, as in the workers view);
        a narrow column cuts the worker first."""
        if self.status != "running":
            return "—"
        tail = self.worker.rsplit("-", 1)[-1] if self.worker else ""  # the worker id is host-pid-tail
        return " ".join(p for p in (device_short(self.device), self.host, tail and f"w:{tail}") if p)

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
            "status": self.status_text,
            "progress": f"{self.epoch}/{self.epochs}",
            "loss": fmt_float(self.train_loss),
            "acc": fmt_acc(self.test_acc),
            "best": fmt_acc(self.best_test_acc),
            "ips": fmt_rate(self.images_per_sec),
            "elapsed": fmt_duration(self.elapsed_s),
            "eta": fmt_duration(self.eta_s) if self.status == "running" else "—",
            "device": short_device(self.device),  # the GPU slot first: which GPU a live run uses
            "study": self.study or "—",
            "tags": " ".join(self.tags) or "—",
            "where": self.where,
        }

    def sort_value(self, column: str) -> Any:
        values = {
            "id": self.id,
            "name": self.name.lower(),
            "method": spec.order(self.method),
            "status": (self.status, self.queue_place or 0),
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
            "where": self.where,
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


def device_short(label: str) -> str:
    """cuda:0 or cpu from a stored device label ("NVIDIA H100 … (cuda:0)", "AMD EPYC · 1 thread · …")."""
    m = re.search(r"cuda:\d+", label or "")
    return m.group(0) if m else device_kind(label)


def run_view(run: Any, now: datetime, status: str, queue_place: int | None = None) -> RunView:
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
        name=printable(run.name or ""),  # escapes and control characters shown, never run
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
        tags=tuple(printable(t) for t in run_tags(run)),
        notes=printable(run.notes or "", newlines=True),
        queue_place=queue_place,
        worker=getattr(run, "worker_id", None) or "",
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
        m, sd = mean_sd(xs)
        mean.append(m)
        std.append(sd or 0.0)
        mins.append(min(xs))
        ns.append(len(xs))
    return params, mean, std, mins, ns


def eval_label(ev: Any) -> str:
    """The evaluation's kind, with the setting its spec names (``robustness (absolute)``)."""
    s = next((s for s in evalspec.evaluations() if s.name == ev.kind), None)
    if s is None or s.label_option is None:
        return ev.kind
    return f"{ev.kind} ({(ev.config or {}).get(s.label_option, s.option(s.label_option).default)})"


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
