"""The comparison as Rich tables (`nawt compare`, `nawt study`): accuracy, timing, one table per evaluation.

An evaluation's table has a column per swept value; a wide sweep is split into
column blocks that fit the terminal beside the fixed columns (an 80-column
terminal or a log file would otherwise cut every number), and a narrow
terminal wraps a number onto a second line rather than cutting it.
"""

from __future__ import annotations

from rich import box
from rich.table import Table

from nawt_core import evalspec, seed_summary
from nawt_core.runview import INTERVAL_NOTE, acc_ci, acc_diff, acc_spread
from nawt_core.runview import pct as _pct

from .app import console

GAP = 2  # columns between two cells of a SIMPLE_HEAD table with collapsed padding


def _secs(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}"


def _point(p, runs: int, with_min: bool = False, scale: float = 100.0) -> str:
    """A sweep point as stacked lines: mean, ± std (when any), [min], (k/n runs) when partial;
    ``scale`` 100 for an accuracy in percent (EvalSpec.point_scale)."""
    if p is None:
        return "-"
    lines = [f"{scale * p.mean:.2f}", p.std and f"± {scale * p.std:.2f}",
             with_min and f"[{scale * p.min:.1f}]", p.partial and f"({p.runs}/{runs} runs)"]
    return "\n".join(line for line in lines if line)


def summary_cell(m: evalspec.Metric, row) -> str:
    return m.text(row) if m.text else _pct(row[m.name])


def comparison_header(comp) -> str:
    """What is compared, and what a reader must know before reading the numbers."""
    done = len(comp.completed)
    return f"{comp.scope}: {done} completed run{'s' if done != 1 else ''} in {len(comp.groups)} group" \
           f"{'s' if len(comp.groups) != 1 else ''}" + (" (mixed settings: one row per setting)" if comp.mixed else "")


class _Tables:
    """The shared layout of the comparison's tables: the method column never cut, a settings
    column only when a row needs one, numbers right-aligned and folded."""

    def __init__(self, comp):
        self.comp = comp
        self.show_group = any(g.label for g in comp.groups) or any(
            r.group for t in comp.sweeps.values() for r in t.rows)

    def table(self, title: str) -> Table:
        return Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, collapse_padding=True)

    def cols(self, t: Table, names: list[str]) -> None:
        for c in names:
            if c == "settings" and not self.show_group:
                continue
            if c == "method":  # never cut a method's name: the other columns wrap instead
                width = max([len(c)] + [len(r.method) for r in self.comp.accuracy + self.comp.timing])
                t.add_column(c, no_wrap=True, min_width=width)
                continue
            t.add_column(c, justify="left" if c.replace("\n", " ") in ("settings", "run ids", "device") else "right",
                         overflow="fold")  # a narrow terminal wraps a number, never cuts it

    def row(self, t: Table, method: str, group: str, *cells: str) -> None:
        t.add_row(method, *([group or "-"] if self.show_group else []), *cells)

    def blocks(self, title: str, fixed: list[str], heads: list[str], body: list) -> list[Table]:
        """One table per block of the columns ``heads`` that fits the terminal beside the fixed columns
        (a wide sweep on an 80-column terminal, or a log file, is split rather than cut)."""
        def w(text: str) -> int:
            return max(len(line) for line in text.split("\n"))
        label = max([6] + [len(r.method) for r, _f, _c in body])
        settings = max([0] + [len(r.group or "-") for r, _f, _c in body]) if self.show_group else 0
        fixed_w = label + min(settings, 24) + sum(max([w(f)] + [w(c[i]) for _r, c, _v in body])
                                                  for i, f in enumerate(fixed)) + GAP * (len(fixed) + bool(settings))
        widths = [max([w(h)] + [w(v[i]) for _r, _c, v in body]) + GAP for i, h in enumerate(heads)]
        packs, room = [[]], max(console.width - fixed_w, 1)
        for i, cw in enumerate(widths):
            if packs[-1] and sum(widths[j] for j in packs[-1]) + cw > room:
                packs.append([])
            packs[-1].append(i)
        out = []
        for k, pack in enumerate(packs):
            t = Table(title=title if k == 0 else f"(continued, {k + 1}/{len(packs)})", box=box.SIMPLE_HEAD,
                      pad_edge=False, show_edge=False, collapse_padding=True)
            self.cols(t, ["method", "settings", *fixed])
            for i in pack:
                t.add_column(heads[i], justify="right", overflow="fold")  # wrap, never cut, a number
            for r, f, v in body:
                self.row(t, r.method, r.group, *f, *[v[i] for i in pack])
            out.append(t)
        return out


def comparison_tables(comp) -> list[Table]:
    """The poster's tables as Rich tables: one row per method and comparable settings."""
    lay = _Tables(comp)
    tables = [_accuracy(lay, comp), _timing(lay, comp)]
    for s in evalspec.evaluations():
        tables += _sweep(lay, comp, s)
    return tables


def _accuracy(lay: _Tables, comp) -> Table:
    t = lay.table("Clean test accuracy (%): mean ± std over seeds, 95 % CI of the mean (Student t); "
                  "Δ std = difference to standard in points [95 % CI, paired by seed, else Welch]")
    # compact cells: the title names the test; the CI column (or, when every row is one run, the
    # caption) says "1 seed", so the table fits 80 columns
    seeds = any(a.n > 1 for a in comp.accuracy)
    narrow = console.width < 110  # a spread or an interval on its own line, not broken where it falls
    diffs = any(a.vs_standard for a in comp.accuracy)
    if not seeds and comp.accuracy:
        t.caption = "1 seed per row: no spread or interval (more seeds: nawt study --seeds N)"
    elif any(a.ci_note for a in comp.accuracy) or any(a.vs_standard and a.vs_standard.note for a in comp.accuracy):
        t.caption = INTERVAL_NOTE
    lay.cols(t, ["method", "settings", "runs", "accuracy", *(["95% CI"] if seeds else []),
                 *(["Δ std"] if diffs else []), *(["best\nrun", "run\nids"] if narrow else ["best run", "run ids"])])
    for a in comp.accuracy:
        spread, diff = acc_spread(a, say_one=False), acc_diff(a.vs_standard, compact=True)
        if narrow:
            spread, diff = spread.replace(" ± ", "\n± "), diff.replace(" [", "\n[")
        lay.row(t, a.method, a.group, str(a.n), spread, *([acc_ci(a)] if seeds else []),
                *([diff] if diffs else []), _pct(a.best), " ".join(map(str, a.run_ids)))
    return t


def _timing(lay: _Tables, comp) -> Table:
    t = lay.table("Training time in s (evaluation excluded): median epoch (range); est = median epoch per "
                  "cost class (e.g. multi-step SAM's one-pass stage) x its epochs (ep in all), and "
                  "the total; load average; ratio to standard of the same settings")  # fits 80
    lay.cols(t, ["method", "settings", "runs", "ep", "med s", "range", "est s", "total", "load", "ratio", "device"])
    for r in comp.timing:
        median, spread = ("-", "-") if r.epoch_median is None else \
            (f"{r.epoch_median:.1f}", f"{r.epoch_min:.1f}-{r.epoch_max:.1f}")
        ratio = "—" if r.ratio is None else f"{r.ratio:.2f}" + ("!" if r.load_flag else "")
        lay.row(t, r.method, r.group, str(r.n), str(r.epochs), median, spread, _secs(r.median_time),
                _secs(r.train_seconds), "-" if r.load_avg is None else f"{r.load_avg:.1f}", ratio, r.device or "-")
    return t


def _sweep(lay: _Tables, comp, s: evalspec.EvalSpec) -> list[Table]:
    """An evaluation's table: a column per swept value, then its summaries."""
    table = comp.table(s.name)
    if not table.rows:
        return []
    heads = [s.param.head(v) if s.param else str(v) for v in table.grid] + [m.header for m in s.summaries]
    body = []
    for r in table.rows:
        cells = [_point(r.points.get(v), r.runs, with_min="min" in s.point_stats, scale=s.point_scale(v))
                 for v in table.grid]
        fixed = [str(r.runs), *([_pct(r.clean)] if s.clean else [])]
        body.append((r, fixed, cells + [summary_cell(m, r) for m in s.summaries]))
    return lay.blocks(s.titled(s.text.table, table.variant), ["runs", *([s.clean.header] if s.clean else [])],
                      heads, body) + _over_seeds(lay, s, table)


def _over_seeds(lay: _Tables, s: evalspec.EvalSpec, table) -> list[Table]:
    """Each row's per-run numbers over seeds, a cell per metric: mean [CI] over Δ std [CI]."""
    if not seed_summary.shown(table):
        return []
    ms = seed_summary.metrics(table)
    body = [(r, [seed_summary.seeds(r)], ["\n".join(seed_summary.cells(s, r, m)) for m in ms]) for r in table.rows]
    heads = [f"{s.metric_title(m)}\nΔ std" for m in ms]
    out = lay.blocks(seed_summary.TITLE.format(name=s.name), ["seeds"], heads, body)
    out[-1].caption = seed_summary.NOTE
    return out


def tradeoff_table(comp) -> Table | None:
    """The accuracy–robustness trade-off: one row per setting, the Pareto front first."""
    from nawt_core import seed_summary

    tr = comp.tradeoff()
    if not tr.points:
        return None
    m = tr.measure
    lay = _Tables(comp)
    t = lay.table(f"Trade-off: clean accuracy (%) against {m.label} over seeds, mean [95 % CI]; the Pareto front "
                  "first (● on it, ○ dominated); cost = training cost / standard's")
    lay.cols(t, ["method", "settings", "seeds", "accuracy", m.label, "cost", "front"])
    for p in tr.points:
        acc = seed_summary.value_text(p.accuracy, "%")
        rob = seed_summary.value_text(p.robustness, m.unit)
        beaten = "●" if p.on_front else "○ by " + ", ".join(p.dominated_by[:2]) + (" …" if len(p.dominated_by) > 2
                                                                                 else "")
        lay.row(t, p.method, p.group, str(p.seeds), acc, rob, "-" if p.cost is None else f"{p.cost:.2f}",
                beaten if p.accuracy["mean"] is not None and p.robustness["mean"] is not None else "-")
    if tr.notes:
        t.caption = "; ".join(tr.notes)
    return t


def print_comparison(comp, tradeoff: bool = False) -> None:
    console.print(comparison_header(comp), markup=False, highlight=False)
    tables = comparison_tables(comp)
    if tradeoff:
        tables.append(tradeoff_table(comp))
    for t in tables:
        if t is None:
            continue
        console.print(t)
    for note in comp.notes:
        console.print(f"note: {note}", markup=False, highlight=False)
    if any(r.ratio is None for r in comp.timing):
        console.print("note: — = no standard run with the same settings to divide by", markup=False,
                      highlight=False)


__all__ = ["comparison_header", "comparison_tables", "print_comparison"]
