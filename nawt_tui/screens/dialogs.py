"""Small modal dialogs: confirm, prompt for a path, start an evaluation or a study."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static


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

    def __init__(self, title: str, value: str = "", placeholder: str = "") -> None:
        super().__init__(classes="dialog-screen")
        self.title_text = title
        self.value = value
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield Input(self.value, placeholder=self.placeholder, id="prompt-input")
            yield Static("Enter to accept · Esc to cancel", classes="dialog-hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        self.dismiss(value or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class EvalScreen(ModalScreen[dict | None]):
    """Choose an evaluation for the given runs."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, run_ids: list[int]) -> None:
        super().__init__(classes="dialog-screen")
        self.run_ids = run_ids

    def compose(self) -> ComposeResult:
        ids = ", ".join(f"#{i}" for i in self.run_ids)
        with Vertical(classes="dialog"):
            yield Label(f"Evaluate {ids}", classes="dialog-title")
            yield Select(
                [("weight-perturbation robustness", "robustness"), ("quantization", "quantization")],
                value="robustness", allow_blank=False, id="eval-kind",
            )
            yield Static("Runs as a detached `nawt eval` process; results appear in the run detail.",
                         classes="dialog-hint")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Start", id="start", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "start":
            self.dismiss({"kind": self.query_one("#eval-kind", Select).value, "run_ids": self.run_ids})
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class StudyScreen(ModalScreen[dict | None]):
    """Start a whole study (`nawt study --preset P --name N`)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Start a study", classes="dialog-title")
            yield Select([("smoke (minutes, synthetic)", "smoke"), ("quick", "quick"),
                          ("paper (the poster's full study)", "paper")],
                         value="smoke", allow_blank=False, id="study-preset")
            yield Input(placeholder="study name (letters, digits, - _)", id="study-name")
            yield Static("", id="study-error", classes="form-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Start", id="start", variant="primary")
                yield Button("Cancel", id="cancel")

    def _submit(self) -> None:
        name = self.query_one("#study-name", Input).value.strip()
        import re

        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", name):
            self.query_one("#study-error", Static).update(
                "a name is required: letters, digits, '-', '_' or '.', up to 64")
            return
        self.dismiss({"preset": self.query_one("#study-preset", Select).value, "name": name})

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "start":
            self._submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
