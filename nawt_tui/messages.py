"""Messages that workers post back to the screens (post_message is thread-safe)."""

from __future__ import annotations

from typing import Any

from textual.message import Message


class RunsLoaded(Message):
    """A fresh snapshot of all runs, or the reason there is none."""

    def __init__(self, views: list[Any] | None, error: str | None = None) -> None:
        super().__init__()
        self.views = views
        self.error = error


class DetailLoaded(Message):
    def __init__(self, detail: Any | None, error: str | None = None) -> None:
        super().__init__()
        self.detail = detail
        self.error = error


class CompareLoaded(Message):
    def __init__(self, comparison: Any | None, error: str | None = None) -> None:
        super().__init__()
        self.comparison = comparison
        self.error = error


class ActionDone(Message):
    """An action (launch, stop, delete, export) finished in a worker."""

    def __init__(self, message: str, ok: bool = True, run_id: int | None = None) -> None:
        super().__init__()
        self.message = message
        self.ok = ok
        self.run_id = run_id
