"""New run: a validated form that launches `nawt train ... --detach`."""

from __future__ import annotations

import re
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from ..data import METHODS
from ..launch import LaunchResult, common_args, run_detached_cli, train_args
from ..messages import ActionDone

# key, label, default, kind, help
FIELDS: list[tuple[str, str, str, str, str]] = [
    ("epochs", "epochs", "200", "int", "≥ 1"),
    ("batch_size", "batch size", "128", "int", "1 … 65536"),
    ("lr", "learning rate", "0.1", "float", "> 0"),
    ("rho", "rho (SAM)", "0.05", "float", "≥ 0, sam / multistep-sam"),
    ("noise_sigma", "noise sigma", "0.1", "float", "≥ 0, naive-noise"),
    ("noise_eta", "noise eta", "0.05", "float", "≥ 0, noise-injection"),
    ("seed", "seed", "0", "int", "≥ 0"),
    ("train_subset", "train subset", "", "int", "blank = all images"),
    ("test_subset", "test subset", "", "int", "blank = all images"),
]
USES = {"rho": ("sam", "multistep-sam"), "noise_sigma": ("naive-noise",), "noise_eta": ("noise-injection",)}
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def validate(values: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Form strings to typed values, and an error message per bad field."""
    out: dict[str, Any] = {}
    errors: dict[str, str] = {}
    method = values.get("method") or ""
    if method not in METHODS:
        errors["method"] = "choose a method"
    out["method"] = method
    for key in ("dataset", "device"):
        out[key] = values.get(key) or None
    name = (values.get("name") or "").strip()
    if name and not NAME_RE.match(name):
        errors["name"] = "letters, digits, '-', '_', '.' (up to 64)"
    out["name"] = name or None
    for key, label, _default, kind, _help in FIELDS:
        if key in USES and method not in USES[key]:
            out[key] = None
            continue
        raw = (values.get(key) or "").strip()
        if raw == "":
            if key in ("train_subset", "test_subset"):
                out[key] = None
                continue
            errors[key] = f"{label} is required"
            continue
        try:
            v: Any = int(raw) if kind == "int" else float(raw)
        except ValueError:
            errors[key] = f"{label} must be {'a whole number' if kind == 'int' else 'a number'}"
            continue
        if kind == "float" and v != v:
            errors[key] = f"{label} must be a number"
            continue
        if key == "epochs" and not 1 <= v <= 100000:
            errors[key] = "epochs must be between 1 and 100000"
        elif key == "batch_size" and not 1 <= v <= 65536:
            errors[key] = "batch size must be between 1 and 65536"
        elif key == "lr" and not 0 < v <= 10:
            errors[key] = "learning rate must be > 0 (and ≤ 10)"
        elif key in ("rho", "noise_sigma", "noise_eta") and not 0 <= v <= 10:
            errors[key] = f"{label} must be between 0 and 10"
        elif key == "seed" and not 0 <= v < 2**32:
            errors[key] = "seed must be between 0 and 2^32-1"
        elif key in ("train_subset", "test_subset") and v < 1:
            errors[key] = f"{label} must be ≥ 1 (or blank for all)"
        out[key] = v
    return out, errors


class NewRunScreen(ModalScreen[LaunchResult | None]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "launch", "Launch"),
    ]

    def __init__(self) -> None:
        super().__init__(id="new-run-screen", classes="dialog-screen")
        self.launching = False
        self.last_args: list[str] | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="new-run-box", classes="dialog"):
            yield Label("New training run  (nawt train --detach)", classes="dialog-title")
            with VerticalScroll(id="new-run-scroll"):
                with Grid(id="new-run-grid"):
                    yield Label("method")
                    yield Select([(m, m) for m in METHODS], value="standard", allow_blank=False,
                                 id="f-method", compact=True)
                    yield Static("training method", classes="field-help")
                    yield Label("dataset")
                    yield Select([("cifar10", "cifar10"), ("synthetic (offline demo)", "synthetic")],
                                 value="cifar10", allow_blank=False, id="f-dataset", compact=True)
                    yield Static("synthetic: offline, fast", classes="field-help")
                    yield Label("device")
                    yield Select([("auto", "auto"), ("cuda", "cuda"), ("cpu", "cpu")], value="auto",
                                 allow_blank=False, id="f-device", compact=True)
                    yield Static("auto: cuda when present", classes="field-help")
                    yield Label("name")
                    yield Input(placeholder="optional, e.g. sam-rho05", id="f-name", compact=True)
                    yield Static("optional label", classes="field-help")
                    for key, label, default, kind, help_ in FIELDS:
                        yield Label(label)
                        yield Input(default, placeholder="all" if "subset" in key else help_, id=f"f-{key}",
                                    type="integer" if kind == "int" else "text", tooltip=help_,
                                    compact=True)
                        yield Static(help_, classes="field-help")
            yield Static("", id="form-errors", classes="form-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Launch (ctrl+s)", id="launch", variant="primary")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        self._sync_method()
        self.query_one("#f-method", Select).focus()

    def values(self) -> dict[str, str]:
        vals: dict[str, str] = {}
        for key in ("method", "dataset", "device"):
            v = self.query_one(f"#f-{key}", Select).value
            vals[key] = "" if v is Select.BLANK else str(v)
        vals["name"] = self.query_one("#f-name", Input).value
        for key, *_ in FIELDS:
            vals[key] = self.query_one(f"#f-{key}", Input).value
        return vals

    @on(Select.Changed, "#f-method")
    def _sync_method(self) -> None:
        method = self.query_one("#f-method", Select).value
        for key, methods in USES.items():
            self.query_one(f"#f-{key}", Input).disabled = method not in methods

    def show_errors(self, errors: dict[str, str]) -> None:
        for key, *_ in FIELDS:
            self.query_one(f"#f-{key}", Input).set_class(key in errors, "-invalid")
        self.query_one("#f-name", Input).set_class("name" in errors, "-invalid")
        self.query_one("#form-errors", Static).update("\n".join(f"✗ {m}" for m in errors.values()))

    def action_launch(self) -> None:
        if self.launching:
            return
        typed, errors = validate(self.values())
        self.show_errors(errors)
        if errors:
            self.app.bell()
            return
        src = self.app.source
        args = [*train_args(typed), *common_args(src.db_url, src.data_dir), "--detach"]
        self.last_args = args
        self.launching = True
        self.query_one("#form-errors", Static).update("launching…")
        self._launch(args)

    @work(thread=True, exit_on_error=False, group="launch")
    def _launch(self, args: list[str]) -> None:
        res = run_detached_cli(args)
        self.app.call_from_thread(self._launched, res)

    def _launched(self, res: LaunchResult) -> None:
        self.launching = False
        if not res.ok:
            self.query_one("#form-errors", Static).update(f"✗ {res.message}")
            return
        from .runs import RunsScreen

        for s in self.app.screen_stack:
            if isinstance(s, RunsScreen):
                s.post_message(ActionDone(f"started run {res.run_id}: {res.message}"
                                          if res.run_id is not None else res.message, True, res.run_id))
        self.dismiss(res)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "launch":
            self.action_launch()
        else:
            self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_launch()

    def action_cancel(self) -> None:
        self.dismiss(None)
