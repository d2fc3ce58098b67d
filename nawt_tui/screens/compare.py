"""Compare: the poster's tables (accuracy and time, then one per evaluation) and their figures.

One row per method and comparable settings (nawt_core.compare groups them, the
same rows as `nawt compare`); only completed runs count. The evaluations, their
tabs and curves come from the registry (nawt_core/evalspec.py). The screen polls
the store and recomputes when a run of the selection completes or an evaluation
finishes, so it follows a study while it runs."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, SelectionList, Static, TabbedContent, TabPane
from textual.worker import get_current_worker

from nawt_core import evalspec
from nawt_core.sharp_robust import SHARPNESS

from ..data import DataError, fmt_acc
from ..messages import CompareLoaded
from ..widgets.compare_tables import fill_accuracy, fill_sharpness, fill_sweep, fill_tradeoff
from ..widgets.plots import LinePlot


class CompareScreen(Screen):
    BINDINGS = [
        Binding("escape", "back", "Back", tooltip="back"),
        Binding("s", "cycle_study", "Study", tooltip="choose a study"),
        Binding("a", "cycle_variant", "Variant", tooltip="the next variant of this tab's evaluation (e.g. the "
                "perturbation mode, PCM drift, bit-flip target)"),
        Binding("w", "report", "Report", tooltip="write the report (report.html + report.md, in the study's folder)"),
    ]
    # what is compared: a study, or the runs picked (tab "Runs"); the variant shown per evaluation
    study: reactive[str | None] = reactive(None, init=False)
    run_ids: reactive[tuple[int, ...]] = reactive((), init=False)
    variants: reactive[dict[str, str]] = reactive(dict, init=False)
    comparison: reactive[Any] = reactive(None, init=False, always_update=True)

    def __init__(self, run_ids: list[int] | None = None, study: str | None = None) -> None:
        super().__init__(id="compare-screen")
        self.kinds = evalspec.evaluations()  # a tab each
        self.sweeps = evalspec.sweeps()  # those with curves (and a panel in the plots tab)
        self.sharp: tuple[list[dict], list[str]] = ([], [])  # sharpness against robustness, per run
        self._hidden: set[str] = set()  # tabs with nothing to show (_show_tabs)
        self._sharp_plot = any(s.name == SHARPNESS and s.param is None for s in self.kinds)
        self.set_reactive(CompareScreen.run_ids, tuple(run_ids or ()))
        self.set_reactive(CompareScreen.study, study)
        self.set_reactive(CompareScreen.variants, {s.name: s.option(s.variant).default
                                                   for s in evalspec.evaluations() if s.variant})
        self.studies: list[str] = []
        self._signature: Any = None
        for i, tab in enumerate(self.tabs()[:10], 1):  # the tenth (a plugin evaluation's extra tab) on 0
            self._bindings.bind(str(i % 10), f"tab('{tab[0]}')", tab[1], show=False)

    def tabs(self) -> list[tuple[str, str]]:
        """(id, title) of every tab, in order: accuracy and time, one per evaluation, runs, plots."""
        return [("acc", "Accuracy & time"), *((s.ident, s.text.tab) for s in self.kinds), ("pick", "Runs"),
                ("plots", "Plots"), ("trade", "Trade-off")]

    @property
    def _pick_tab(self) -> int:
        return [t for t, _ in self.tabs()].index("pick") + 1

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="compare-source")
        with VerticalScroll(id="compare-notes"):  # a long list scrolls (its bar says there is more)
            yield Static("", id="compare-notes-text")
        # the first ten tabs carry their key (1-9, then 0), as __init__ binds them
        label = {t: f"{i % 10} {title}" if i <= 10 else title for i, (t, title) in enumerate(self.tabs(), 1)}
        with TabbedContent(id="compare-tabs", initial="acc"):
            with TabPane(label["acc"], id="acc"):
                with Vertical():  # two tables: one with both cut the timing columns at 80
                    yield DataTable(id="acc-table", cursor_type="row", zebra_stripes=True)
                    yield DataTable(id="time-table", cursor_type="row", zebra_stripes=True)
            for s in self.kinds:
                with TabPane(label[s.ident], id=s.ident), Vertical():
                    yield DataTable(id=f"{s.ident}-table", cursor_type="row", zebra_stripes=True,
                                    classes="sweep-table")
                    if s.param is not None:
                        yield LinePlot(s.titled(s.text.tui_plot, None), s.param.short, id=f"plot-{s.ident}",
                                       classes="sweep-plot")
                    elif s.name == SHARPNESS:  # each run's sharpness against its robustness
                        yield LinePlot("sharpness", "Hessian trace", id="plot-sharp", classes="sweep-plot",
                                       scatter=True)
            with TabPane(label["pick"], id="pick"):
                yield SelectionList[int](id="run-pick")
            with TabPane(label["plots"], id="plots"), Vertical(id="plots-both"):
                for s in self.sweeps:
                    yield LinePlot(s.titled(s.text.tui_plot, None), s.param.short, id=f"plot-{s.ident}2")
            with TabPane(label["trade"], id="trade"), Vertical():  # a study that varies a strength
                yield DataTable(id="trade-table", cursor_type="row", zebra_stripes=True)
                yield LinePlot("trade-off", "clean accuracy %", id="plot-trade", scatter=True)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "compare"
        self._update_source()
        self._load_runs()
        self.reload()
        self.set_interval(self.app.refresh_interval, self._poll)

    # ------------------------------------------------------------ what is compared
    def watch_study(self) -> None:
        self.reload()

    def watch_run_ids(self) -> None:
        self.reload()

    def watch_variants(self) -> None:
        self.reload()

    def watch_comparison(self, c: Any) -> None:
        self._update_source()
        self.query_one("#compare-notes-text", Static).update(Text("\n".join(c.notes) if c else ""))
        self.query_one("#compare-notes").display = bool(c and c.notes)
        if c is None:
            return
        fill_accuracy(self.query_one("#acc-table", DataTable), self.query_one("#time-table", DataTable), c)
        self._show_tabs(c)
        for s in self.kinds:
            plots = [self.query_one(f"#plot-{s.ident}", LinePlot), self.query_one(f"#plot-{s.ident}2", LinePlot)] \
                if s.param is not None else []
            fill_sweep(self.query_one(f"#{s.ident}-table", DataTable), plots, c, s, self.variants.get(s.name))
        if self._sharp_plot:
            fill_sharpness(self.query_one("#plot-sharp", LinePlot), c, *self.sharp)
        if c.varied:
            fill_tradeoff(self.query_one("#trade-table", DataTable), self.query_one("#plot-trade", LinePlot), c)

    def _show_tabs(self, c: Any) -> None:
        """An evaluation's tab only when some compared run has it (six stresses do not fit 80 columns);
        the tabs keep their numbers, so a key always opens the same tab."""
        tabs = self.query_one(TabbedContent)
        # a tab stays while the runs have the evaluation in another variant: `a` brings it back
        shown = {s.ident: self._has(c, s.name) or bool(c.table(s.name).other_variants) for s in self.kinds} \
            | {"trade": c.varied}
        for ident, show in shown.items():
            (tabs.show_tab if show else tabs.hide_tab)(ident)
        self._hidden = {ident for ident, show in shown.items() if not show}

    @staticmethod
    def _has(c: Any, kind: str) -> bool:
        return c is not None and bool(c.table(kind).rows)

    def _selection(self) -> tuple[list[int] | None, str | None]:
        return (list(self.run_ids) if self.study is None else None), self.study

    def _poll(self) -> None:
        if not self._computing.is_running:
            self._check_changed(*self._selection())

    @work(thread=True, exit_on_error=False, exclusive=True, group="compare-poll")
    def _check_changed(self, run_ids: list[int] | None, study: str | None) -> None:
        """Recomputes when what the comparison counts has changed (a run completed, a sweep finished)."""
        try:
            sig = self.app.source.compare_signature(run_ids, study) if (run_ids or study) else None
        except Exception:
            sig = None
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._signature_read, sig)

    def _signature_read(self, sig: Any) -> None:
        changed = sig is not None and self._signature is not None and sig != self._signature
        if sig is not None:
            self._signature = sig
        if changed:
            self.reload()

    # ------------------------------------------------------------ loading
    def reload(self) -> None:
        """Computes the comparison in a worker; a newer request cancels the one under way."""
        self._update_source()
        self._computing = self._compute(*self._selection(), dict(self.variants))

    @work(thread=True, exit_on_error=False, exclusive=True, group="compare")
    def _compute(self, run_ids: list[int] | None, study: str | None, variants: dict[str, str]) -> None:
        if study is None and not run_ids:
            message = CompareLoaded(None, f"no runs chosen: pick some in tab {self._pick_tab}, or a study with s")
        else:
            try:
                c = self.app.source.compare(run_ids, study, variants)
                sharp = self.app.source.sharpness(c) if self._sharp_plot and self._has(c, SHARPNESS) else ([], [])
                message = CompareLoaded(c, sharpness=sharp)
            except DataError as e:
                message = CompareLoaded(None, str(e))
            except Exception as e:
                message = CompareLoaded(None, f"{type(e).__name__}: {e}")
        if not get_current_worker().is_cancelled:  # a newer selection is being computed
            self.post_message(message)

    @work(thread=True, exit_on_error=False, group="compare-runs")
    def _load_runs(self) -> None:
        try:
            runs = self.app.source.runs()
            studies = [s.name for s in self.app.source.studies()]
        except Exception:
            return
        self.app.call_from_thread(self._fill_pick, runs, studies)

    def _fill_pick(self, runs: list[Any], studies: list[str]) -> None:
        self.studies = studies
        pick = self.query_one("#run-pick", SelectionList)
        chosen = set(self.run_ids)
        with self.prevent(SelectionList.SelectedChanged):
            pick.clear_options()
            for r in runs:
                acc = r.final_test_acc if r.final_test_acc is not None else r.test_acc
                label = (f"#{r.id:<4} {r.method:<16} {(r.name or '')[:18]:<18} {r.status:<11} "
                         f"{fmt_acc(acc):>6}" + ("%" if acc is not None else " ")
                         + (f"  study {r.study}" if r.study else ""))
                pick.add_option((label, r.id, r.id in chosen))
        self._update_source()

    def on_compare_loaded(self, message: CompareLoaded) -> None:
        if message.comparison is not None:
            self.sharp = message.sharpness
            self.comparison = message.comparison
            return
        self.comparison = None
        self.query_one("#compare-source", Static).update(
            Text(message.error or "nothing to compare", style=self.app.current_theme.error or "red"))
        for tid in ("#acc-table", "#time-table", *(f"#{s.ident}-table" for s in self.kinds)):
            self.query_one(tid, DataTable).clear(columns=True)
        for plot in self.query(LinePlot):
            plot.set_series([], empty="nothing to compare")

    # ------------------------------------------------------------ display
    def _update_source(self) -> None:
        """One line: what is compared and the variants shown (the keys are in the footer)."""
        c = self.comparison
        if c is None:
            counted = "…"
        else:
            done = len(c.completed)
            counted = f"{done} completed" + (f" of {len(c.runs)}" if done != len(c.runs) else "") \
                + (f" · {len(c.groups)} groups" if c.mixed else "")
        tail = Text(f" · {counted}")
        for kind, value in self.variants.items():  # of the evaluations shown
            if self._has(c, kind) or (c is not None and c.table(kind).other_variants):
                tail += Text.assemble(f" · {kind} ", (value, "bold"))
        if self.study is not None:
            head = Text.assemble("study ", (self.study, "bold"))
        elif self.run_ids:
            room = max(self.app.size.width - 2 - len(tail) - len("runs "), 8)
            head = Text("runs " + _id_list(sorted(self.run_ids), room))
        else:
            head = Text(f"no runs chosen ({self._pick_tab}: pick)")
        line = head + tail
        line.no_wrap = True
        line.overflow = "ellipsis"
        self.query_one("#compare-source", Static).update(line)

    def on_resize(self) -> None:
        self._update_source()

    # ------------------------------------------------------------ actions
    @on(SelectionList.SelectedChanged, "#run-pick")
    def _picked(self, event: SelectionList.SelectedChanged) -> None:
        self.set_reactive(CompareScreen.study, None)
        self.run_ids = tuple(sorted(event.selection_list.selected))

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_tab(self, tab: str) -> None:
        """Opens a tab; a hidden one (nothing to show) says why instead of opening empty."""
        if tab in self._hidden:
            kind = next((s.name for s in self.kinds if s.ident == tab), None)
            self.notify(f"no {kind} evaluations of these runs (e on the runs screen runs one)" if kind else
                        "no trade-off: no method is shown at more than one setting (study --vary)",
                        severity="warning")
            return
        tabbed = self.query_one(TabbedContent)
        if self.focused is not None and tabbed.active_pane is not None and self.focused in tabbed.active_pane.walk_children():
            self.set_focus(None)  # a table keeping focus in the pane left behind would switch back to it
        tabbed.active = tab

    def action_cycle_study(self) -> None:
        order: list[str | None] = [None, *self.studies]
        i = order.index(self.study) if self.study in order else 0
        study = order[(i + 1) % len(order)]
        if study is None and not self.studies:
            self.app.notify("no studies in this database (S on the runs screen starts one)")
        if study == self.study:
            self.reload()
        self.study = study

    def action_cycle_variant(self) -> None:
        """The next variant of the evaluation in the tab shown; a tab without variants says so."""
        tab = self.query_one(TabbedContent).active
        spec = next((s for s in self.kinds if s.ident == tab), None)
        if spec is None or spec.variant is None or spec.name not in self.variants:
            with_variants = ", ".join(s.text.tab for s in self.kinds if s.variant and s.ident not in self._hidden)
            self.notify(f"this tab has no variants to cycle (a works on: {with_variants or 'none shown'})",
                        severity="warning")
            return
        kind = spec.name
        choices = spec.option(spec.variant).choices
        value = choices[(choices.index(self.variants[kind]) + 1) % len(choices)]
        self.variants = {**self.variants, kind: value}

    def action_report(self) -> None:
        """Writes `nawt report` for what is shown (in a worker: figures take a moment)."""
        if self.comparison is None or not self.comparison.completed:
            self.app.notify("nothing to report: no completed runs in this comparison", severity="warning")
            return
        self.app.notify("writing the report…", timeout=3)
        self._write_report(self.comparison)

    @work(thread=True, exit_on_error=False, group="compare-report")
    def _write_report(self, comparison: Any) -> None:
        try:
            files, note = self.app.source.write_report(comparison)
        except Exception as e:  # DataError, NawtError (folder not writable): one line, the screen stays
            self.app.call_from_thread(self.app.notify, f"report not written: {e}", severity="error", timeout=10)
            return
        shown = [str(p) for p in files if str(p).endswith((".html", ".md"))]
        text = "report written: " + "  ".join(shown) + (f"\n{note}" if note else "")
        self.app.call_from_thread(self.app.notify, text, timeout=15)


def _id_list(ids: list[int], room: int) -> str:
    """`#1 #2 #3 (3)`, cut to `#1 #2 … (40)` when it would not fit in `room` cells."""
    full = " ".join(f"#{i}" for i in ids)
    if len(full) <= room:
        return full
    count = f" … ({len(ids)})"
    out = ""
    for i in ids:
        part = f"{out} #{i}" if out else f"#{i}"
        if len(part) + len(count) > room:
            break
        out = part
    return out + count
