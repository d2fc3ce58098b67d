"""The workers view: every `nawt worker` (local slots, Ray tasks) that has used this store."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from ..data import DataError, fmt_duration
from ..styles import status_style

HEADERS = ("worker", "host", "device", "state", "run", "done", "heartbeat")
STATE_STYLE = {"running": "running", "idle": "queued", "stopped": "interrupted", "stale": "stale"}


class WorkersScreen(Screen):
    """Workers, newest last: where they run, what they execute, and whether they still beat."""

    BINDINGS = [Binding("escape", "back", "Back"), Binding("W", "back", "Runs", show=False)]

    def __init__(self) -> None:
        super().__init__(id="workers-screen")
        self._timer: Any = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(id="workers-table", cursor_type="row", zebra_stripes=True)
        yield Static("loading…", id="workers-note")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.sub_title = "workers"
        self.query_one(DataTable).add_columns(*HEADERS)
        self.reload()
        self._timer = self.set_interval(self.app.refresh_interval, self.reload)

    @work(thread=True, exit_on_error=False, group="workers-load", exclusive=True)
    def reload(self) -> None:
        try:
            rows, error = self.app.source.worker_rows(), None
        except DataError as e:
            rows, error = None, str(e)
        self.app.call_from_thread(self._show, rows, error)

    def _show(self, rows: list[dict[str, Any]] | None, error: str | None) -> None:
        note = self.query_one("#workers-note", Static)
        if rows is None:
            note.update(Text(f"⚠ {error}", style="bold red"))
            return
        table = self.query_one(DataTable)
        cursor = table.cursor_row
        table.clear()
        for r in rows:
            state = r["state"] + (" ⚠" if r["state"] == "stale" else "")
            table.add_row(r["id"], r["host"], r["device"] + (f" · {r['threads']} thr" if r["threads"] else ""),
                          Text(state, style=status_style(self.app, STATE_STYLE.get(r["state"], "queued"))),
                          "—" if r["run_id"] is None else str(r["run_id"]), str(r["runs_done"]),
                          "—" if r["beat_age"] is None else f"{fmt_duration(r['beat_age'])} ago",
                          key=r["id"])
        if rows:
            table.move_cursor(row=min(cursor, len(rows) - 1))
        stale = sum(r["state"] == "stale" for r in rows)
        busy = sum(r["state"] == "running" for r in rows)
        note.update("No worker has used this store yet: `nawt worker`, `nawt study --jobs N` or "
                    "`--backend ray` start them." if not rows else
                    f"{len(rows)} workers · {busy} running" + (f" · {stale} stale (silent or gone: their runs "
                                                                "are re-queued)" if stale else ""))

    def action_back(self) -> None:
        self.app.pop_screen()
