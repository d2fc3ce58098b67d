"""The compare screen's tables and curves, filled from a Comparison (nawt_core/compare.py).

One row per method and comparable settings, as `nawt compare` prints them:
accuracy and time in two tables, then one table and one curve per evaluation
(nawt_core/evalspec.py), in percent like the CLI.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import DataTable

from nawt_core import seed_summary, sharp_robust, spec
from nawt_core.evalspec import EvalSpec
from nawt_core.runview import acc_ci, acc_diff

from ..views import fmt_acc, fmt_duration
from .plots import LinePlot, axis_positions, method_colour

# a fixed width: measured widths of styled cells raced with mounting (snapshots differed)
METHOD_WIDTH = len("noise-injection")
ACCURACY_COLUMNS = [("method", "method"), ("group", "settings"), ("n", "n"), ("mean", "test %"), ("std", "± std"),
                    ("ci", "95 % CI"), ("diff", "Δ standard"), ("best", "best run %")]
# a table of its own: beside the accuracy columns they were cut at 80 columns
TIME_COLUMNS = [("method", "method"), ("group", "settings"), ("time", "estimate s"), ("secs", "total s"),
                ("spread", "epoch s"), ("load", "load"), ("ratio", "ratio"), ("epochs", "epochs"), ("device", "device")]


def grouped(c: Any) -> bool:
    """Whether the rows need a settings column (more than one setting shown)."""
    return c.mixed or any(r.group for r in c.accuracy) or any(r.group for t in c.sweeps.values() for r in t.rows)


def fill_accuracy(t: DataTable, tt: DataTable, c: Any) -> None:
    """Accuracy (``t``) and time (``tt``), one row per method and settings in each."""
    show_group = grouped(c)
    for table, columns in ((t, ACCURACY_COLUMNS), (tt, TIME_COLUMNS)):
        table.clear(columns=True)
        for key, label in columns:
            if key == "group" and not show_group:
                continue
            table.add_column(label, key=key, width=METHOD_WIDTH if key == "method" else None)
    timing = {(row.method, row.group): row for row in c.timing}
    for row in c.accuracy:
        cells = [Text(row.method, style=method_style(row.method))]
        if show_group:
            cells.append(row.group or "—")
        t.add_row(*cells, str(row.n), _num(row.mean),
                  Text("1 seed" if row.n < 2 else fmt_acc(row.std), justify="right"),
                  Text(acc_ci(row), justify="right"), Text(acc_diff(row.vs_standard), justify="right"),
                  _num(row.best), key=row_key(row))
        tt.add_row(*cells, *_time_cells(timing.get((row.method, row.group))), key=row_key(row))


def _time_cells(tm: Any) -> list:
    """A timing row's cells (all dashes when the group has none)."""
    if tm is None:
        return [Text("—", justify="right")] * 6 + ["—", "—"]
    secs, med = tm.train_seconds, tm.median_time
    spread = "—" if tm.epoch_median is None else f"{tm.epoch_min:.0f}–{tm.epoch_max:.0f}"
    return [Text(fmt_duration(med if med is not None else secs), justify="right"),
            Text("—" if secs is None else f"{secs:,.0f}", justify="right"),
            Text(spread, justify="right"),
            Text("—" if tm.load_avg is None else f"{tm.load_avg:.1f}" + (" busy" if tm.busy else ""),
                 justify="right"),
            Text("—" if tm.ratio is None else f"{tm.ratio:.2f}" + ("!" if tm.load_flag else ""), justify="right"),
            str(tm.epochs or "—"), str(tm.device or "—")]


def column_key(s: EvalSpec, value: Any) -> str:
    """A swept value's column key: ``s0.02`` (a strength), ``b4`` (a bit width)."""
    return f"{s.param.column[0]}{value}" if s.param else str(value)


def fill_sweep(t: DataTable, plots: list[LinePlot], c: Any, s: EvalSpec, variant: str | None) -> None:
    """One evaluation: rows x swept values (mean±std), and its curves in ``plots``."""
    table = c.table(s.name)
    show_group = grouped(c)
    t.clear(columns=True)
    t.add_column("method", key="method", width=METHOD_WIDTH)
    if show_group:
        t.add_column("settings", key="group")
    if s.clean is not None:
        t.add_column(s.clean.title, key=s.clean.key)
    for v in table.grid:
        t.add_column(s.param.head(v) if s.param else s.metric_title(v), key=column_key(s, v))
    for m in s.summaries:
        t.add_column((m.title or m.header).replace("\n", " "), key=f"sum-{m.name}")
    seeded = seed_summary.metrics(table) if seed_summary.shown(table) else []
    for m in seeded:  # over seeds: the mean with its interval, and the paired difference to standard
        t.add_column(f"{s.metric_title(m)} [95 % CI]", key=f"ci-{m}")
        t.add_column(f"{s.metric_title(m)} Δ std", key=f"diff-{m}")
    series = []
    at, ticks, labels = axis_positions(s.param, table.grid) if s.param is not None else ({}, [], None)
    for i, row in enumerate(table.rows):
        pts = row.points
        cells = [Text(row.method, style=method_style(row.method))]
        if show_group:
            cells.append(row.group or "—")
        if s.clean is not None:
            cells.append(_num(row.clean))
        cells += [_pm(pts.get(v), s.tui_digits, s.point_scale(v)) for v in table.grid]  # one decimal fits six at 80
        cells += [Text(m.text(row) if m.text else fmt_acc(row[m.name]), justify="right") for m in s.summaries]
        cells += [Text(c, justify="right") for m in seeded for c in seed_summary.cells(s, row, m)]
        t.add_row(*cells, key=row_key(row))
        if s.param is None:  # metrics, not a curve
            continue
        xs = [v for v in table.grid if v in pts and not pts[v].partial]
        series.append((series_name(row), [at[v] for v in xs], [s.point_scale(v) * pts[v].mean for v in xs],
                       method_colour(row.method, i)))
    shown = table.variant or variant
    empty = f"no {shown + ' ' if shown else ''}{s.name} evaluations (e on the runs screen)"
    if table.other_variants and not table.rows:  # stored, but of another variant: a shows it
        empty = f"no {shown} {s.name} evaluations; stored: {', '.join(table.other_variants)} (a: next variant)"
    for plot in plots:
        plot.title = s.titled(s.text.tui_plot, shown)
        plot.set_series(series, xticks=ticks or None, empty=empty, xlabels=labels,
                        reverse_x=bool(s.param and s.param.descending))  # bits: 8 on the left, as the PNG


def _num(x: float | None) -> Text:
    """An accuracy in percent, two decimals like the CLI."""
    return Text(fmt_acc(x), justify="right")


def _pm(p: Any, digits: int = 2, scale: float = 100.0) -> Text:
    """mean±std of pooled points: accuracies in percent points (scale 100), a metric stored as
    a point in its own unit (scale 1); std left out when it rounds to 0; ``*`` marks a point
    that not every run of the row has."""
    if p is None or p.mean is None:
        return Text("—", justify="right")
    std = f"{scale * (p.std or 0.0):.{digits}f}"
    shown = std.strip("0.") != ""  # a std that rounds to 0 is left out
    return Text(f"{scale * p.mean:.{digits}f}" + (f"±{std}" if shown else "") + ("*" if p.partial else ""),
                justify="right")


def row_key(row: Any) -> str:
    """The method alone when its settings need no label, else method|settings."""
    return f"{row.method}|{row.group}" if row.group else row.method


def series_name(row: Any) -> str:
    return f"{row.method} ({row.group})" if row.group else row.method


def method_style(method: str) -> str:
    """Bold, in the method's colour from its spec (the colour of its curves and of the figures)."""
    return f"bold {spec.colour(method) or ''}".strip()


def fill_sharpness(plot: LinePlot, c: Any, pts: list[dict], notes: list[str]) -> None:
    """Each run's Hessian trace against its AUC above chance under Gaussian weight noise (a marker
    per run, a colour per method), the rank correlation and what was left out in the title."""
    by_method: dict[str, tuple[list[float], list[float]]] = {}
    for p in pts:
        if p.get("trace") is not None:
            xs, ys = by_method.setdefault(p["run"].method, ([], []))
            xs.append(p["trace"])
            ys.append(100 * p["auc"])
    series = [(m, xs, ys, method_colour(m, i)) for i, (m, (xs, ys)) in enumerate(by_method.items())]
    variant = sharp_robust.robustness_variant(c)
    plot.title = " · ".join([f"trace vs AUC above chance, {variant} noise",
                             sharp_robust.spearman_text(pts, "trace"), *notes])
    plot.set_series(series, empty="no run has both a sharpness and a robustness evaluation")


def fill_tradeoff(t: DataTable, plot: LinePlot, c: Any) -> None:
    """The trade-off (nawt_core/tradeoff.py): one row per setting along the Pareto front, then the
    dominated; the plot: clean accuracy against the measure, a marker per setting, the front as a line."""
    from .plots import LINE_SERIES

    tr = c.tradeoff()
    m = tr.measure
    t.clear(columns=True)
    for key, label in (("method", "method"), ("group", "settings"), ("seeds", "seeds"), ("acc", "accuracy %"),
                       ("rob", m.label), ("cost", "cost"), ("front", "front")):
        t.add_column(label, key=key, width=METHOD_WIDTH if key == "method" else None)
    by_method: dict[str, tuple[list[float], list[float]]] = {}
    front = []
    scale = 100 if m.unit == "%" else 1
    for p in tr.points:
        placed = p.accuracy["mean"] is not None and p.robustness["mean"] is not None
        t.add_row(Text(p.method, style=method_style(p.method)), p.group or "—", str(p.seeds),
                  Text(seed_summary.value_text(p.accuracy, "%"), justify="right"),
                  Text(seed_summary.value_text(p.robustness, m.unit), justify="right"),
                  Text("—" if p.cost is None else f"{p.cost:.2f}", justify="right"),
                  ("● front" if p.on_front else "○ " + ", ".join(p.dominated_by)) if placed else "—",
                  key=f"{p.method}|{p.group}")
        if placed:
            xs, ys = by_method.setdefault(p.method, ([], []))
            xs.append(100 * p.accuracy["mean"])
            ys.append(scale * p.robustness["mean"])
            if p.on_front:
                front.append((100 * p.accuracy["mean"], scale * p.robustness["mean"]))
    series = []
    if len(front) > 1:  # first: the markers are drawn over it
        fx, fy = zip(*sorted(front))
        series.append((LINE_SERIES, list(fx), list(fy), "white"))
    series += [(meth, xs, ys, method_colour(meth, i)) for i, (meth, (xs, ys)) in enumerate(by_method.items())]
    plot.title = f"{m.label} vs clean accuracy %"
    plot.set_series(series, empty="no setting has both numbers (e.g. no robustness sweep)")
