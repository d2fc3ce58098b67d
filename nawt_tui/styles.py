"""Styles shared by the screens (the layout itself is in nawt.tcss)."""

from __future__ import annotations

from typing import Any


def status_style(app: Any, status: str) -> str:
    theme = app.current_theme
    return {
        "running": f"bold {theme.success or 'green'}",
        "queued": theme.secondary or "blue",
        "completed": theme.primary or "blue",
        "failed": f"bold {theme.error or 'red'}",
        "stale": f"bold {theme.warning or 'yellow'}",
        "interrupted": theme.warning or "yellow",
        "stopping": f"italic {theme.warning or 'yellow'}",
    }.get(status, "")
