"""What the run detail screen shows as text (no Textual here): rho's use, an evaluation's state,
its points a few a line and its axis order, a stored epoch as `nawt train` logs it."""

from __future__ import annotations

from typing import Any

from nawt_core import evalspec, spec
from nawt_core.errors import NawtError

from .data import naive


def uses_rho(method: str) -> bool:
    """A SAM method (its spec has a rho schedule); a method not registered here: unknown, so no."""
    m = next((m for m in spec.methods() if m.name == method), None)
    return m is not None and m.rho is not None


def eval_state(ev: Any, status: str | None) -> str:
    """queued / running 40% / completed / failed / stale (its process is gone)."""
    status = status or ev.status
    if status == "running" and ev.progress is not None:
        return f"running {100 * ev.progress:.0f}%"
    return status


def stamp(dt: Any) -> str:
    dt = naive(dt)
    return dt.strftime("%Y-%m-%d %H:%M:%S") if dt else "—"


def wrap_points(points: list[str], width: int) -> str:
    """An evaluation's points a few a line, so the summary column is not cut at 80 columns."""
    per = max(2, (width - 52) // 11)
    return "\n".join("  ".join(points[i:i + per]) for i in range(0, len(points), per))


def epoch_log_line(e, epochs: int) -> str:
    """One stored epoch as `nawt train` logs it."""
    test = "" if e.test_acc is None else f"  test acc {100 * e.test_acc:.2f}%"
    rho = "" if e.rho is None else f"  rho {e.rho:g}"
    return (f"epoch {e.epoch}/{epochs}  train loss {e.train_loss:.4f} acc {100 * e.train_acc:.2f}%{test}"
            f"  lr {e.lr:.4g}{rho}  {e.epoch_seconds:.1f}s  {e.images_per_sec:.0f} img/s")


def eval_param(kind: str) -> Any:
    """The swept parameter of evaluation ``kind`` (None: per-run scalars, or a plugin not loaded here)."""
    try:
        return evalspec.evaluation(kind).param
    except NawtError:
        return None


def descending(kind: str) -> bool:
    """Whether the kind's values run largest first (bit widths): tables and axes as in the PNGs."""
    param = eval_param(kind)
    return bool(param and param.descending)
