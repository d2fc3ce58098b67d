"""Two runs side by side: their configs, the differences highlighted, and their results."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from nawt_core.runview import config_diff, fmt_num, fmt_value, run_tags

from ..data import fmt_acc


def results(run: Any, status: str) -> dict[str, str]:
    return {
        "status": status, "final test %": fmt_acc(run.final_test_acc), "best test %": fmt_acc(run.best_test_acc),
        "epochs": f"{run.epoch}/{run.epochs}", "train seconds": fmt_num(round(run.train_seconds or 0, 1)),
        "img/s": "—" if run.images_per_sec is None else f"{run.images_per_sec:,.0f}",
        "device": run.device or "—", "tags": " ".join(run_tags(run)) or "—", "note": run.notes or "—",
    }


def diff_table(a: Any, b: Any, show_all: bool, accent: str = "yellow",
               statuses: tuple[str, str] | None = None) -> tuple[Table, int]:
    """The diff as a Rich table, and how many equal settings it leaves out (statuses: effective ones)."""
    rows = config_diff(a.config or {}, b.config or {})
    t = Table(header_style="bold", expand=True)
    t.add_column("setting", no_wrap=True)
    t.add_column(f"#{a.id} {a.name or a.method}", overflow="fold", ratio=1)
    t.add_column(f"#{b.id} {b.name or b.method}", overflow="fold", ratio=1)
    for k, va, vb, differs in rows:
        if not differs and not show_all:
            continue
        style = f"bold {accent}" if differs else "dim"
        t.add_row(Text(("● " if differs else "  ") + k, style=style), Text(fmt_value(va, "—"), style=style),
                  Text(fmt_value(vb, "—"), style=style))
    t.add_section()
    sa, sb = statuses or (a.status, b.status)
    ra, rb = results(a, sa), results(b, sb)
    for k in ra:
        style = "bold" if ra[k] != rb[k] else ""
        t.add_row(Text(k, style="italic"), Text(ra[k], style=style), Text(rb[k], style=style))
    return t, sum(1 for row in rows if not row[3])


class DiffScreen(Screen):
    BINDINGS = [Binding("escape", "back", "Back"), Binding("a", "toggle_all", "All settings")]

    def __init__(self, a: int, b: int) -> None:
        super().__init__(id="diff-screen")
        self.ids = (a, b)
        self.runs: tuple[Any, Any] | None = None
        self.statuses: tuple[str, str] | None = None
        self.show_all = False

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll():
            yield Static(f"loading runs #{self.ids[0]} and #{self.ids[1]}…", id="diff-body")
            yield Static("", id="diff-note")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = f"diff #{self.ids[0]} #{self.ids[1]}"
        self._load()

    @work(thread=True, exit_on_error=False)
    def _load(self) -> None:
        try:
            found = {r.id: r for r in self.app.source.runs(list(self.ids))}
            runs = (found[self.ids[0]], found[self.ids[1]])
            now = self.app.source.now()
            self.statuses = (self.app.source.status_of(runs[0], now), self.app.source.status_of(runs[1], now))
        except Exception as e:  # a deleted run, a locked database: say so, never crash
            self.app.call_from_thread(self._show_error, str(e) or type(e).__name__)
        else:
            self.app.call_from_thread(self._show, runs)

    def _show_error(self, text: str) -> None:
        self.query_one("#diff-body", Static).update(Text(f"cannot load the runs: {text}", style="bold red"))

    def _show(self, runs: tuple[Any, Any]) -> None:
        self.runs = runs
        table, equal = diff_table(*runs, self.show_all, self.app.current_theme.warning or "yellow", self.statuses)
        self.query_one("#diff-body", Static).update(table)
        note = "" if self.show_all or not equal else f"{equal} equal settings hidden · a shows them"
        self.query_one("#diff-note", Static).update(Text(note, style="dim"))

    def action_toggle_all(self) -> None:
        self.show_all = not self.show_all
        if self.runs is not None:
            self._show(self.runs)

    def action_back(self) -> None:
        self.app.pop_screen()
