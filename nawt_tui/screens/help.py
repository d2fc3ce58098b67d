"""Help: every key binding of every screen."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from nawt_core import evalspec

def _tab_keys(tabs: int) -> str:
    """The compare screen's tab keys: 1 to 9, then 0 for the tenth (as CompareScreen binds them)."""
    return f"1-{tabs}" if tabs < 10 else "1-9, 0"


SECTIONS: list[tuple[str, list[tuple[str, str]]]] = [
    ("Everywhere", [
        ("?", "this help"), ("ctrl+p", "command palette (all actions, themes)"),
        ("T", "toggle dark / light theme"), ("esc", "back / close"), ("q", "quit (trainings go on)"),
    ]),
    ("Runs", [
        ("↑ ↓ pgup pgdn", "move"), ("enter", "run detail"), ("space", "mark / unmark a run"),
        ("n", "new run (training)"), ("c", "compare marked runs (or all shown)"),
        ("x", "stop the run (graceful: it becomes interrupted, resumable)"),
        ("r", "resume an interrupted, stale or failed run"),
        ("e", f"evaluate marked runs or this one ({', '.join(evalspec.names())})"),
        ("S", "start a study"), ("w", "export the table as shown to CSV"),
        ("W", "workers: host, device, current run, last heartbeat (stale ones marked)"),
        ("d", "delete the run and its folder (asks first)"),
        ("D", "diff: two marked runs' settings side by side"),
        ("p", "training curves of the marked (or shown) runs overlaid"),
        ("t", "edit the run's tags"),
        ("/", "filter by text (name, study, tags, note; tag:NAME for one tag)"),
        ("m", "cycle the method filter"), ("f", "cycle the status filter"),
        ("o / O", "sort by the next column / reverse (or click a header)"),
        ("esc", "clear filters, then marks"),
    ]),
    ("Run detail", [
        ("1-5", "tabs: curves, config, files, evaluations, log"), ("x r e", "stop, resume, evaluate"),
        ("esc", "back to runs"),
    ]),
    ("Workers", [("esc / W", "back to runs")]),
    ("Diff", [("a", "show / hide the equal settings"), ("esc", "back")]),
    ("Compare", [
        (_tab_keys(len(evalspec.evaluations()) + 4),
         f"tabs: accuracy & time, {', '.join(s.name for s in evalspec.evaluations())}, runs, plots, trade-off"),
        ("", "one row per method and settings; completed runs only; follows new results live"),
        ("s", "choose a study"), ("a", "on an evaluation's tab: its next variant"),
        *[("", f"{s.name} {s.variant}: {' / '.join(s.option(s.variant).choices)}")
          for s in evalspec.evaluations() if s.variant],
        ("w", "write the report (report.html + report.md, in the study's folder)"),
        ("space", "in the runs tab: include / exclude a run"), ("esc", "back"),
    ]),
    ("New run", [
        ("tab / shift+tab", "next / previous field"), ("ctrl+s", "validate and launch"),
        ("esc", "cancel"),
    ]),
]


def help_table() -> Table:
    t = Table.grid(padding=(0, 2))
    t.add_column(style="bold", no_wrap=True)
    t.add_column()
    for title, rows in SECTIONS:
        t.add_row(Text(title, style="bold underline"), "")
        for key, what in rows:
            t.add_row(key, what)
        t.add_row("", "")
    return t


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static("[b]nawt[/b] — noise-aware weight training · key bindings", id="help-title")
            yield Static(help_table())
            src = self.app.source
            yield Static(f"database: {src.display_url}\ndata dir: {src.data_dir}"
                         + (f"\nCIFAR-10 dir: {src.cifar_dir}" if src.cifar_dir else ""), id="help-db")

    def action_close(self) -> None:
        self.dismiss(None)
