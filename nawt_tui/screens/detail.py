"""Run detail: summary, live curves, config, files, evaluations and the log."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, RichLog, Static, TabbedContent, TabPane

from nawt_core import spec
from nawt_core.runview import fmt_value

from .. import actions
from ..data import DataError, RunDetail, fmt_acc, fmt_duration, fmt_float, fmt_rate, fmt_size, pct
from ..detail_text import descending, epoch_log_line, eval_param, eval_state, stamp, uses_rho, wrap_points
from ..messages import DetailLoaded
from ..widgets.plots import LinePlot, axis_positions
from ..widgets.weights import WeightStats
from ..styles import status_style

class DetailScreen(Screen):
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("1", "tab('curves')", "Curves", show=False),
        Binding("2", "tab('config')", "Config", show=False),
        Binding("3", "tab('files')", "Files", show=False),
        Binding("4", "tab('evals')", "Evals", show=False),
        Binding("5", "tab('log')", "Log", show=False),
        Binding("x", "stop", "Stop"),
        Binding("r", "resume", "Resume"),
        Binding("e", "evaluate", "Eval"),
    ]

    def __init__(self, run_id: int) -> None:
        super().__init__(id="detail-screen")
        self.run_id = run_id
        self.detail: RunDetail | None = None
        self.error: str | None = None
        self._loading = False
        self._timer: Any = None
        self._sig: Any = None
        self._eval_ids: list[int] = []
        self._every = 0.0  # the poll interval now

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(f"run #{self.run_id}: loading…", id="detail-summary")
        with TabbedContent(id="detail-tabs", initial="curves"):
            with TabPane("1 Curves", id="curves"):
                with Grid(id="curve-grid"):
                    yield LinePlot("loss", "epoch", id="plot-loss")
                    yield LinePlot("accuracy %", "epoch", id="plot-acc")
                    yield LinePlot("learning rate", "epoch", id="plot-lr")
                    yield LinePlot("rho", "epoch", id="plot-rho")
            with TabPane("2 Config", id="config"):
                with VerticalScroll():
                    yield Static("", id="config-body")
                    yield WeightStats(id="weights-body")
            with TabPane("3 Files", id="files"):
                with VerticalScroll():
                    yield Static("", id="files-body")
            with TabPane("4 Evals", id="evals"):
                with Vertical():
                    yield DataTable(id="eval-table", cursor_type="row")
                    yield LinePlot("evaluation", "", id="plot-eval")
            with TabPane("5 Log", id="log"):
                yield RichLog(id="log-body", wrap=True, max_lines=500)  # wrapped: 80 columns cut lr 2.853e-05
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"run #{self.run_id}"
        t = self.query_one("#eval-table", DataTable)
        for key, label in [("id", "id"), ("kind", "evaluation"), ("status", "status"),
                           ("clean", "clean %"), ("points", "mean % by strength / bits")]:
            t.add_column(label, key=key)
        self.reload()
        self.app.runs_changed.subscribe(self, lambda _done: self.reload())  # e.g. an evaluation was started
        self._timer = self.set_interval(max(self.app.refresh_interval, 1.0) * 2, self.reload)

    def on_screen_suspend(self) -> None:
        if self._timer is not None:
            self._timer.pause()

    def on_screen_resume(self) -> None:
        if self._timer is not None:
            self._timer.resume()
        self.reload()  # e.g. an evaluation was just started from the dialog above

    def reload(self) -> None:
        if self._loading:
            return
        self._loading = True
        self._load()

    @work(thread=True, exit_on_error=False, group="detail-load")
    def _load(self) -> None:
        try:
            detail = self.app.source.run_detail(self.run_id)
        except DataError as e:
            self.post_message(DetailLoaded(None, str(e)))
        except Exception as e:
            self.post_message(DetailLoaded(None, f"{type(e).__name__}: {e}"))
        else:
            self.post_message(DetailLoaded(detail))

    def on_detail_loaded(self, message: DetailLoaded) -> None:
        self._loading = False
        if message.detail is None:
            self.query_one("#detail-summary", Static).update(
                Text(f"run #{self.run_id}: {message.error}", style=self.app.current_theme.error or "red"))
            return
        d = message.detail
        sig = (d.view, len(d.epochs), len(d.evaluations),
               tuple((ev.status, ev.progress, d.eval_status.get(ev.id)) for ev in d.evaluations),
               len(d.files), len(d.log_tail), d.log_tail[-1:] if d.log_tail else None)
        self.detail = d
        if sig == self._sig:
            return
        self._sig = sig
        self._show_summary(d)
        self._show_curves(d)
        self._show_config(d)
        self._show_files(d)
        self._show_evals(d)
        self._show_log(d)
        # a finished run changes only when evaluated: slow poll, unless an evaluation is under way
        self._poll(2.0 if d.evaluating else max(self.app.refresh_interval, 1.0) * 2
                   if d.status in ("running", "queued") else 10.0)

    def _poll(self, every: float) -> None:
        if every == self._every or self._timer is None:
            return
        self._every = every
        self._timer.stop()
        self._timer = self.set_interval(every, self.reload)

    # ------------------------------------------------------------ sections
    def _show_summary(self, d: RunDetail) -> None:
        v, r = d.view, d.run
        st = "stopping" if v.stop_requested and v.live else v.status
        line = Text.assemble(
            (f"#{v.id} ", "bold"), (v.name or "(unnamed)", "bold"), f"  {v.method}  ",
            (st, status_style(self.app, st)),
            f"  epoch {v.epoch}/{v.epochs}",
        )
        if v.status == "running" and v.batches:
            line.append(f" (batch {v.batch}/{v.batches})")
        line.append(f"  test {fmt_acc(v.test_acc)}%  best {fmt_acc(v.best_test_acc)}%")
        line2 = Text(
            f"loss {fmt_float(v.train_loss)} · {fmt_rate(v.images_per_sec)} img/s · elapsed "
            f"{fmt_duration(v.elapsed_s)} · train time {fmt_duration(v.train_seconds)}"
            + (f" · ETA {fmt_duration(v.eta_s)}" if v.status == "running" else "")
            + f" · {v.device or '—'} on {r.host or '—'}" + (f" pid {r.pid}" if r.pid else ""),
            style="dim",
        )
        parts = [line, line2]
        if r.error:
            parts.append(Text(f"error: {r.error}", style=f"bold {self.app.current_theme.error or 'red'}"))
        if v.status == "stale":
            parts.append(Text("the heartbeat stopped and the process is gone: it crashed or was killed. "
                              "r resumes it from its last checkpoint.",
                              style=self.app.current_theme.warning or "yellow"))
        self.query_one("#detail-summary", Static).update(Text("\n").join(parts))

    def _show_curves(self, d: RunDetail) -> None:
        ep = d.epochs
        xs = [float(e.epoch) for e in ep]
        self.query_one("#plot-loss", LinePlot).set_series([
            ("train", xs, [e.train_loss for e in ep], "blue+"),
            ("test", xs, [e.test_loss for e in ep], "orange+"),
        ])
        self.query_one("#plot-acc", LinePlot).set_series([
            ("train", xs, [pct(e.train_acc) for e in ep], "blue+"),
            ("test", xs, [pct(e.test_acc) for e in ep], "orange+"),
        ])
        self.query_one("#plot-lr", LinePlot).set_series([("lr", xs, [e.lr for e in ep], "green+")])
        rho = [e.rho for e in ep]
        self.query_one("#plot-rho", LinePlot).set_series(
            [("rho", xs, rho, "magenta+")],
            empty="no data yet" if uses_rho(d.run.method) else "not used by this method")

    def _show_config(self, d: RunDetail) -> None:
        r = d.run
        t = Table.grid(padding=(0, 2))
        t.add_column(style="bold", no_wrap=True)
        t.add_column()
        rows: list[tuple[str, Any]] = [
            ("status", f"{d.status}" + (f" (stored: {r.status})" if r.status != d.status else "")),
            ("study", r.study or "—"), ("seed", r.seed), ("dataset", r.dataset or "—"),
            ("device", r.device or "—"), ("host / pid", f"{r.host or '—'} / {r.pid or '—'}"),
            ("created", stamp(r.created_at)), ("started", stamp(r.started_at)),
            ("finished", stamp(r.finished_at)), ("heartbeat", stamp(r.heartbeat_at)),
            ("final test %", fmt_acc(r.final_test_acc) + (
                f"  (final.pt, where the sweeps start; the trained weights before the last epoch's "
                f"{spec.method(r.method).epoch_end_label if r.method in spec.method_names() else 'change'}: "
                f"{fmt_acc(r.final_trained_test_acc)})"
                if r.final_trained_test_acc is not None and r.final_trained_test_acc != r.final_test_acc else "")),
            ("versions", f"torch {r.torch_version or '—'} · nawt {r.nawt_version or '—'}"
             + (f" · git {r.git_commit}" if r.git_commit else "")),
            ("run dir", r.run_dir or "—"), ("log", r.log_path or "—"),
        ]
        if r.error:
            rows.append(("error", Text(r.error, style=self.app.current_theme.error or "red")))
        for k, v in rows:
            t.add_row(k, str(v) if not isinstance(v, Text) else v)
        t.add_row("", "")
        t.add_row(Text("config", style="bold underline"), "")
        for k, v in (r.config or {}).items():
            t.add_row(k, fmt_value(v, "—"))
        if r.tags or r.notes:
            t.add_row("", "")
            t.add_row("tags", " ".join(r.tags or []) or "—")
            t.add_row("note", r.notes or "—")
        self.query_one("#config-body", Static).update(t)
        self.query_one("#weights-body", WeightStats).show(d.epochs)

    def _show_files(self, d: RunDetail) -> None:
        r = d.run
        t = Table(box=None, padding=(0, 2), show_edge=False, header_style="bold")
        t.add_column("file")
        t.add_column("size", justify="right")
        t.add_column("modified (UTC)")
        t.add_column("")
        marks = {}
        for label, path in (("last checkpoint", r.checkpoint_last), ("final checkpoint", r.checkpoint_final),
                            ("training log", r.log_path)):
            if path:
                marks[path.rsplit("/", 1)[-1]] = label
        for name, size, mtime in d.files:
            t.add_row(name, fmt_size(size), mtime.strftime("%Y-%m-%d %H:%M"), marks.get(name, ""))
        head = f"folder: {r.run_dir or '—'}\n"
        if not d.files:
            head += "(no files: the folder is missing or empty)\n"
            for label, path in (("last checkpoint", r.checkpoint_last), ("final checkpoint", r.checkpoint_final)):
                if path:
                    head += f"{label}: {path}\n"
        self.query_one("#files-body", Static).update(Text(head) if not d.files else _stack(Text(head), t))

    def _show_evals(self, d: RunDetail) -> None:
        t = self.query_one("#eval-table", DataTable)
        cursor = t.cursor_row
        t.clear()
        self._eval_ids = []
        for ev in d.evaluations:
            c = d.curves.get(ev.id)
            pairs = list(zip(c.params, c.mean)) if c else []
            if c and descending(c.kind):
                pairs.reverse()  # e.g. 8 bits first, as the compare table and the PNGs
            pts = wrap_points([f"{p:g}:{fmt_acc(m)}" for p, m in pairs], self.size.width)
            t.add_row(str(ev.id), c.label if c else ev.kind, eval_state(ev, d.eval_status.get(ev.id)),
                      fmt_acc(ev.clean_acc), pts, key=str(ev.id), height=None)
            self._eval_ids.append(ev.id)
        if not d.evaluations:
            t.add_row("", "no evaluations yet: press e to start one", "", "", "")
        if t.row_count:
            t.move_cursor(row=min(cursor, t.row_count - 1))
        self._plot_eval()

    def _plot_eval(self) -> None:
        d = self.detail
        plot = self.query_one("#plot-eval", LinePlot)
        if d is None:
            return
        t = self.query_one("#eval-table", DataTable)
        row = t.cursor_row
        if not self._eval_ids or row >= len(self._eval_ids):
            plot.set_series([], empty="none")
            return
        c = d.curves.get(self._eval_ids[row])
        if c is None:  # e.g. sharpness: numbers, not a curve (or no points yet)
            plot.title = "this evaluation"
            plot.set_series([], empty="no curve to draw (its numbers are in the table)")
            return
        plot.title = f"{c.label}: accuracy %"
        param = eval_param(c.kind)
        plot.xlabel = param.short if param else ""
        at, ticks, labels = axis_positions(param, c.params)  # log-spaced grids evenly, labelled as the table
        xs = [at[v] for v in c.params]
        series = [("mean", xs, [pct(m) for m in c.mean], "blue+")]
        if any(n > 1 for n in c.trials):
            series.append(("min", xs, [pct(m) for m in c.minimum], "red+"))
        plot.set_series(series, xticks=ticks, xlabels=labels, reverse_x=descending(c.kind))  # bits as in the PNGs

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "eval-table":
            self._plot_eval()

    def _show_log(self, d: RunDetail) -> None:
        log = self.query_one("#log-body", RichLog)
        log.clear()
        if not d.log_tail and d.epochs:  # trained in the foreground (no log file): its epochs from the store
            log.write(Text("(no log file: the run trained in a terminal; its epochs as stored)", style="dim"))
            for e in d.epochs:
                log.write(Text(epoch_log_line(e, d.run.epochs)))
        elif not d.log_tail:
            log.write(Text("(no log file yet)", style="dim"))
        for line in d.log_tail:
            log.write(Text(line))

    # ------------------------------------------------------------ actions
    def action_back(self) -> None:
        self.app.pop_screen()

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def _act(self, action: Any) -> None:
        if self.detail is not None:
            action(self.app, self.detail.view)

    def action_stop(self) -> None:
        self._act(actions.stop)

    def action_resume(self) -> None:
        self._act(actions.resume)

    def action_evaluate(self) -> None:
        if self.detail is not None:
            actions.evaluate(self.app, [self.run_id], {self.run_id: self.detail.run.status})


def _stack(*renderables: Any) -> Any:
    from rich.console import Group

    return Group(*renderables)
