"""The statuses of runs, evaluations and studies: one set of names, torch- and database-free."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """Compares equal to (and prints as) its value, so rows store and show plain strings."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    # shown, never stored: a queued or running row whose process is gone (store.effective_status)
    STALE = "stale"


__all__ = ["Status"]
