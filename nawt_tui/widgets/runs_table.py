"""The runs table: one row per run, updated in place, sized to the terminal, sortable, with marks."""

from __future__ import annotations

from typing import Any, Callable

from rich.text import Text
from textual.widgets import DataTable

from nawt_core.runview import differing_keys, settings_text

from .. import columns
from ..data import RunView, progress_bar
from ..styles import status_style

BAR_WIDTH = 7


class RunsTable(DataTable):
    """Rows keep their cells: a refresh only touches what changed, and the cursor stays on its run."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.views: dict[int, RunView] = {}
        self.marked: set[int] = set()
        self.sort_column = "id"
        self.sort_reverse = True
        self.focus_run: int | None = None  # move to this run once it shows
        self.plan: list[tuple[str, int]] = []  # (column, width) shown at this terminal width
        self.differ_keys: list[str] = []  # settings that differ between the shown runs
        self._cells: dict[str, dict[str, Text]] = {}

    def visible_views(self) -> list[RunView]:
        """The rows in table order (what export writes)."""
        out = []
        for row in self.ordered_rows:
            v = self.views.get(int(row.key.value))
            if v is not None:
                out.append(v)
        return out

    def render_cells(self, v: RunView) -> dict[str, Text]:
        text = v.cell_text()
        status = "stopping" if v.stop_requested and v.live else v.status
        label = "stopping" if status == "stopping" else v.status_text
        theme = self.app.current_theme
        text["settings"] = settings_text(dict(v.settings), self.differ_keys) or "—"
        cells: dict[str, Text] = {}
        for key in columns.ORDER:
            cells[key] = Text(text[key], no_wrap=True, overflow="ellipsis")
        mark = "●" if v.id in self.marked else " "
        cells["id"] = Text.assemble((mark, theme.accent or "magenta"), f"{v.id:>3}")
        cells["status"] = Text(label, style=status_style(self.app, status))
        for key in ("acc", "best", "loss", "ips", "elapsed", "eta"):
            cells[key].justify = "right"
        bar_style = theme.primary or "blue"
        if v.status in ("stale", "failed"):
            bar_style = theme.error or "red"
        elif v.status == "running":
            bar_style = theme.success or "green"
        cells["progress"] = Text.assemble(
            (progress_bar(v.fraction, BAR_WIDTH), bar_style), f" {v.epoch}/{v.epochs}",
            no_wrap=True, overflow="ellipsis",
        )
        return cells

    def apply_views(self, views: list[RunView], matches: Callable[[RunView], bool]) -> list[RunView]:
        """Adds, removes and updates rows in place; returns the runs shown (those `matches` keeps)."""
        self.views = {v.id: v for v in views}
        self.marked &= set(self.views)
        cursor_key = self.cursor_run_id()
        visible = [v for v in views if matches(v)]
        self.differ_keys = differing_keys([dict(v.settings) for v in visible])
        if self.relayout(visible):
            self._cells = {}
        want = {str(v.id) for v in visible}
        existing = {row_key.value for row_key in self.rows}
        resort = False
        for key in existing - want:
            self.remove_row(key)
            self._cells.pop(key, None)
            resort = True
        for v in visible:
            key = str(v.id)
            cells = self.render_cells(v)
            if key not in existing:
                self.add_row(*[cells[k] for k, _w in self.plan], key=key)
                self._cells[key] = cells
                resort = True
                continue
            old = self._cells[key]
            for col, _w in self.plan:
                if old.get(col) != cells[col]:
                    self.update_cell(key, col, cells[col])
                    if col == self.sort_column:
                        resort = True
            self._cells[key] = cells
        if resort:
            self.apply_sort(keep=cursor_key)
        if self.focus_run is not None and str(self.focus_run) in want:
            self.move_to_run(self.focus_run)
            self.focus_run = None
        return visible

    def forget_cells(self) -> None:
        """The next apply_views redraws every cell (e.g. the theme changed)."""
        self._cells = {k: {} for k in self._cells}

    def cursor_run_id(self) -> int | None:
        if self.row_count == 0:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except Exception:
            return None
        return int(key.value) if key.value is not None else None

    def move_to_run(self, run_id: int) -> None:
        try:
            index = self.get_row_index(str(run_id))
        except Exception:
            return
        self.move_cursor(row=index, animate=False)

    def apply_sort(self, keep: int | None = None) -> None:
        col = self.sort_column
        views = self.views
        self.sort("id", key=lambda cell: views[int(str(cell).strip(" ●"))].sort_value(col)
                  if int(str(cell).strip(" ●")) in views else (True, 0, 0),
                  reverse=self.sort_reverse)
        if keep is not None:
            self.move_to_run(keep)

    def sort_by(self, column: str, reverse: bool) -> None:
        self.sort_column, self.sort_reverse = column, reverse
        self.update_headers()
        self.apply_sort(keep=self.cursor_run_id())

    def relayout(self, visible: list[RunView]) -> bool:
        """Sizes the columns to the terminal; True when they changed (the rows are then re-added)."""
        natural = {"name": max([len(v.name) for v in visible] + [4]),
                   "settings": max([len(settings_text(dict(v.settings), self.differ_keys)) for v in visible] + [1]),
                   "study": max([len(v.study or "") for v in visible] + [1]),
                   "tags": max([len(" ".join(v.tags)) for v in visible] + [1]),
                   "where": max([len(v.where) for v in visible if v.status == "running"] + [0])}
        plan = columns.plan(self.app.size.width, natural)
        if plan == self.plan:
            return False
        self.plan = plan
        self.clear(columns=True)
        for key, width in plan:
            self.add_column(columns.LABELS[key], key=key, width=width)
        if self.sort_column not in dict(plan):
            self.sort_column, self.sort_reverse = "id", True
        self.update_headers()
        return True

    def update_headers(self) -> None:
        for key, _w in self.plan:
            arrow = (" ▼" if self.sort_reverse else " ▲") if key == self.sort_column else ""
            self.columns[key].label = Text(columns.LABELS[key] + arrow)
        self.refresh()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        key = event.column_key.value
        self.sort_by(key, not self.sort_reverse if key == self.sort_column else False)

    def toggle_mark(self) -> None:
        """Marks (or unmarks) the run under the cursor and moves down a row."""
        rid = self.cursor_run_id()
        if rid is None:
            return
        self.marked ^= {rid}
        cells = self.render_cells(self.views[rid])
        self.update_cell(str(rid), "id", cells["id"])
        self._cells[str(rid)]["id"] = cells["id"]
        if self.cursor_row < self.row_count - 1:
            self.move_cursor(row=self.cursor_row + 1)
