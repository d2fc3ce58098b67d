"""The runs screen: a live table of every run in the store."""

from __future__ import annotations

from typing import Any, Callable

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Static

from nawt_core import spec

from .. import actions
from ..data import STATUS_FILTERS, DataError, RunView
from ..messages import ActionDone, RunsLoaded
from ..widgets.runs_table import RunsTable
from .compare import CompareScreen
from .detail import DetailScreen
from .diff import DiffScreen
from .new_run import NewRunScreen
from .overlay import OverlayScreen
from .workers import WorkersScreen


class RunsScreen(Screen):
    """Every run, refreshed from the database at least once a second."""

    BINDINGS = [
        Binding("enter", "open_detail", "Detail", priority=False),
        Binding("n", "new_run", "New"),
        Binding("c", "compare", "Compare"),
        Binding("space", "mark", "Mark", show=False),
        Binding("x", "stop", "Stop"),
        Binding("r", "resume", "Resume"),
        Binding("e", "evaluate", "Eval"),
        Binding("d", "delete", "Delete"),
        Binding("w", "export", "CSV"),  # short: the footer keeps "q Quit" at 80 columns
        Binding("W", "workers", "Workers"),
        Binding("S", "study", "Study", show=False),
        Binding("D", "diff", "Diff", show=False),
        Binding("p", "overlay", "Curves", show=False),
        Binding("t", "tags", "Tags", show=False),
        Binding("slash", "filter", "Filter", show=False),
        Binding("m", "cycle_method", "Method filter", show=False),
        Binding("f", "cycle_status", "Status filter", show=False),
        Binding("o", "cycle_sort", "Sort", show=False),
        Binding("O", "reverse_sort", "Reverse sort", show=False),
        Binding("escape", "clear_filters", "Clear filters", show=False),
    ]

    def __init__(self) -> None:
        super().__init__(id="runs-screen")
        self.text_filter = ""
        self.method_filter: str | None = None
        self.status_filter: str | None = None
        self.error: str | None = None
        self.loaded = False
        self._loading = False
        self._timer: Any = None

    # ------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="filter-bar"):
            yield Input(placeholder="/ filter: name, method, study, tag:NAME…", id="filter-input")
            yield Static("", id="filter-state")
        yield RunsTable(id="runs-table")
        yield Static("", id="empty-note")
        yield Static("connecting…", id="status-line")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.sub_title = self.app.source.display_url
        self.table.relayout([])
        self._update_filter_state()
        self.table.focus()
        self.refresh_runs()
        self._timer = self.set_interval(self.app.refresh_interval, self.refresh_runs)
        self.app.theme_changed_signal.subscribe(self, lambda _t: self._rerender_all())
        self.app.runs_changed.subscribe(self, self._runs_changed)

    def on_screen_suspend(self) -> None:
        if self._timer is not None:
            self._timer.pause()

    def on_screen_resume(self) -> None:
        if self._timer is not None:
            self._timer.resume()
            self.refresh_runs()

    @property
    def table(self) -> RunsTable:
        return self.query_one("#runs-table", RunsTable)

    @property
    def views(self) -> dict[int, RunView]:
        return self.table.views

    @property
    def marked(self) -> set[int]:
        return self.table.marked

    def cursor_run_id(self) -> int | None:
        return self.table.cursor_run_id()

    def move_to_run(self, run_id: int) -> None:
        self.table.move_to_run(run_id)

    def visible_views(self) -> list[RunView]:
        return self.table.visible_views()

    # ------------------------------------------------------------ loading
    def refresh_runs(self) -> None:
        if self._loading:
            return
        self._loading = True
        self._load_runs()

    @work(thread=True, exit_on_error=False, group="runs-load")
    def _load_runs(self) -> None:
        try:
            views = self.app.source.run_views()
        except DataError as e:
            self.post_message(RunsLoaded(None, str(e)))
        except Exception as e:  # never crash the UI over a read
            self.post_message(RunsLoaded(None, f"{type(e).__name__}: {e}"))
        else:
            self.post_message(RunsLoaded(views))

    def on_runs_loaded(self, message: RunsLoaded) -> None:
        self._loading = False
        if message.views is None:
            self.error = message.error
        else:
            self.error = None
            self.loaded = True
            self.apply_views(message.views)
        self._update_status_line()

    # ------------------------------------------------------------ table
    def matches(self, v: RunView) -> bool:
        if self.method_filter and v.method != self.method_filter:
            return False
        if self.status_filter and v.status != self.status_filter:
            return False
        if self.text_filter:
            hay = " ".join([str(v.id), v.name, v.method, v.status, v.study or "", v.device, v.host, v.notes,
                            *v.tags]).lower()
            tags = {t.lower() for t in v.tags}
            return all(word[4:] in tags if word.startswith("tag:") else word in hay
                       for word in self.text_filter.lower().split())
        return True

    def apply_views(self, views: list[RunView]) -> None:
        visible = self.table.apply_views(views, self.matches)
        empty = self.query_one("#empty-note", Static)
        if not views:
            empty.update("No runs yet. Press [b]n[/b] to start a training, or run "
                         "`nawt train` in another terminal; it appears here live.")
        elif not visible:
            empty.update("No run matches the filters (Esc clears them).")
        empty.display = not visible

    def _rerender_all(self) -> None:
        self.table.forget_cells()
        self.apply_views(list(self.views.values()))

    def rebuild_rows(self) -> None:
        """After a filter change: rows come and go, kept cells stay."""
        self.apply_views(sorted(self.views.values(), key=lambda v: v.id))
        self._update_filter_state()
        self._update_status_line()

    def on_resize(self) -> None:
        if self.loaded:
            self.apply_views(sorted(self.views.values(), key=lambda v: v.id))

    def _update_filter_state(self) -> None:
        parts = []
        parts.append(f"method:[b]{self.method_filter or 'all'}[/b]")
        parts.append(f"status:[b]{self.status_filter or 'all'}[/b]")
        if self.marked:
            parts.append(f"[b]{len(self.marked)}[/b] marked")
        self.query_one("#filter-state", Static).update(" · ".join(parts))

    def _update_status_line(self) -> None:
        line = self.query_one("#status-line", Static)
        if self.error:
            line.update(Text(f"⚠ {self.error}", style=f"bold {self.app.current_theme.error or 'red'}"))
            line.set_class(True, "error")
            return
        line.set_class(False, "error")
        if not self.loaded:
            line.update("connecting…")
            return
        counts: dict[str, int] = {}
        for v in self.views.values():
            counts[v.status] = counts.get(v.status, 0) + 1
        shown = self.table.row_count
        total = len(self.views)
        stamp = self.app.source.now().strftime("%H:%M:%S")
        parts = [stamp, f"{shown} of {total} runs" if shown != total else f"{total} runs"]
        for st in ("running", "queued", "stale", "failed", "interrupted", "completed"):
            if counts.get(st):
                parts.append(f"{counts[st]} {st}")
        line.update(" · ".join(parts))

    # ------------------------------------------------------------ events
    def on_data_table_row_selected(self, event: RunsTable.RowSelected) -> None:
        self.action_open_detail()

    @on(Input.Changed, "#filter-input")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.text_filter = event.value.strip()
        self.rebuild_rows()

    @on(Input.Submitted, "#filter-input")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        self.table.focus()

    def _runs_changed(self, done: ActionDone) -> None:
        if done.deleted is not None:
            self.marked.discard(done.deleted)
        if done.run_id is not None:
            self.table.focus_run = done.run_id
        self.refresh_runs()

    # ------------------------------------------------------------ actions (the work: nawt_tui.actions)
    def _target_ids(self) -> list[int]:
        if self.marked:
            return sorted(self.marked)
        rid = self.cursor_run_id()
        return [rid] if rid is not None else []

    def _cursor_view(self) -> RunView | None:
        rid = self.cursor_run_id()
        return self.views.get(rid) if rid is not None else None

    def _on_cursor(self, action: Callable[[Any, RunView], None]) -> None:
        v = self._cursor_view()
        if v is not None:
            action(self.app, v)

    def action_open_detail(self) -> None:
        rid = self.cursor_run_id()
        if rid is None:
            self.app.bell()
            return
        self.app.push_screen(DetailScreen(rid))

    def action_new_run(self) -> None:
        self.app.push_screen(NewRunScreen())

    def action_compare(self) -> None:
        ids = sorted(self.marked) or [v.id for v in self.visible_views()]
        self.app.push_screen(CompareScreen(run_ids=ids))

    def action_diff(self) -> None:
        if len(self.marked) != 2:
            self.app.notify("mark two runs (space) to see their differences", severity="warning")
            return
        self.app.push_screen(DiffScreen(*sorted(self.marked)))

    def action_overlay(self) -> None:
        ids = sorted(self.marked) or [v.id for v in self.visible_views()]
        if ids:
            self.app.push_screen(OverlayScreen(ids))

    def action_tags(self) -> None:
        self._on_cursor(actions.tags)

    def action_stop(self) -> None:
        self._on_cursor(actions.stop)

    def action_resume(self) -> None:
        self._on_cursor(actions.resume)

    def action_delete(self) -> None:
        self._on_cursor(actions.delete)

    def action_evaluate(self) -> None:
        ids = self._target_ids()
        actions.evaluate(self.app, ids, {i: self.views[i].stored_status for i in ids})

    def action_study(self) -> None:
        actions.study(self.app)

    def action_workers(self) -> None:
        self.app.push_screen(WorkersScreen())

    def action_export(self) -> None:
        actions.export(self.app, self.visible_views())

    def action_mark(self) -> None:
        self.table.toggle_mark()
        self._update_filter_state()

    def action_filter(self) -> None:
        self.query_one("#filter-input", Input).focus()

    def action_clear_filters(self) -> None:
        inp = self.query_one("#filter-input", Input)
        if self.focused is inp and inp.value:
            inp.value = ""
        if inp.value or self.method_filter or self.status_filter:
            inp.value = ""
            self.text_filter = ""
            self.method_filter = self.status_filter = None
            self.rebuild_rows()
        elif self.marked:
            self.marked.clear()
            self._rerender_all()
            self._update_filter_state()
        self.table.focus()

    def action_cycle_method(self) -> None:
        order = [None, *spec.method_names()]
        self.method_filter = order[(order.index(self.method_filter) + 1) % len(order)]
        self.rebuild_rows()

    def action_cycle_status(self) -> None:
        order = [None, *STATUS_FILTERS]
        self.status_filter = order[(order.index(self.status_filter) + 1) % len(order)]
        self.rebuild_rows()

    def action_cycle_sort(self) -> None:
        table = self.table
        keys = [k for k, _w in table.plan]
        i = keys.index(table.sort_column) if table.sort_column in keys else -1
        table.sort_by(keys[(i + 1) % len(keys)], False)

    def action_reverse_sort(self) -> None:
        self.table.sort_by(self.table.sort_column, not self.table.sort_reverse)
