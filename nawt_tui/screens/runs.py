"""The runs screen: a live table of every run in the store."""

from __future__ import annotations

from typing import Any, Callable

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static

from nawt_core.runview import differing_keys, settings_text

from .. import actions, columns
from nawt_core import spec

from ..data import STATUS_FILTERS, DataError, RunView, progress_bar
from ..messages import ActionDone, RunsLoaded
from ..styles import status_style
from .compare import CompareScreen
from .detail import DetailScreen
from .diff import DiffScreen
from .new_run import NewRunScreen
from .overlay import OverlayScreen

BAR_WIDTH = 7


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
        Binding("w", "export", "Export CSV"),
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
        self.views: dict[int, RunView] = {}
        self._cells: dict[str, dict[str, Text]] = {}
        self.marked: set[int] = set()
        self.text_filter = ""
        self.method_filter: str | None = None
        self.status_filter: str | None = None
        self.sort_column = "id"
        self.sort_reverse = True
        self.error: str | None = None
        self.loaded = False
        self._loading = False
        self._focus_run: int | None = None
        self._timer: Any = None
        self.plan: list[tuple[str, int]] = []  # (column, width) shown at this terminal width
        self.differ_keys: list[str] = []  # settings that differ between the shown runs

    # ------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="filter-bar"):
            yield Input(placeholder="/ filter: name, method, study, tag:NAME…", id="filter-input")
            yield Static("", id="filter-state")
        yield DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="empty-note")
        yield Static("connecting…", id="status-line")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.sub_title = self.app.source.display_url
        self._relayout([])
        self._update_filter_state()
        self.query_one(DataTable).focus()
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
    def table(self) -> DataTable:
        return self.query_one("#runs-table", DataTable)

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

    def visible_views(self) -> list[RunView]:
        """The rows in table order (what export writes)."""
        table = self.table
        out = []
        for row in table.ordered_rows:
            v = self.views.get(int(row.key.value))
            if v is not None:
                out.append(v)
        return out

    def render_cells(self, v: RunView) -> dict[str, Text]:
        text = v.cell_text()
        status = "stopping" if v.stop_requested and v.live else v.status
        theme = self.app.current_theme
        text["settings"] = settings_text(dict(v.settings), self.differ_keys) or "—"
        cells: dict[str, Text] = {}
        for key in columns.ORDER:
            cells[key] = Text(text[key], no_wrap=True, overflow="ellipsis")
        mark = "●" if v.id in self.marked else " "
        cells["id"] = Text.assemble((mark, theme.accent or "magenta"), f"{v.id:>3}")
        cells["status"] = Text(status, style=status_style(self.app, status))
        for key in ("acc", "best", "loss", "ips", "elapsed", "eta"):
            cells[key].justify = "right"
        bar_style = theme.primary or "blue"
        if v.status in ("stale", "failed"):
            bar_style = theme.error or "red"
        elif v.status == "running":
            bar_style = theme.success or "green"
        frac = v.fraction
        cells["progress"] = Text.assemble(
            (progress_bar(frac, BAR_WIDTH), bar_style), f" {v.epoch}/{v.epochs}",
            no_wrap=True, overflow="ellipsis",
        )
        return cells

    def apply_views(self, views: list[RunView]) -> None:
        """Adds, removes and updates rows in place: the cursor stays on its run."""
        table = self.table
        self.views = {v.id: v for v in views}
        self.marked &= set(self.views)
        cursor_key = self.cursor_run_id()
        visible = [v for v in views if self.matches(v)]
        self.differ_keys = differing_keys([dict(v.settings) for v in visible])
        if self._relayout(visible):
            self._cells = {}
        want = {str(v.id) for v in visible}
        existing = {row_key.value for row_key in table.rows}
        resort = False
        for key in existing - want:
            table.remove_row(key)
            self._cells.pop(key, None)
            resort = True
        for v in visible:
            key = str(v.id)
            cells = self.render_cells(v)
            if key not in existing:
                table.add_row(*[cells[k] for k, _w in self.plan], key=key)
                self._cells[key] = cells
                resort = True
                continue
            old = self._cells[key]
            for col, _w in self.plan:
                if old.get(col) != cells[col]:
                    table.update_cell(key, col, cells[col])
                    if col == self.sort_column:
                        resort = True
            self._cells[key] = cells
        if resort:
            self.apply_sort(keep=cursor_key)
        if self._focus_run is not None and str(self._focus_run) in want:
            self.move_to_run(self._focus_run)
            self._focus_run = None
        empty = self.query_one("#empty-note", Static)
        if not views:
            empty.update("No runs yet. Press [b]n[/b] to start a training, or run "
                         "`nawt train` in another terminal; it appears here live.")
        elif not visible:
            empty.update("No run matches the filters (Esc clears them).")
        empty.display = not visible

    def _rerender_all(self) -> None:
        self._cells = {k: {} for k in self._cells}
        self.apply_views(list(self.views.values()))

    def rebuild_rows(self) -> None:
        """After a filter change: rows come and go, kept cells stay."""
        self.apply_views(sorted(self.views.values(), key=lambda v: v.id))
        self._update_filter_state()
        self._update_status_line()

    def cursor_run_id(self) -> int | None:
        table = self.table
        if table.row_count == 0:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        except Exception:
            return None
        return int(key.value) if key.value is not None else None

    def move_to_run(self, run_id: int) -> None:
        table = self.table
        try:
            index = table.get_row_index(str(run_id))
        except Exception:
            return
        table.move_cursor(row=index, animate=False)

    def apply_sort(self, keep: int | None = None) -> None:
        table = self.table
        col = self.sort_column
        views = self.views
        table.sort("id", key=lambda cell: views[int(str(cell).strip(" ●"))].sort_value(col)
                   if int(str(cell).strip(" ●")) in views else (True, 0, 0),
                   reverse=self.sort_reverse)
        if keep is not None:
            self.move_to_run(keep)

    def _relayout(self, visible: list[RunView]) -> bool:
        """Sizes the columns to the terminal; True when they changed (the rows are then re-added)."""
        natural = {"name": max([len(v.name) for v in visible] + [4]),
                   "settings": max([len(settings_text(dict(v.settings), self.differ_keys)) for v in visible] + [1]),
                   "study": max([len(v.study or "") for v in visible] + [1]),
                   "tags": max([len(" ".join(v.tags)) for v in visible] + [1])}
        plan = columns.plan(self.app.size.width, natural)
        if plan == self.plan:
            return False
        self.plan = plan
        table = self.table
        table.clear(columns=True)
        for key, width in plan:
            table.add_column(columns.LABELS[key], key=key, width=width)
        if self.sort_column not in dict(plan):
            self.sort_column, self.sort_reverse = "id", True
        self._update_headers()
        return True

    def on_resize(self) -> None:
        if self.loaded:
            self.apply_views(sorted(self.views.values(), key=lambda v: v.id))

    def _update_headers(self) -> None:
        table = self.table
        for key, _w in self.plan:
            arrow = (" ▼" if self.sort_reverse else " ▲") if key == self.sort_column else ""
            table.columns[key].label = Text(columns.LABELS[key] + arrow)
        table.refresh()

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
    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open_detail()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        key = event.column_key.value
        if key == self.sort_column:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_column, self.sort_reverse = key, False
        self._update_headers()
        self.apply_sort(keep=self.cursor_run_id())

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
            self._focus_run = done.run_id
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

    def action_export(self) -> None:
        actions.export(self.app, self.visible_views())

    def action_mark(self) -> None:
        rid = self.cursor_run_id()
        if rid is None:
            return
        self.marked ^= {rid}
        v = self.views[rid]
        cells = self.render_cells(v)
        self.table.update_cell(str(rid), "id", cells["id"])
        self._cells[str(rid)]["id"] = cells["id"]
        self._update_filter_state()
        table = self.table
        if table.cursor_row < table.row_count - 1:
            table.move_cursor(row=table.cursor_row + 1)

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
        keys = [k for k, _w in self.plan]
        i = keys.index(self.sort_column) if self.sort_column in keys else -1
        self.sort_column = keys[(i + 1) % len(keys)]
        self.sort_reverse = False
        self._update_headers()
        self.apply_sort(keep=self.cursor_run_id())

    def action_reverse_sort(self) -> None:
        self.sort_reverse = not self.sort_reverse
        self._update_headers()
        self.apply_sort(keep=self.cursor_run_id())
