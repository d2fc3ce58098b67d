"""Messages that workers and actions post (post_message is thread-safe)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message


@dataclass
class RunsLoaded(Message):
    """A fresh snapshot of all runs, or the reason there is none."""

    views: list[Any] | None
    error: str | None = None


@dataclass
class DetailLoaded(Message):
    detail: Any | None
    error: str | None = None


@dataclass
class CompareLoaded(Message):
    comparison: Any | None
    error: str | None = None
    sharpness: tuple[list[dict], list[str]] = ([], [])  # nawt_core.sharp_robust.sharpness_points


@dataclass
class ActionDone(Message):
    """A run action (launch, stop, delete, export, …) finished; the app shows it and signals
    `runs_changed` with it, so the open screens reload (and the runs table moves to `run_id`)."""

    message: str
    ok: bool = True
    run_id: int | None = None
    deleted: int | None = None
