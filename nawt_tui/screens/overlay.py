"""Training curves of several runs overlaid: test accuracy and training loss per epoch."""

from __future__ import annotations

from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from ..data import pct
from ..widgets.plots import COLORS, LinePlot

MAX_RUNS = len(COLORS)  # one distinct colour per run


class OverlayScreen(Screen):
    BINDINGS = [Binding("escape", "back", "Back")]

    def __init__(self, run_ids: list[int]) -> None:
        super().__init__(id="overlay-screen")
        self.run_ids = run_ids[:MAX_RUNS]
        self.left_out = run_ids[MAX_RUNS:]
        self.loaded: list[tuple[Any, list[Any]]] | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("loading…", id="overlay-note")
        with Grid(id="overlay-grid"):
            yield LinePlot("test accuracy %", "epoch", id="overlay-acc")
            yield LinePlot("train loss", "epoch", id="overlay-loss")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = "curves of " + " ".join(f"#{i}" for i in self.run_ids)
        self._load()

    @work(thread=True, exit_on_error=False)
    def _load(self) -> None:
        try:
            loaded = self.app.source.curves(self.run_ids)
        except Exception as e:
            self.app.call_from_thread(self.query_one("#overlay-note", Static).update, f"⚠ {e}")
        else:
            self.app.call_from_thread(self._show, loaded)

    def _show(self, loaded: list[tuple[Any, list[Any]]]) -> None:
        self.loaded = loaded
        acc, loss = [], []
        for i, (run, epochs) in enumerate(loaded):
            label = f"#{run.id} {run.name or run.method}"
            xs = [float(e.epoch) for e in epochs]
            color = COLORS[i % len(COLORS)]
            acc.append((label, xs, [pct(e.test_acc) for e in epochs], color))
            loss.append((label, xs, [e.train_loss for e in epochs], color))
        self.query_one("#overlay-acc", LinePlot).set_series(acc)
        self.query_one("#overlay-loss", LinePlot).set_series(loss)
        note = f"{len(loaded)} runs"
        if self.left_out:
            note += f" · {len(self.left_out)} more marked runs not drawn (at most {MAX_RUNS})"
        self.query_one("#overlay-note", Static).update(note)

    def action_back(self) -> None:
        self.app.pop_screen()
