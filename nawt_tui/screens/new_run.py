"""New run: a validated form that launches `nawt train ... --detach`."""

from __future__ import annotations

import os
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from nawt_core import spec
from nawt_core.runview import cifar_problem

from .. import actions, form_memory
from ..launch import LaunchResult, common_args, train_args
from ..train_form import (FIELDS, SELECTS, device_choices, layout, method_choices, method_options, option_help,
                          validate)
from .dialogs import show_message

__all__ = ["FIELDS", "SELECTS", "NewRunScreen", "validate"]

class NewRunScreen(ModalScreen[LaunchResult | None]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "launch", "Launch"),
    ]

    def __init__(self) -> None:
        super().__init__(id="new-run-screen", classes="dialog-screen")
        self.launching = False
        self.last_args: list[str] | None = None
        self._warned_folder: str | None = None  # launch anyway when asked twice
        self.memory: dict[str, Any] = {}  # form_memory: the last values per method
        self._launched_values: dict[str, Any] = {}

    def default_folder(self) -> str:
        """The TUI's --cifar-dir, else NAWT_CIFAR_DIR, else the folder this form last launched
        with, else the latest CIFAR-10 run's, else the data dir (where `nawt train` looks)."""
        src = self.app.source
        if src.cifar_dir or os.environ.get("NAWT_CIFAR_DIR"):
            return src.cifar_dir or os.environ["NAWT_CIFAR_DIR"]
        try:
            last = form_memory.last_run_folder(src.runs())
        except Exception:  # noqa: BLE001 - the store unreadable now: the form still opens
            last = None
        return self.memory.get("cifar_dir") or last or src.data_dir

    def _recall(self, method: str) -> None:
        """The values this form last launched ``method`` with (the folder stays as chosen)."""
        for key, value in self.memory.get("methods", {}).get(method, {}).items():
            if key in ("method", "cifar_dir"):
                continue
            try:
                widget = self.query_one(f"#f-{key}")
            except Exception:  # noqa: BLE001 - a field this version no longer has
                continue
            if isinstance(widget, Select):
                if value in {v for _label, v in widget._options}:
                    widget.value = value
            elif isinstance(widget, (Input, Checkbox)) and isinstance(value, type(widget.value)):
                widget.value = value

    def folder(self) -> str:
        return self.query_one("#f-cifar_dir", Input).value.strip() or self.app.source.data_dir

    def dataset_problem(self) -> str | None:
        """Why CIFAR-10 cannot be read from the chosen folder (None: it can, or the dataset is synthetic)."""
        if self.query_one("#f-dataset", Select).value != "cifar10":
            return None
        return cifar_problem(self.folder())

    @on(Input.Changed, "#f-cifar_dir")
    @on(Select.Changed, "#f-dataset")
    def _check_folder(self) -> None:
        problem = self.dataset_problem()
        synthetic = self.query_one("#f-dataset", Select).value != "cifar10"
        self.query_one("#f-cifar_dir", Input).disabled = synthetic
        self.query_one("#f-cifar_dir", Input).set_class(problem is not None, "-invalid")
        text = "not used" if synthetic else ("⚠ no CIFAR-10 here" if problem else "✓ CIFAR-10 found")
        self.query_one("#help-cifar_dir", Static).update(text)

    def compose(self) -> ComposeResult:
        self.memory = form_memory.load(self.app.source.data_dir)
        fields = {f[0]: f for f in FIELDS}
        with Vertical(id="new-run-box", classes="dialog"):
            yield Label("New training run  (nawt train --detach, or --queue)", classes="dialog-title")
            with VerticalScroll(id="new-run-scroll"):
                with Grid(id="new-run-grid"):
                    for what, key in layout():
                        if what == "select":
                            label, options, default, help_ = SELECTS[key]
                            options = (method_choices() if key == "method" else
                                       device_choices() if key == "device" else options)
                            yield Label(label)
                            yield Select(list(options), value=default, allow_blank=False, id=f"f-{key}",
                                         compact=True)
                        elif what == "name":
                            help_ = "optional label"
                            yield Label("name")
                            yield Input(placeholder="optional, e.g. sam-rho05", id="f-name", compact=True)
                        elif what == "folder":
                            help_ = ""
                            yield Label("dataset folder")
                            yield Input(self.default_folder(), placeholder="folder holding cifar-10-batches-py",
                                        id="f-cifar_dir", compact=True)
                        elif what == "option":
                            o = spec.OPTIONS[key]
                            help_ = option_help(o)
                            yield Label(o.title)
                            if o.kind is bool:
                                yield Checkbox(o.flag, bool(o.default), id=f"f-{key}", tooltip=o.help,
                                               compact=True)
                            else:
                                default = ",".join(f"{x:g}" for x in o.default) if o.kind is list else str(o.default)
                                yield Input(default, placeholder="default" if o.kind is list else help_,
                                            id=f"f-{key}", type="integer" if o.kind is int else "text",
                                            tooltip=o.help, compact=True)
                        else:
                            _key, label, default, kind, help_ = fields[key]
                            yield Label(label)
                            yield Input(default, placeholder="all" if "subset" in key else help_,
                                        id=f"f-{key}", type="integer" if kind == "int" else "text",
                                        tooltip=help_, compact=True)
                        yield Static(help_, classes="field-help", id=f"help-{key}" if what == "folder" else None)
            yield Checkbox("queue it: a `nawt worker` trains it (else it starts now)", False, id="f-queue",
                           compact=True)
            yield Static("", id="form-errors", classes="form-error -empty")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Launch (ctrl+s)", id="launch", variant="primary", compact=True)
                yield Button("Cancel (esc)", id="cancel", compact=True)

    def on_mount(self) -> None:
        last = self.memory.get("last_method")
        method = self.query_one("#f-method", Select)
        if last in {v for _label, v in method._options}:
            method.value = last
        self._recall(str(method.value))
        self._sync_method()
        self._check_folder()
        self._fit()
        self.query_one("#f-method", Select).focus()

    # rows of the box outside the scrolling fields: border 2, title 3, queue checkbox 1, buttons 2
    CHROME_ROWS = 8

    def _fit(self) -> None:
        """The box is as tall as its fields where they fit (200x60) and scrolls them where they
        do not (80x24); the title, the messages and the Launch button always show."""
        msg = self.query_one("#form-errors", Static)
        text = str(msg.render()) if not msg.has_class("-empty") else ""
        cols = self.query_one("#new-run-box").content_region.width or min(84, self.size.width) - 6
        cols = max(cols, 20)  # the message's width: it wraps into this many columns
        msg_rows = min(4, sum(-(-len(line) // cols) or 1 for line in text.split("\n"))) if text else 0
        self.query_one("#new-run-scroll").styles.max_height = max(3, self.size.height - self.CHROME_ROWS
                                                                   - msg_rows)

    def on_resize(self) -> None:
        self._fit()

    def _message(self, text: str) -> None:
        show_message(self.query_one("#form-errors", Static), text)
        self._fit()

    def values(self) -> dict[str, Any]:
        vals: dict[str, Any] = {}
        for key in SELECTS:
            v = self.query_one(f"#f-{key}", Select).value
            vals[key] = "" if v is Select.BLANK else str(v)
        vals["name"] = self.query_one("#f-name", Input).value
        for key, *_ in FIELDS:
            vals[key] = self.query_one(f"#f-{key}", Input).value
        for o in method_options():
            vals[o.name] = self.query_one(f"#f-{o.name}").value
        return vals

    @on(Select.Changed, "#f-method")
    def _method_changed(self) -> None:
        self._recall(str(self.query_one("#f-method", Select).value))
        self._sync_method()

    def _sync_method(self) -> None:
        method = self.query_one("#f-method", Select).value
        for o in method_options():
            self.query_one(f"#f-{o.name}").disabled = method not in spec.uses(o.name)

    def show_errors(self, errors: dict[str, str]) -> None:
        for key in [f[0] for f in FIELDS] + [o.name for o in method_options()]:
            self.query_one(f"#f-{key}").set_class(key in errors, "-invalid")
        self.query_one("#f-name", Input).set_class("name" in errors, "-invalid")
        self._message("\n".join(f"✗ {m}" for m in errors.values()))

    def action_launch(self) -> None:
        if self.launching:
            return
        typed, errors = validate(self.values())
        self.show_errors(errors)
        if errors:
            self.app.bell()
            return
        problem = self.dataset_problem()
        if problem and self._warned_folder != self.folder():
            self._warned_folder = self.folder()
            self._message(f"✗ {problem}. ctrl+s again launches anyway (nawt then tries to download it "
                          "there, 170 MB)")
            self.app.bell()
            return
        src = self.app.source
        folder = self.folder() if typed.get("dataset") == "cifar10" else src.cifar_dir
        args = [*train_args(typed), *common_args(src.db_url, src.data_dir,
                                                 folder if folder != src.data_dir else None),
                "--queue" if self.query_one("#f-queue", Checkbox).value else "--detach"]
        self.last_args = args
        self._launched_values = {**self.values(), "cifar_dir": self.folder()}
        self.launching = True
        self._message("launching…")
        self._launch(args)

    def _launch(self, args: list[str]) -> None:
        actions.launch(self.app, args, self._launched)

    def _launched(self, res: LaunchResult) -> None:
        self.launching = False
        if not res.ok:
            self._message(f"✗ {res.message}")
            return
        vals = self._launched_values
        form_memory.remember(self.app.source.data_dir, vals,
                             vals.get("cifar_dir") if vals.get("dataset") == "cifar10" else None)
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
