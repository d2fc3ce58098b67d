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

from nawt_core import evalspec
from nawt_core.errors import NawtError

from ..eval_form import Field, default_text, fields, kinds, validate_eval, variant_defaults
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
    """Choose an evaluation and its settings for the given runs; dismisses with the `nawt` args.
    The evaluations and their fields come from the registry (nawt_tui/eval_form.py)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "start", "Start")]

    def __init__(self, run_ids: list[int]) -> None:
        super().__init__(id="eval-screen", classes="dialog-screen")
        self.run_ids = run_ids
        self.fields = fields()

    def compose(self) -> ComposeResult:
        ids = ", ".join(f"#{i}" for i in self.run_ids)
        choices = kinds()
        with Vertical(id="eval-box", classes="dialog"):
            yield Label(f"Evaluate {ids}", classes="dialog-title")
            with Grid(classes="form-grid"):
                yield Label("evaluation")
                yield Select(choices, value=choices[0][1], allow_blank=False, id="eval-kind", compact=True)
                for f in self.fields:
                    yield from self._field(f)
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

    def _field(self, f: Field):
        o = f.option
        yield Label(o.form_label, id=f"{f.id}-label")
        if o.kind is str:
            labels = o.choice_labels or o.choices
            yield Select(list(zip(labels, o.choices)), value=o.default, allow_blank=False, id=f.id, compact=True)
        elif o.kind is bool:
            yield Checkbox(o.hint or o.form_label, bool(o.default), id=f.id, compact=True)
        else:
            yield Input(default_text(f.kinds[0], o), placeholder=o.hint, id=f.id, compact=True,
                        **({"type": "integer"} if o.kind is int else {}))

    def on_mount(self) -> None:
        self._sync_kind()
        self.query_one("#eval-kind", Select).focus()

    @property
    def kind(self) -> str:
        return str(self.query_one("#eval-kind", Select).value)

    @on(Select.Changed, "#eval-kind")
    def _sync_kind(self) -> None:
        for f in self.fields:
            for wid in (f.id, f"{f.id}-label"):
                self.query_one(f"#{wid}").display = self.kind in f.kinds
        show_message(self.query_one("#eval-errors", Static), "")

    @on(Select.Changed)
    def _sync_variant(self, event: Select.Changed) -> None:
        """A new variant (e.g. perturbation mode) brings its default lists, unless the user typed their own."""
        changed = next((f for f in self.fields if f.id == event.select.id), None)
        if changed is None:
            return
        for kind in changed.kinds:
            s = evalspec.evaluation(kind)
            if s.variant != changed.option.name:
                continue
            for f in self.fields:
                if kind in f.kinds and f.option.kind is list:
                    inp = self.query_one(f"#{f.id}", Input)
                    if inp.value.strip() in ("", *variant_defaults(kind, f.option)):
                        inp.value = default_text(kind, f.option, {s.variant: event.value})

    def values(self) -> dict[str, Any]:
        def sel(wid: str) -> str:
            v = self.query_one(wid, Select).value
            return "" if v is Select.BLANK else str(v)

        out: dict[str, Any] = {"kind": self.kind}
        for f in self.fields:
            if self.kind in f.kinds:
                w = self.query_one(f"#{f.id}")
                out[f.option.name] = sel(f"#{f.id}") if isinstance(w, Select) else w.value
        out["precision"] = sel("#eval-precision")
        out["device"] = "" if sel("#eval-device") == "run" else sel("#eval-device")
        return out

    def action_start(self) -> None:
        vals = self.values()
        options, errors = validate_eval(vals)
        for f in self.fields:
            w = self.query_one(f"#{f.id}")
            if isinstance(w, Input):
                w.set_class(self.kind in f.kinds and f.option.name in errors, "-invalid")
        show_message(self.query_one("#eval-errors", Static), "\n".join(f"✗ {m}" for m in errors.values()))
        if errors:
            self.app.bell()
            return
        self.dismiss({"kind": self.kind, "run_ids": self.run_ids, "options": options,
                      "args": eval_args(self.kind, self.run_ids, options)})

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
            yield Select([("smoke (3 epochs, CIFAR-10 subset)", "smoke"), ("cpu (10 epochs, all CIFAR-10: ~3 h a seed on 2 cores)", "cpu"),
                          ("quick (30 epochs, CIFAR-10)", "quick"),
                          ("paper (200 epochs x 3 seeds, the poster's study)", "paper"),
                          ("tradeoff-cpu (strengths varied, subset, 3 seeds: ~1.7 h on 2 cores)", "tradeoff-cpu"),
                          ("tradeoff (strengths varied, 30 epochs x 3 seeds: GPU)", "tradeoff")],
                         value="smoke", allow_blank=False, id="study-preset")
            yield Input(placeholder="study name (letters, digits, - _)", id="study-name")
            yield Input(placeholder="vary (optional), e.g. sam.rho=0.02,0.1; all.lr=0.05,0.1",
                        id="study-vary")
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
        preset = self.query_one("#study-preset", Select).value
        varies = [v.strip() for v in self.query_one("#study-vary", Input).value.split(";") if v.strip()]
        try:  # as `nawt study --vary` checks it: one line here instead of a failed background study
            from nawt_core.study import rows

            rows(preset, None, varies)
        except NawtError as e:
            self.query_one("#study-error", Static).update(str(e))
            return
        self.dismiss({"preset": preset, "name": name, "jobs": int(jobs), "vary": varies,
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
