"""Figures like the poster's, from a Comparison (so they show the same rows as
the tables): accuracy against each registered evaluation's swept parameter
(nawt_core/evalspec.py: weight-noise strength, bit width, …), training curves,
and each run's sharpness against its robustness.

Made to be read in a paper, also in grey and by colour-blind readers:
- each method has its colour (spec.py: the Okabe–Ito palette for the built-in
  methods), its own marker and its own line style (METHOD_LOOK; a plugin method
  gets a spare pair chosen from its name), so a curve hidden under another still
  shows; the groups (settings) or runs of one method differ by marker fill
  (filled, hollow, half …);
- bands are light and always under the lines; every accuracy axis has a thin grey
  chance line (stats.CHANCE, 10 %);
- an evaluation with an unstressed accuracy per row (quantization's unquantized
  accuracy) gets a second panel: the drop from it in points on a symlog axis
  (linear within ±DROP_LINEAR points), so 1–3 point differences stay visible next
  to a collapse to chance;
- a log axis (bit-flip rates, PCM times, stuck fractions) cannot show the value 0:
  such points are left off it and their accuracy is written in the legend;
- a caption in plain words under the panels: the data, what a line, band and error
  bar are, trials and seeds, the chance line.

A point that not every run of a row has is left out. PNG figures are at least
MIN_WIDTH_PX wide (``render``, which the report uses too); .svg and .pdf are vector.

matplotlib is an optional extra (``pip install 'nawt[plot]'``), imported only
when a figure is drawn; without it the plot functions raise one clear NawtError.
"""

from __future__ import annotations

import io
import math
import statistics
import textwrap
import zlib
from pathlib import Path

from . import evalspec, safe_files, sharp_robust, spec, stats
from .compare import Comparison, latest_evaluation, method_order
from .errors import NawtError
from .export import check_writable
from .sharp_robust import SHARPNESS, SHARP_METRICS, robustness_variant, sharpness_points, spearman_text
from .store import Store

MIN_WIDTH_PX = 1600
PANEL_IN = (6.4, 4.8)  # inches per panel (legend below it included)
COLUMNS = 3  # panels per row of the "all" figure
# marker and line style per built-in method: distinct in shape and dashes, so overlapping curves stay visible
METHOD_LOOK = {
    "standard": ("o", "-"),
    "naive-noise": ("v", ":"),
    "noise-injection": ("D", "-."),
    "sam": ("s", "--"),
    "multistep-sam": ("^", (0, (6, 1.5, 1.5, 1.5, 1.5, 1.5))),
}
SPARE_MARKERS = ("P", "X", "h", "*", "p", "<", ">", "8")
SPARE_DASHES = ((0, (3, 1, 1, 1)), (0, (8, 2)), (0, (1, 3)), (0, (4, 1, 1, 1, 1, 1)))
SPARE_COLOURS = ("#56B4E9", "#F0E442", "#000000")  # the rest of Okabe–Ito, for a method without a colour
FILLS = ("full", "none", "left", "bottom", "right", "top")  # one per group (or run) of a method
CHANCE_GREY = "0.45"
CHANCE_LABEL = f"chance ({100 * stats.CHANCE:g} %)"
DROP_LINEAR = 5.0  # points: the drop panel is linear within ±5, logarithmic beyond
CAPTION_PT = 9


def _plt():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise NawtError("figures need matplotlib: pip install 'nawt[plot]' (or pip install matplotlib)") from None
    return plt


def method_look(method: str) -> tuple[str, str, object]:
    """(colour, marker, line style) of a method; a plugin's from its name (stable across runs)."""
    h = zlib.crc32(method.encode())
    colour = spec.colour(method) or SPARE_COLOURS[h % len(SPARE_COLOURS)]
    marker, dashes = METHOD_LOOK.get(method) or (SPARE_MARKERS[h % len(SPARE_MARKERS)],
                                                 SPARE_DASHES[h // len(SPARE_MARKERS) % len(SPARE_DASHES)])
    return colour, marker, dashes


def _styler():
    """Line keywords per (method, group): the method's look, marker fill per group (the first filled)."""
    seen: dict[str, list[str]] = {}

    def style(method: str, group: str) -> dict:
        groups = seen.setdefault(method, [])
        if group not in groups:
            groups.append(group)
        colour, marker, dashes = method_look(method)
        return dict(color=colour, marker=marker, ls=dashes, fillstyle=FILLS[groups.index(group) % len(FILLS)],
                    markerfacecoloralt="white", mec=colour, ms=6, lw=1.6, zorder=3 + method_order(method)[0] / 10)

    return style


def _label(method: str, group: str, extra: str = "") -> str:
    return method + (f" ({group})" if group else "") + extra


def _chance(ax) -> None:
    ax.axhline(100 * stats.CHANCE, color=CHANCE_GREY, lw=0.9, zorder=2, label=CHANCE_LABEL)


def _pct_axis(ax) -> None:
    """An accuracy axis: percent, a light grid, the chance line."""
    ax.set_ylabel("test accuracy (%)")
    ax.grid(alpha=0.3)
    _chance(ax)


def _legend(ax, notes: list | None = None) -> None:
    """Below the panel, so it never covers a curve: the rows, the chance line, then ``notes``
    ((handle, label) pairs: what a band or an error bar is)."""
    handles, labels = ax.get_legend_handles_labels()
    if CHANCE_LABEL in labels:
        i = labels.index(CHANCE_LABEL)
        handles.append(handles.pop(i))
        labels.append(labels.pop(i))
    for h, lb in notes or []:
        handles.append(h)
        labels.append(lb)
    ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False,
              handlelength=3.2, fontsize=8)


def kinds() -> tuple[str, ...]:
    """The figures `nawt plot` draws: one per evaluation that sweeps a parameter, the curves,
    sharpness against robustness (with both evaluations registered), all."""
    extra = (SHARPNESS,) if sharp_robust.available() else ()
    return (*(s.name for s in evalspec.sweeps()), "curves", *extra, TRADEOFF, "all")


TRADEOFF = "tradeoff"


def __getattr__(name: str):
    if name == "KINDS":  # with the evaluations registered when asked
        return kinds()
    raise AttributeError(name)


def _runs_label(r) -> str:
    return f", {r.runs} run{'s' if r.runs != 1 else ''}"


def _drawable(r) -> list:
    """A row's values every run has, in axis order."""
    return [v for v in sorted(r.points) if not r.points[v].partial]


def _off_log(s: evalspec.EvalSpec, r, xs: list) -> tuple[list, str]:
    """On a log axis, the values that fit it, and the others' accuracy as legend text ("rate 0: 84.1 %")."""
    if s.param.scale != "log":
        return xs, ""
    off = [x for x in xs if x <= 0]
    text = "; ".join(f"{s.param.short} {x:g}{(' ' + s.param.unit) if s.param.unit else ''}: "
                     f"{100 * r.points[x].mean:.1f} %" for x in off)
    return [x for x in xs if x > 0], (f"\n{text}" if text else "")


def _sweep(ax, comp: Comparison, s: evalspec.EvalSpec) -> bool:
    """One evaluation's panel: a band (mean ± std, clipped at the worst trial) or error bars per row."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    table = comp.table(s.name)
    style, drawn = _styler(), False
    rows = [r for r in table.rows if _drawable(r)]
    for i, r in enumerate(rows):
        xs, off = _off_log(s, r, _drawable(r))
        p = [r.points[v] for v in xs]
        mean = [100 * v.mean for v in p]
        kw = style(r.method, r.group)
        label = _label(r.method, r.group, _runs_label(r) + off)
        if s.figure == "band":
            ax.plot(xs, mean, label=label, **kw)
            lo = [100 * max(v.mean - v.std, v.min) for v in p]
            hi = [100 * (v.mean + v.std) for v in p]
            ax.fill_between(xs, lo, hi, alpha=0.10, color=kw["color"], lw=0, zorder=1)
            if len(xs) == 1:  # a band one value wide is invisible: the same span as a bar
                ax.errorbar(xs, mean, yerr=[[mean[0] - lo[0]], [hi[0] - mean[0]]], color=kw["color"], alpha=0.5,
                            capsize=3, ls="none", zorder=2)
        else:
            ax.errorbar(_dodge(s, xs, i, len(rows)), mean, yerr=[100 * v.std for v in p], capsize=2.5,
                        elinewidth=1, label=label, **kw)
            if s.clean is not None and r.clean is not None:
                ax.axhline(100 * r.clean, color=kw["color"], lw=0.7, ls=":", zorder=2)
        drawn = True
    variant = table.variant or (s.option(s.variant).default if s.variant else None)
    ax.set_xlabel(s.axis(variant) if s.axis else s.param.label)
    ax.set_title(s.titled(s.text.panel, variant))
    _pct_axis(ax)
    if not drawn:
        ax.text(0.5, 0.5, f"no {s.name} sweep", ha="center", va="center", transform=ax.transAxes)
        return False
    _x_axis(ax, s, table)
    if s.figure == "band":
        notes = [(Patch(color="grey", alpha=0.25, lw=0),
                  "band: mean ± std over trials and runs\n(clipped at the worst trial)")]
    else:
        notes = [(Line2D([], [], color="grey", marker="|", ls="none", ms=10), "error bar: ± std over runs")]
        if s.clean is not None:
            notes.append((Line2D([], [], color="grey", lw=0.7, ls=":"), s.clean.line))
    _legend(ax, notes)
    return True


def _dodge(s: evalspec.EvalSpec, xs: list, i: int, n: int) -> list:
    """Whole-number axes (bit widths): rows side by side around each value, so error bars do not overlap."""
    if not s.param.integer or n < 2:
        return xs
    step = min(0.36 / (n - 1), 0.08)
    return [x + (i - (n - 1) / 2) * step for x in xs]


def _x_axis(ax, s: evalspec.EvalSpec, table) -> None:
    values = sorted({v for r in table.rows for v in _drawable(r)})
    if s.param.scale == "log":
        ax.set_xscale("log")
        values = [v for v in values if v > 0]
        if values:
            ax.set_xticks(values, [f"{v:g}" for v in values])
            ax.minorticks_off()
    elif s.param.integer:
        ax.set_xticks(values)
    if s.param.descending:
        ax.invert_xaxis()


# ------------------------------------------------------------------ drop from the unstressed accuracy
def _drops(comp: Comparison, s: evalspec.EvalSpec, r, store: Store | None) -> dict:
    """{value: (mean drop, std over runs or None)} in points, for the values every run of the row has.
    With the store, each run's own drop (its unstressed accuracy minus its mean at the value) over
    the row's runs; without it, the row's unstressed mean minus its pooled mean (no spread)."""
    xs = _drawable(r)
    if store is None:
        return {x: (100 * (r.clean - r.points[x].mean), None) for x in xs}
    per: dict = {x: [] for x in xs}
    variant = comp.table(s.name).variant
    for rid in r.run_ids:
        ev = latest_evaluation(store, rid, s.name, variant)
        if ev is None or ev.clean_acc is None:
            continue
        acc: dict = {}
        for p in store.points(ev.id):
            acc.setdefault(s.param.key(p.param), []).append(p.accuracy)
        drops = stats.bit_drops({x: statistics.fmean(v) for x, v in acc.items()}, ev.clean_acc)
        for x in xs:
            if x in drops:
                per[x].append(100 * drops[x])
    return {x: (statistics.fmean(v), statistics.stdev(v) if len(v) > 1 else None) for x, v in per.items() if v}


def _drop(ax, comp: Comparison, s: evalspec.EvalSpec, store: Store | None) -> bool:
    """The drop in points from each row's unstressed accuracy (quantization: unquantized), symlog."""
    from matplotlib.lines import Line2D

    table = comp.table(s.name)
    style, drawn = _styler(), False
    rows = [r for r in table.rows if r.clean is not None and _drawable(r)]
    for i, r in enumerate(rows):
        d = _drops(comp, s, r, store)
        xs = sorted(d)
        if not xs:
            continue
        kw = style(r.method, r.group)
        err = [d[x][1] or 0.0 for x in xs] if store is not None else None
        ax.errorbar(_dodge(s, xs, i, len(rows)), [d[x][0] for x in xs], yerr=err, capsize=2.5, elinewidth=1,
                    label=_label(r.method, r.group, _runs_label(r)), **kw)
        drawn = True
    variant = table.variant or (s.option(s.variant).default if s.variant else None)
    ax.set_title(s.titled(s.text.panel, variant) + f": drop from {s.clean.title}")
    ax.set_xlabel(s.axis(variant) if s.axis else s.param.label)
    ax.set_ylabel(f"drop from {s.clean.title} accuracy (points)")
    ax.grid(alpha=0.3)
    if not drawn:
        ax.text(0.5, 0.5, f"no {s.name} sweep", ha="center", va="center", transform=ax.transAxes)
        return False
    ax.set_yscale("symlog", linthresh=DROP_LINEAR, linscale=2.0)
    top = max(ax.get_ylim()[1], 10)
    ticks = [t for t in (-5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 10, 20, 50, 100) if ax.get_ylim()[0] <= t <= top]
    ax.set_yticks(ticks, [f"{t:g}" for t in ticks])
    ax.minorticks_off()
    ax.axhline(0, color=CHANCE_GREY, lw=0.9, zorder=2)
    ax.axhline(1, color=CHANCE_GREY, lw=0.7, ls=(0, (2, 2)), zorder=2)
    _x_axis(ax, s, table)
    notes = [(Line2D([], [], color=CHANCE_GREY, lw=0.7, ls=(0, (2, 2))), "1 point")]
    if store is not None:
        notes.append((Line2D([], [], color="grey", marker="|", ls="none", ms=10),
                       "error bar: ± std over runs of each run's own drop"))
    _legend(ax, notes)
    return True


# ------------------------------------------------------------------ training curves
def _curves(ax, comp: Comparison, store: Store) -> bool:
    from matplotlib.ticker import MaxNLocator

    style, drawn = _styler(), False
    labels = {r.id: g.label for g in comp.groups for r in g.runs}
    for r in sorted(comp.completed, key=lambda r: (method_order(r.method), r.id)):
        pts = [(e.epoch, 100 * e.test_acc) for e in store.epochs(r.id) if e.test_acc is not None]
        if not pts:
            continue
        group = labels.get(r.id, "")
        kw = {**style(r.method, f"{group}#{r.id}"), "ms": 4, "lw": 1.2}
        ax.plot(*zip(*pts), label=_label(r.method, group, f" #{r.id} seed {r.seed}"), **kw)
        drawn = True
    ax.set_xlabel("epoch")
    ax.set_title("Training curves (test accuracy after each epoch)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    _pct_axis(ax)
    if not drawn:
        ax.text(0.5, 0.5, "no epochs recorded", ha="center", va="center", transform=ax.transAxes)
        return False
    _legend(ax)
    return True


# ------------------------------------------------------------------ sharpness against robustness
def _sharpness(axes, comp: Comparison, store: Store | None) -> bool:
    from matplotlib.lines import Line2D

    if store is None:
        return False
    pts, notes = sharpness_points(comp, store)
    if not pts:
        for ax in axes:
            ax.text(0.5, 0.5, "no run has both a sharpness and a robustness evaluation", ha="center",
                    va="center", transform=ax.transAxes)
        return False
    variant = robustness_variant(comp)
    groups = {r.id: g.label for g in comp.groups for r in g.runs}
    for ax, (metric, title) in zip(axes, SHARP_METRICS):
        style, seen = _styler(), set()
        off = []
        for p in sorted(pts, key=lambda p: (method_order(p["run"].method), p["run"].id)):
            r, x = p["run"], p.get(metric)
            group = groups.get(r.id, "")
            kw = {**style(r.method, group), "ls": "none", "ms": 8, "alpha": 0.9}
            label = _label(r.method, group)
            if x is None or x <= 0:  # no place on a log axis: said below the panel
                off.append(f"#{r.id} {x:.3g}" if x is not None else f"#{r.id} none")
                continue
            ax.plot([x], [100 * p["auc"]], label=label if label not in seen else "_", **kw)
            seen.add(label)
        ax.set_xscale("log")
        ax.set_xlabel(f"{title} of the training loss at the final weights (log)")
        ax.set_ylabel(f"AUC above chance (%), {variant} weight noise")
        ax.set_title(f"{title[0].upper() + title[1:]} against robustness\n{spearman_text(pts, metric)}")
        ax.grid(alpha=0.3)
        said = ([f"not on the log axis (≤ 0): {', '.join(off)}"] if off else []) + notes
        _legend(ax, [(Line2D([], [], ls="none"), text) for text in said])
    return True


def _tradeoff(ax, comp: Comparison) -> bool:
    """One marker per setting (clean accuracy, the trade-off's measure) with its 95 % intervals over
    seeds as error bars, the Pareto front as a grey step line, dominated settings hollow (tradeoff.py)."""
    from matplotlib.lines import Line2D

    tr = comp.tradeoff()
    m = tr.measure
    scale = 100 if m.unit == "%" else 1
    placed = [p for p in tr.points if p.accuracy["mean"] is not None and p.robustness["mean"] is not None]
    if not placed:
        ax.text(0.5, 0.5, f"no setting has a {m.label}", ha="center", va="center", transform=ax.transAxes)
        return False
    front = sorted((100 * p.accuracy["mean"], scale * p.robustness["mean"]) for p in placed if p.on_front)
    if len(front) > 1:
        ax.plot(*zip(*front), color=CHANCE_GREY, lw=1.2, ls="-", zorder=2, label="Pareto front")
    for p in placed:
        colour, marker, _ = method_look(p.method)
        x, y = 100 * p.accuracy["mean"], scale * p.robustness["mean"]
        err = [[x - 100 * (p.accuracy["low"] if p.accuracy["low"] is not None else p.accuracy["mean"])],
               [100 * (p.accuracy["high"] if p.accuracy["high"] is not None else p.accuracy["mean"]) - x]]
        yerr = [[y - scale * (p.robustness["low"] if p.robustness["low"] is not None else p.robustness["mean"])],
                [scale * (p.robustness["high"] if p.robustness["high"] is not None else p.robustness["mean"]) - y]]
        ax.errorbar([x], [y], xerr=err, yerr=yerr, color=colour, marker=marker, ms=8, capsize=2, lw=0.9,
                    fillstyle="full" if p.on_front else "none", mec=colour, ls="none", zorder=3)
        ax.annotate(p.group or p.method, (x, y), textcoords="offset points", xytext=(6, 4), fontsize=7,
                    color=colour)
    for meth in dict.fromkeys(p.method for p in placed):
        colour, marker, _ = method_look(meth)
        ax.plot([], [], color=colour, marker=marker, ls="none", ms=7, label=meth)
    ax.set_xlabel("clean test accuracy (%)")
    ax.set_ylabel(m.label + (" (lower is better)" if not m.higher_is_better else ""))
    ax.set_title(f"Trade-off: clean accuracy against {m.label}")
    ax.grid(alpha=0.3)
    _legend(ax, [(Line2D([], [], color="grey", marker="o", ls="none", fillstyle="none"),
                  "hollow: dominated (another setting is at least as good in both)"),
                 (Line2D([], [], color="grey", marker="|", ls="none", ms=10), "error bars: 95 % CI over seeds "
                                                                              "(none under 3 seeds)")])
    return True


# ------------------------------------------------------------------ captions
def caption(comp: Comparison, panels: list[str]) -> str:
    """One line: data, subsets, epochs, arch, device, seeds and sweep trials
    (a setting that differs between rows is left to the legend)."""
    def one(values: set, fmt, what: str) -> str:
        return fmt(next(iter(values))) if len(values) == 1 else f"{what} per row (see legend)"

    gs = comp.groups
    parts = [f"study {comp.study}" if comp.study else comp.scope]
    if gs:
        sub = lambda v: "all" if v is None else f"{v:,}"  # noqa: E731
        subsets = {(g.settings.get("train_subset"), g.settings.get("test_subset")) for g in gs}
        parts.append(one({g.settings.get("dataset") for g in gs}, str, "data"))
        parts.append(one(subsets, lambda t: f"train {sub(t[0])} / test {sub(t[1])} images", "subsets"))
        parts.append(one({g.settings.get("epochs") for g in gs}, lambda e: f"{e} epochs", "epochs"))
        parts.append(one({g.settings.get("arch") for g in gs}, str, "arch"))
        parts.append(one({g.settings.get("device") for g in gs}, str, "device"))
        parts.append(one({len(g.runs) for g in gs}, lambda n: f"{n} seed{'s' if n != 1 else ''} per row",
                         "seeds"))
    for s in evalspec.sweeps():
        rows = comp.table(s.name).rows
        if s.name in panels and rows and s.caption:
            key, text, what = s.caption
            parts.append(one({r.sweep.get(key) for r in rows}, text.format, what))
    return ", ".join(parts)


def explain(comp: Comparison, panels: list[str]) -> list[str]:
    """Plain sentences for what the figure draws: lines, bands, error bars, the chance line."""
    out = []
    for k in panels:
        if k == "curves":
            out.append("Training curves: one line per run (seed), the test accuracy after each epoch.")
        elif k == SHARPNESS:
            out.append("Sharpness: one marker per run; x, the Hessian trace (left) or top eigenvalue (right) of "
                       "the training loss at the final weights, mean over its probes (log axis); y, that run's "
                       "robustness as the area between its accuracy curve under Gaussian weight noise (mean over "
                       "trials per strength) and the chance line, divided by the strength range; the title gives "
                       "Spearman's rank correlation over the runs (ties: average ranks).")
        elif k == TRADEOFF:
            m = comp.tradeoff().measure
            out.append(f"Trade-off: one marker per setting (a method at one value of its varied option, labelled "
                       f"by it): x, its clean accuracy and y, its {m.label}, each the mean over its seeds with a "
                       "95 % confidence interval as error bars (none under 3 seeds); the grey line joins the Pareto "
                       "front (no other setting is at least as good in both and better in one); hollow markers "
                       "are dominated.")
        elif k in evalspec.names():
            out.append(_explain_sweep(comp, evalspec.evaluation(k)))
    if any(k not in (SHARPNESS, TRADEOFF) for k in panels):
        out.append(f"Grey horizontal line: chance, {100 * stats.CHANCE:g} % (ten balanced classes).")
    return out


def _explain_sweep(comp: Comparison, s: evalspec.EvalSpec) -> str:
    variant = comp.table(s.name).variant or (s.option(s.variant).default if s.variant else None)
    name = s.titled(s.text.panel, variant)
    if s.figure == "band":
        text = (f"{name}: the line is the mean accuracy over every trial of every run of a row; the band is one "
                "standard deviation either side over the same trials, cut at the worst trial.")
    else:
        text = (f"{name}: the marker is the mean accuracy over the runs of a row, the error bar one standard "
                "deviation over those runs; rows are set side by side around each value.")
    if s.clean is not None:
        text += (f" Dotted: each row's {s.clean.title} accuracy. Right panel: the drop from it in points, per "
                 f"run then averaged (error bar: std over runs); its axis is linear from -{DROP_LINEAR:g} to "
                 f"{DROP_LINEAR:g} points and logarithmic beyond (symlog), so that 1–3 point differences stay "
                 "visible beside a collapse to chance.")
    if s.param.scale == "log":
        text += f" The {s.param.short} axis is logarithmic: {s.param.short} 0 cannot be drawn, its accuracy is in the legend."
    return text


# ------------------------------------------------------------------ the figure
def _has(comp: Comparison, kind: str, store: Store | None) -> bool:
    if kind == "curves":
        return store is not None and any(e.test_acc is not None for r in comp.completed for e in store.epochs(r.id))
    if kind == SHARPNESS:
        return store is not None and bool(sharpness_points(comp, store)[0])
    if kind == TRADEOFF:  # drawn by "all" only for a study that varies a strength
        return any(p.accuracy["mean"] is not None and p.robustness["mean"] is not None
                   for p in comp.tradeoff().points)
    return any(_drawable(r) for r in comp.table(kind).rows)


def _width(kind: str) -> int:
    """Panels a kind takes: two for sharpness and for an evaluation with an unstressed accuracy."""
    if kind == SHARPNESS:
        return 2
    return 2 if kind in evalspec.names() and evalspec.evaluation(kind).clean is not None else 1


def figure(comp: Comparison, kind: str = "all", store: Store | None = None):
    """The figure; raises NawtError when it would be empty. "all" draws the kinds that have data."""
    if kind not in kinds():
        raise NawtError(f"unknown figure {kind!r}; choose one of: {', '.join(kinds())}")
    kinds_ = [k for k in kinds()[:-1] if (k != TRADEOFF or comp.varied) and _has(comp, k, store)] \
        if kind == "all" else [kind]
    if not kinds_ or not _has(comp, kinds_[0], store):
        raise NawtError(f"nothing to plot: the completed runs of {comp.scope} have no {_missing(comp, kind)}")
    plt = _plt()
    slots = [(k, _width(k)) for k in kinds_]
    n = sum(w for _, w in slots)
    cols = min(n, COLUMNS) if kind == "all" else n
    fig = plt.figure(figsize=(PANEL_IN[0] * cols, PANEL_IN[1] * _rows(slots, cols)))
    for k, axs in _axes(fig, slots, cols):
        if k == "curves":
            _curves(axs[0], comp, store)
        elif k == SHARPNESS:
            _sharpness(axs, comp, store)
        elif k == TRADEOFF:
            _tradeoff(axs[0], comp)
        else:
            s = evalspec.evaluation(k)
            _sweep(axs[0], comp, s)
            if len(axs) > 1:
                _drop(axs[1], comp, s, store)
    _caption(fig, [caption(comp, kinds_) + "."] + explain(comp, kinds_))
    return fig


def _rows(slots: list, cols: int) -> int:
    rows, col = 1, 0
    for _, w in slots:
        if col + w > cols:
            rows, col = rows + 1, 0
        col += w
    return rows


def _axes(fig, slots: list, cols: int) -> list:
    """A grid of panels; each kind's panels side by side on one row."""
    grid = fig.add_gridspec(_rows(slots, cols), cols)
    out, row, col = [], 0, 0
    for k, w in slots:
        if col + w > cols:
            row, col = row + 1, 0
        out.append((k, [fig.add_subplot(grid[row, col + i]) for i in range(w)]))
        col += w
    return out


def _caption(fig, sentences: list[str]) -> None:
    """The caption under the panels, wrapped to the figure's width; the panels are laid out above it."""
    width_chars = int(fig.get_figwidth() * 72 / (CAPTION_PT * 0.52))
    lines = [ln for s in sentences for ln in textwrap.wrap(s, width_chars)]
    height_in = (len(lines) * 1.3 + 0.8) * CAPTION_PT / 72
    fig.set_figheight(fig.get_figheight() + height_in)
    fig.text(0.01, 0.005, "\n".join(lines), fontsize=CAPTION_PT, ha="left", va="bottom", linespacing=1.3)
    fig.set_layout_engine("constrained", rect=(0, height_in / fig.get_figheight(), 1, 1 - height_in / fig.get_figheight()),
                          h_pad=0.08, w_pad=0.08)


def _missing(comp: Comparison, kind: str) -> str:
    if kind == "all":
        return " or ".join(s.name for s in evalspec.sweeps()) + " sweeps or epochs"
    if kind == "curves":
        return "recorded epochs"
    if kind == SHARPNESS:
        return "run with both a sharpness evaluation and a robustness sweep"
    if kind == TRADEOFF:
        return f"setting with a {comp.tradeoff().measure.label}"
    s = evalspec.evaluation(kind)
    return f"{comp.table(kind).variant or 'matching'} {kind} sweeps" if s.variant else f"{kind} sweeps"


def render(fig, fmt: str = "png") -> bytes:
    """The figure as bytes, then closed: a PNG at least MIN_WIDTH_PX wide (dpi from the width, at
    least 150), .svg and .pdf vector. The one place figures are rasterised (plots.save, the report)."""
    plt = _plt()
    dpi = max(150, math.ceil(MIN_WIDTH_PX / fig.get_figwidth()))
    buf = io.BytesIO()
    try:
        fig.savefig(buf, dpi=dpi, format=fmt)
    finally:
        plt.close(fig)
    return buf.getvalue()


def save(comp: Comparison, path: str | Path, kind: str = "all", store: Store | None = None) -> Path:
    """Draws ``kind`` and writes it to ``path`` (format from the suffix: .png, .svg, .pdf)."""
    path = check_writable(path)
    if path.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise NawtError(f"cannot tell the figure format of {path.name}; use a .png, .svg or .pdf name")
    data = render(figure(comp, kind, store), path.suffix.lower()[1:])  # in memory, then written as -o is
    return safe_files.write_bytes(path, data)


__all__ = ["METHOD_LOOK", "MIN_WIDTH_PX", "caption", "explain", "figure", "kinds", "method_look", "render", "save",
           "sharpness_points", "spearman_text"]
