"""The nawt TUI: `run_tui(db_url, data_dir, cifar_dir=None)` opens it.

Cheap to import (no store, no torch): the store is opened in a worker thread
on first refresh, so the first screen shows at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Callable, Iterable

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.signal import Signal

from . import actions
from .data import DataSource
from .messages import ActionDone
from .screens.runs import RunsScreen


class NawtApp(App):
    CSS_PATH = "nawt.tcss"
    TITLE = "nawt"
    SUB_TITLE = "noise-aware weight training"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS = [
        Binding("question_mark", "help", "Help"),
        Binding("T", "toggle_theme", "Theme", show=False),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, db_url: str, data_dir: str, *, cifar_dir: str | None = None,
                 now: Callable[[], datetime] | None = None, refresh_interval: float = 1.0,
                 host: str | None = None) -> None:
        super().__init__()
        self.source = DataSource(db_url, data_dir, now=now, host=host, cifar_dir=cifar_dir)
        self.refresh_interval = refresh_interval
        self.runs_screen = RunsScreen()  # the base screen, under every other

    def get_default_screen(self) -> Screen:
        return self.runs_screen

    def on_mount(self) -> None:
        # published after every run action: screens showing runs reload, without knowing who acted
        self.runs_changed: Signal[ActionDone] = Signal(self, "runs_changed")

    def on_action_done(self, message: ActionDone) -> None:
        self.notify(message.message, severity="information" if message.ok else "error",
                    timeout=6 if message.ok else 10)
        self.runs_changed.publish(message)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Runs: new training run", "Open the new-run form (n)", self._on_runs("new_run"))
        yield SystemCommand("Runs: compare", "Compare marked (or shown) runs (c)", self._on_runs("compare"))
        yield SystemCommand("Runs: start a study", "nawt study --preset … (S)", lambda: actions.study(self))
        yield SystemCommand("Runs: export CSV", "Write the runs table to a CSV file (w)", self._on_runs("export"))
        yield SystemCommand("Runs: clear filters", "Show every run (esc)", self._on_runs("clear_filters"))
        yield SystemCommand("Runs: stop run", "Stop the run under the cursor (x)", self._on_runs("stop"))
        yield SystemCommand("Runs: resume run", "Resume the run under the cursor (r)", self._on_runs("resume"))
        yield SystemCommand("Runs: evaluate", "Evaluate marked runs or the one under the cursor (e)",
                            self._on_runs("evaluate"))
        yield SystemCommand("Runs: delete run", "Delete the run under the cursor (d)", self._on_runs("delete"))
        yield SystemCommand("Toggle dark / light", "Switch between the dark and light theme (T)",
                            self.action_toggle_theme)
        yield SystemCommand("Help: key bindings", "Every key binding (?)", self.action_help)

    def _on_runs(self, action: str) -> Callable[[], None]:
        """A palette command that acts on the runs table: back to it, then its key binding's action."""

        async def run() -> None:
            while len(self.screen_stack) > 1:
                self.pop_screen()
            await self.run_action(action, self.runs_screen)

        return run

    def action_help(self) -> None:
        from .screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_toggle_theme(self) -> None:
        self.theme = "textual-light" if self.current_theme.dark else "textual-dark"


def run_tui(db_url: str, data_dir: str, cifar_dir: str | None = None) -> None:
    """Opens the TUI on the store at `db_url`; returns when the user quits.

    `cifar_dir` (from `nawt --cifar-dir` or NAWT_CIFAR_DIR) is where CIFAR-10 is
    read when it is not under `data_dir`; every process the TUI launches gets it."""
    NawtApp(db_url, data_dir, cifar_dir=cifar_dir).run()


if __name__ == "__main__":  # pragma: no cover
    import sys

    run_tui(sys.argv[1] if len(sys.argv) > 1 else "sqlite:///data/nawt.db",
            sys.argv[2] if len(sys.argv) > 2 else "data",
            sys.argv[3] if len(sys.argv) > 3 else None)
