"""Compare: the poster's tables (accuracy, time, robustness, quantization) and its two figures.

One row per method and comparable settings (nawt_core.compare groups them, the
same rows as `nawt compare`); only completed runs count. The screen polls the
store and recomputes when a run of the selection completes or an evaluation
finishes, so it follows a study while it runs."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, SelectionList, Static, TabbedContent, TabPane

from nawt_core import spec
from nawt_core.runview import acc_ci, acc_diff

from ..data import DataError, fmt_acc, fmt_duration, pct
from ..messages import CompareLoaded
from ..widgets.plots import LinePlot, method_colour

MODES = ("absolute", "relative", "std")


class CompareScreen(Screen):
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("s", "cycle_study", "Study"),
        Binding("a", "cycle_mode", "Mode"),
        Binding("w", "report", "Report"),
        Binding("1", "tab('acc')", "Accuracy", show=False),
        Binding("2", "tab('rob')", "Robustness", show=False),
        Binding("3", "tab('quant')", "Quantization", show=False),
        Binding("4", "tab('pick')", "Runs", show=False),
        Binding("5", "tab('plots')", "Plots", show=False),
    ]

    def __init__(self, run_ids: list[int] | None = None, study: str | None = None) -> None:
        super().__init__(id="compare-screen")
        self.run_ids = list(run_ids or [])
        self.study = study
        self.mode = "absolute"
        self.studies: list[str] = []
        self.comparison: Any = None
        self._all_runs: list[Any] = []
        self._pending = False
        self._loading = False
        self._signature: Any = None
        self._polling = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="compare-source")
        yield Static("", id="compare-notes")
        with TabbedContent(id="compare-tabs", initial="acc"):
            with TabPane("1 Accuracy & time", id="acc"):
                with Vertical():  # two tables: one with both cut the timing columns at 80
                    yield DataTable(id="acc-table", cursor_type="row", zebra_stripes=True)
                    yield DataTable(id="time-table", cursor_type="row", zebra_stripes=True)
            with TabPane("2 Robustness", id="rob"):
                with Vertical():
                    yield DataTable(id="rob-table", cursor_type="row", zebra_stripes=True)
                    yield LinePlot("accuracy % vs weight perturbation", "strength", id="plot-rob")
            with TabPane("3 Quantization", id="quant"):
                with Vertical():
                    yield DataTable(id="quant-table", cursor_type="row", zebra_stripes=True)
                    yield LinePlot("accuracy % vs quantization", "bits", id="plot-quant")
            with TabPane("4 Runs", id="pick"):
                yield SelectionList[int](id="run-pick")
            with TabPane("5 Plots", id="plots"):
                with Vertical(id="plots-both"):
                    yield LinePlot("accuracy % vs weight perturbation", "strength", id="plot-rob2")
                    yield LinePlot("accuracy % vs quantization", "bits", id="plot-quant2")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "compare"
        self._update_source()
        self._load_runs()
        self.reload()
        self.set_interval(self.app.refresh_interval, self._poll)

    def _poll(self) -> None:
        if not self._polling and not self._loading:
            self._polling = True
            self._check_changed(list(self.run_ids) if self.study is None else None, self.study)

    @work(thread=True, exit_on_error=False, group="compare-poll")
    def _check_changed(self, run_ids: list[int] | None, study: str | None) -> None:
        """Recomputes when what the comparison counts has changed (a run completed, a sweep finished)."""
        try:
            sig = self.app.source.compare_signature(run_ids, study) if (run_ids or study) else None
        except Exception:
            sig = None
        self.app.call_from_thread(self._signature_read, sig)

    def _signature_read(self, sig: Any) -> None:
        self._polling = False
        if sig is not None and self._signature is not None and sig != self._signature:
            self._signature = sig
            self.reload()
        elif sig is not None:
            self._signature = sig

    # ------------------------------------------------------------ loading
    def reload(self) -> None:
        if self._loading:
            self._pending = True
            return
        self._loading = True
        self._update_source()
        self._compute(list(self.run_ids) if self.study is None else None, self.study, self.mode)

    @work(thread=True, exit_on_error=False, group="compare")
    def _compute(self, run_ids: list[int] | None, study: str | None, mode: str) -> None:
        try:
            if study is None and not run_ids:
                self.post_message(CompareLoaded(None, "no runs chosen: pick some in tab 4, or a study with s"))
                return
            comp = self.app.source.compare(run_ids, study, mode)
        except DataError as e:
            self.post_message(CompareLoaded(None, str(e)))
        except Exception as e:
            self.post_message(CompareLoaded(None, f"{type(e).__name__}: {e}"))
        else:
            self.post_message(CompareLoaded(comp))

    @work(thread=True, exit_on_error=False, group="compare-runs")
    def _load_runs(self) -> None:
        try:
            runs = self.app.source.runs()
            studies = [s.name for s in self.app.source.studies()]
        except Exception:
            return
        self.app.call_from_thread(self._fill_pick, runs, studies)

    def _fill_pick(self, runs: list[Any], studies: list[str]) -> None:
        self._all_runs = runs
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
        self._loading = False
        if self._pending:
            self._pending = False
            self.reload()
            return
        if message.comparison is None:
            self.comparison = None
            self.query_one("#compare-notes", Static).display = False
            self.query_one("#compare-source", Static).update(
                Text(message.error or "nothing to compare", style=self.app.current_theme.error or "red"))
            for tid in ("#acc-table", "#time-table", "#rob-table", "#quant-table"):
                self.query_one(tid, DataTable).clear(columns=True)
            for pid in ("#plot-rob", "#plot-rob2", "#plot-quant", "#plot-quant2"):
                self.query_one(pid, LinePlot).set_series([], empty="nothing to compare")
            return
        self.comparison = message.comparison
        self._update_source()
        notes = self.query_one("#compare-notes", Static)
        notes.update(Text(" · ".join(message.comparison.notes)))
        notes.display = bool(message.comparison.notes)
        self._show(message.comparison)

    # ------------------------------------------------------------ display
    def _update_source(self) -> None:
        """One line: what is compared and the robustness mode (the keys are in the footer)."""
        c = self.comparison
        if c is None:
            counted = "…"
        else:
            done = len(c.completed)
            counted = f"{done} completed" + (f" of {len(c.runs)}" if done != len(c.runs) else "") \
                + (f" · {len(c.groups)} groups" if c.mixed else "")
        tail = Text.assemble(f" · {counted} · robustness ", (self.mode, "bold"))
        if self.study is not None:
            head = Text.assemble("study ", (self.study, "bold"))
        elif self.run_ids:
            room = max(self.app.size.width - 2 - len(tail) - len("runs "), 8)
            head = Text("runs " + _id_list(sorted(self.run_ids), room))
        else:
            head = Text("no runs chosen (4: pick)")
        line = head + tail
        line.no_wrap = True
        line.overflow = "ellipsis"
        self.query_one("#compare-source", Static).update(line)

    def on_resize(self) -> None:
        self._update_source()

    def _show(self, c: Any) -> None:
        grouped = c.mixed or any(r.get("group") for r in c.accuracy + c.robustness + c.quantization)
        # accuracy and time, one row per method and settings
        t = self.query_one("#acc-table", DataTable)
        t.clear(columns=True)
        cols = [("method", "method"), ("group", "settings"), ("n", "n"), ("mean", "test %"), ("std", "± std"),
                ("ci", "95 % CI"), ("diff", "Δ standard"), ("best", "best run %")]
        time_cols = [("method", "method"), ("group", "settings"), ("time", "median×ep"), ("secs", "total s"),
                     ("spread", "epoch s"), ("load", "load"), ("ratio", "ratio"), ("epochs", "epochs"),
                     ("device", "device")]
        tt = self.query_one("#time-table", DataTable)
        tt.clear(columns=True)
        for table, columns in ((t, cols), (tt, time_cols)):
            for key, label in columns:
                if key == "group" and not grouped:
                    continue
                table.add_column(label, key=key, width=METHOD_WIDTH if key == "method" else None)
        timing = {(row["method"], row["group"]): row for row in c.timing}
        for row in c.accuracy:
            tm = timing.get((row["method"], row["group"]), {})
            secs, med = tm.get("train_seconds"), tm.get("median_time")
            ratio = tm.get("ratio")
            spread = "—" if tm.get("epoch_median") is None else \
                f"{tm['epoch_min']:.0f}–{tm['epoch_max']:.0f}"
            cells = [Text(row["method"], style=_method_style(row["method"]))]
            if grouped:
                cells.append(row["group"] or "—")
            cells += [
                str(row["n"]), _num(row.get("mean")),
                Text("1 seed" if row["n"] < 2 else fmt_acc(row.get("std")), justify="right"),
                Text(acc_ci(row), justify="right"), Text(acc_diff(row.get("vs_standard")), justify="right"),
                _num(row.get("best")),
            ]
            t.add_row(*cells, key=_row_key(row))
            load = tm.get("load_avg")
            tt.add_row(*cells[:2 if grouped else 1],
                       Text(fmt_duration(med if med is not None else secs), justify="right"),
                       Text("—" if secs is None else f"{secs:,.0f}", justify="right"),
                       Text(spread, justify="right"),
                       Text("—" if load is None else f"{load:.1f}" + (" busy" if tm.get("busy") else ""),
                            justify="right"),
                       Text("—" if ratio is None else f"{ratio:.2f}" + ("!" if tm.get("load_flag") else ""),
                            justify="right"),
                       str(tm.get("epochs") or "—"), str(tm.get("device") or "—"), key=_row_key(row))
        # robustness, rows x strengths
        t = self.query_one("#rob-table", DataTable)
        t.clear(columns=True)
        t.add_column("method", key="method", width=METHOD_WIDTH)
        if grouped:
            t.add_column("settings", key="group")
        for s in c.strengths:
            t.add_column(f"s={s:g}", key=f"s{s}")
        series = []
        for i, row in enumerate(c.robustness):
            pts = row["points"]
            cells = [Text(row["method"], style=_method_style(row["method"]))]
            if grouped:
                cells.append(row["group"] or "—")
            for s in c.strengths:
                cells.append(_pm(pts.get(s), digits=1))  # six strengths fit 80 columns
            t.add_row(*cells, key=_row_key(row))
            xs = [s for s in c.strengths if s in pts and not pts[s]["partial"]]
            series.append((_series_name(row), xs, [pct(pts[s]["mean"]) for s in xs],
                           method_colour(row["method"], i)))
        mode = c.robustness_mode or self.mode
        for pid in ("#plot-rob", "#plot-rob2"):
            plot = self.query_one(pid, LinePlot)
            plot.title = f"accuracy % vs weight perturbation ({mode})"
            plot.set_series(series, xticks=list(c.strengths) or None,
                            empty=f"no {mode} robustness evaluations (e on the runs screen)")
        # quantization, rows x bits
        t = self.query_one("#quant-table", DataTable)
        t.clear(columns=True)
        t.add_column("method", key="method", width=METHOD_WIDTH)
        if grouped:
            t.add_column("settings", key="group")
        t.add_column("unquantized", key="fp")
        for b in c.bits:
            t.add_column(f"{b}-bit", key=f"b{b}")
        series = []
        for i, row in enumerate(c.quantization):
            pts = row["points"]
            cells = [Text(row["method"], style=_method_style(row["method"]))]
            if grouped:
                cells.append(row["group"] or "—")
            cells.append(_num(row.get("fp")))
            for b in c.bits:
                cells.append(_pm(pts.get(b)))
            t.add_row(*cells, key=_row_key(row))
            xs = [b for b in c.bits if b in pts and not pts[b]["partial"]]
            series.append((_series_name(row), [float(b) for b in xs], [pct(pts[b]["mean"]) for b in xs],
                           method_colour(row["method"], i)))
        for pid in ("#plot-quant", "#plot-quant2"):
            self.query_one(pid, LinePlot).set_series(
                series, xticks=[float(b) for b in sorted(c.bits)] or None,
                empty="no quantization evaluations (e on the runs screen)", reverse_x=True)  # as the PNG

    # ------------------------------------------------------------ actions
    @on(SelectionList.SelectedChanged, "#run-pick")
    def _picked(self, event: SelectionList.SelectedChanged) -> None:
        self.run_ids = sorted(event.selection_list.selected)
        self.study = None
        self.reload()

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def action_cycle_study(self) -> None:
        order: list[str | None] = [None, *self.studies]
        i = order.index(self.study) if self.study in order else 0
        self.study = order[(i + 1) % len(order)]
        if self.study is None and not self.studies:
            self.app.notify("no studies in this database (S on the runs screen starts one)")
        self.reload()

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

    def action_cycle_mode(self) -> None:
        self.mode = MODES[(MODES.index(self.mode) + 1) % len(MODES)]
        self.reload()


# a fixed width: measured widths of styled cells raced with mounting (snapshots differed)
METHOD_WIDTH = len("noise-injection")


def _num(x: float | None) -> Text:
    """An accuracy in percent, two decimals like the CLI."""
    return Text(fmt_acc(x), justify="right")


def _pm(p: dict | None, digits: int = 2) -> Text:
    """mean±std of pooled accuracies, in percent points (std left out when 0);
    ``*`` marks a point that not every run of the row has."""
    if not p or p.get("mean") is None:
        return Text("—", justify="right")
    std = fmt_acc(p.get("std") or 0.0, digits)
    shown = std.strip("0.") != ""  # a std that rounds to 0 is left out
    return Text(fmt_acc(p["mean"], digits) + (f"±{std}" if shown else "") + ("*" if p.get("partial") else ""),
                justify="right")


def _row_key(row: dict) -> str:
    """The method alone when its settings need no label, else method|settings."""
    return f"{row['method']}|{row['group']}" if row.get("group") else row["method"]


def _series_name(row: dict) -> str:
    return f"{row['method']} ({row['group']})" if row.get("group") else row["method"]


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


def _method_style(method: str) -> str:
    """Bold, in the method's colour from its spec (the colour of its curves and of the figures)."""
    return f"bold {spec.colour(method) or ''}".strip()
