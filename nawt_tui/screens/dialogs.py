"""Small modal dialogs: confirm, prompt for a path, start an evaluation or a study."""

from __future__ import annotations

import re
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from ..eval_form import DEFAULT_BITS, DEFAULT_STRENGTHS, DEFAULT_TRIALS, MODE_CHOICES, validate_eval
from ..train_form import device_choices
from ..launch import eval_args

__all__ = ["ConfirmScreen", "EvalScreen", "PromptScreen", "StudyScreen", "show_message", "validate_eval"]


def show_message(widget: Static, text: str) -> None:
    """Puts `text` in a form's message line; an empty line takes no room."""
    widget.update(text)
    widget.set_class(not text, "-empty")


class ConfirmScreen(ModalScreen[bool]):
    """Yes/no; `y`/Enter confirms, `n`/Escape cancels."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, title: str, message: str, yes: str = "Yes", danger: bool = False) -> None:
        super().__init__(classes="dialog-screen")
        self.title_text = title
        self.message = message
        self.yes = yes
        self.danger = danger

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield Static(self.message, classes="dialog-body")
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.yes} (y)", id="yes", variant="error" if self.danger else "primary")
                yield Button("Cancel (n)", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class PromptScreen(ModalScreen[str | None]):
    """One line of text (a file path); Enter accepts, Escape cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, value: str = "", placeholder: str = "", allow_empty: bool = False) -> None:
        super().__init__(classes="dialog-screen")
        self.title_text = title
        self.value = value
        self.placeholder = placeholder
        self.allow_empty = allow_empty  # Enter on an empty line gives "" (not a cancel)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield Input(self.value, placeholder=self.placeholder, id="prompt-input")
            yield Static("Enter to accept · Esc to cancel", classes="dialog-hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        self.dismiss(value if value or self.allow_empty else None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class EvalScreen(ModalScreen[dict | None]):
    """Choose an evaluation and its settings for the given runs; dismisses with the `nawt` args."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "start", "Start")]

    def __init__(self, run_ids: list[int]) -> None:
        super().__init__(id="eval-screen", classes="dialog-screen")
        self.run_ids = run_ids

    def compose(self) -> ComposeResult:
        ids = ", ".join(f"#{i}" for i in self.run_ids)
        with Vertical(id="eval-box", classes="dialog"):
            yield Label(f"Evaluate {ids}", classes="dialog-title")
            with Grid(classes="form-grid"):
                yield Label("evaluation")
                yield Select(
                    [("weight-perturbation robustness", "robustness"), ("quantization", "quantization")],
                    value="robustness", allow_blank=False, id="eval-kind", compact=True,
                )
                yield Label("mode", classes="rob")
                yield Select(list(MODE_CHOICES), value=MODE_CHOICES[0][1], allow_blank=False, id="eval-mode",
                             compact=True, classes="rob")
                yield Label("strengths", classes="rob")
                yield Input(DEFAULT_STRENGTHS[MODE_CHOICES[0][1]], placeholder="e.g. 0,0.02,0.05,0.1 (≥ 0)",
                            id="eval-strengths", compact=True, classes="rob")
                yield Label("trials", classes="rob")
                yield Input(DEFAULT_TRIALS, placeholder="≥ 1 noisy copies per strength", id="eval-trials",
                            type="integer", compact=True, classes="rob")
                yield Label("bits", classes="quant")
                yield Input(DEFAULT_BITS, placeholder="e.g. 8,6,4 (1-16)", id="eval-bits", compact=True,
                            classes="quant")
                yield Label("granularity", classes="quant")
                yield Select([("channel: a scale per output channel", "channel"),
                              ("tensor: one scale per tensor", "tensor")],
                             value="channel", allow_blank=False, id="eval-granularity", compact=True,
                             classes="quant")
                yield Label("fold BN", classes="quant")
                yield Checkbox("--fold-bn (BatchNorm into convs)", id="eval-fold-bn", compact=True,
                               classes="quant")
                yield Label("precision")
                yield Select([("auto: bf16 where native, else fp32", "auto"), ("fp32", "fp32"),
                              ("bf16 (autocast)", "bf16")],
                             value="auto", allow_blank=False, id="eval-precision", compact=True)
                yield Label("device")
                yield Select([("the run's (cpu, or cuda if it trained there)", "run"),
                              *[c for c in device_choices() if c[1] != "auto"]],
                             value="run", allow_blank=False, id="eval-device", compact=True)
            yield Static("", id="eval-errors", classes="form-error -empty")
            yield Static("A detached `nawt eval` process; results show in the run detail.",
                         classes="dialog-hint")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Start (ctrl+s)", id="start", variant="primary", compact=True)
                yield Button("Cancel (esc)", id="cancel", compact=True)

    def on_mount(self) -> None:
        self._sync_kind()
        self.query_one("#eval-kind", Select).focus()

    @on(Select.Changed, "#eval-kind")
    def _sync_kind(self) -> None:
        kind = self.query_one("#eval-kind", Select).value
        for w in self.query(".rob"):
            w.display = kind == "robustness"
        for w in self.query(".quant"):
            w.display = kind == "quantization"
        show_message(self.query_one("#eval-errors", Static), "")

    @on(Select.Changed, "#eval-mode")
    def _sync_mode(self, event: Select.Changed) -> None:
        """A new mode brings its default strengths, unless the user typed their own."""
        inp = self.query_one("#eval-strengths", Input)
        untouched = inp.value.strip() in ("", *DEFAULT_STRENGTHS.values())
        if untouched and event.value in DEFAULT_STRENGTHS:
            inp.value = DEFAULT_STRENGTHS[str(event.value)]

    def values(self) -> dict[str, Any]:
        def sel(wid: str) -> str:
            v = self.query_one(wid, Select).value
            return "" if v is Select.BLANK else str(v)

        return {
            "kind": sel("#eval-kind"), "mode": sel("#eval-mode"),
            "strengths": self.query_one("#eval-strengths", Input).value,
            "trials": self.query_one("#eval-trials", Input).value,
            "bits": self.query_one("#eval-bits", Input).value, "granularity": sel("#eval-granularity"),
            "fold_bn": self.query_one("#eval-fold-bn", Checkbox).value, "precision": sel("#eval-precision"),
            "device": "" if sel("#eval-device") == "run" else sel("#eval-device"),
        }

    def action_start(self) -> None:
        vals = self.values()
        options, errors = validate_eval(vals)
        for key, wid in (("strengths", "#eval-strengths"), ("trials", "#eval-trials"), ("bits", "#eval-bits")):
            self.query_one(wid, Input).set_class(key in errors, "-invalid")
        show_message(self.query_one("#eval-errors", Static), "\n".join(f"✗ {m}" for m in errors.values()))
        if errors:
            self.app.bell()
            return
        kind = vals["kind"]
        self.dismiss({"kind": kind, "run_ids": self.run_ids, "options": options,
                      "args": eval_args(kind, self.run_ids, options)})

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_start()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "start":
            self.action_start()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class StudyScreen(ModalScreen[dict | None]):
    """Start a whole study (`nawt study --preset P --name N --jobs J`), or only queue its runs (--queue-only)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Start a study", classes="dialog-title")
            yield Select([("smoke (3 epochs, CIFAR-10 subset)", "smoke"), ("cpu (10 epochs, all CIFAR-10: 1-2 h on 2 cores)", "cpu"),
                          ("quick (30 epochs, CIFAR-10)", "quick"),
                          ("paper (200 epochs x 3 seeds, the poster's study)", "paper")],
                         value="smoke", allow_blank=False, id="study-preset")
            yield Input(placeholder="study name (letters, digits, - _)", id="study-name")
            with Horizontal(classes="study-options"):
                yield Label("runs at once (--jobs)")
                yield Input("1", id="study-jobs", restrict=r"\d*", max_length=3, compact=True)
                yield Checkbox("only queue (workers train)", False, id="study-queue", compact=True)
            yield Static("", id="study-error", classes="form-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Start", id="start", variant="primary")
                yield Button("Cancel", id="cancel")

    def _submit(self) -> None:
        name = self.query_one("#study-name", Input).value.strip()
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", name):
            self.query_one("#study-error", Static).update(
                "a name is required: letters, digits, '-', '_' or '.', up to 64")
            return
        jobs = self.query_one("#study-jobs", Input).value.strip()
        if not jobs.isdigit() or not 1 <= int(jobs) <= 256:
            self.query_one("#study-error", Static).update("runs at once: a number from 1 to 256")
            return
        self.dismiss({"preset": self.query_one("#study-preset", Select).value, "name": name, "jobs": int(jobs),
                      "queue": self.query_one("#study-queue", Checkbox).value})

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "start":
            self._submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
