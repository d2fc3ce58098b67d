"""Figures like the poster's, from a Comparison (so they show the same rows as
the tables): accuracy against each registered evaluation's swept parameter
(nawt_core/evalspec.py: weight-noise strength, bit width, …) and training curves.

Accuracies are in percent like the tables; each method has one colour and the
groups (settings) or runs of a method are told apart by line style; a caption
line names the data, subsets, epochs, trials and seeds; the legend says what
bands and error bars are. A point that not every run of a row has is left out.
PNG figures are at least MIN_WIDTH_PX wide; .svg and .pdf are vector.

matplotlib is an optional extra (``pip install 'nawt[plot]'``), imported only
when a figure is drawn; without it the plot functions raise one clear NawtError.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

from . import evalspec, safe_files, spec
from .compare import Comparison, method_order
from .errors import NawtError
from .export import check_writable
from .store import Store

STYLES = ("-", "--", ":", "-.")
MIN_WIDTH_PX = 1600
PANEL_IN = (6.0, 4.6)  # inches per panel


def _plt():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise NawtError("figures need matplotlib: pip install 'nawt[plot]' (or pip install matplotlib)") from None
    return plt


def _styler():
    """Line style per (method, group): the first group of a method is solid."""
    seen: dict[str, list[str]] = {}

    def style(method: str, group: str) -> str:
        groups = seen.setdefault(method, [])
        if group not in groups:
            groups.append(group)
        return STYLES[groups.index(group) % len(STYLES)]

    return style


def _label(method: str, group: str, extra: str = "") -> str:
    return method + (f" ({group})" if group else "") + extra


def _pct_axis(ax) -> None:
    ax.set_ylabel("test accuracy (%)")
    ax.grid(alpha=0.3)


def kinds() -> tuple[str, ...]:
    """The figures `nawt plot` draws: one per evaluation that sweeps a parameter, the curves, all."""
    return (*(s.name for s in evalspec.sweeps()), "curves", "all")


def __getattr__(name: str):
    if name == "KINDS":  # with the evaluations registered when asked
        return kinds()
    raise AttributeError(name)


def _runs_label(r) -> str:
    return f", {r.runs} run{'s' if r.runs != 1 else ''}"


def _sweep(ax, comp: Comparison, s: evalspec.EvalSpec) -> bool:
    """One evaluation's panel: a band (mean ± std, clipped at the worst trial) or error bars per row."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    table = comp.table(s.name)
    style, drawn = _styler(), False
    for r in table.rows:
        xs = [v for v in sorted(r.points) if not r.points[v].partial]
        if not xs:
            continue
        p = [r.points[v] for v in xs]
        mean = [100 * v.mean for v in p]
        c, ls = spec.colour(r.method), style(r.method, r.group)
        if s.figure == "band":
            lo = [100 * max(v.mean - v.std, v.min) for v in p]
            hi = [100 * (v.mean + v.std) for v in p]
            ax.plot(xs, mean, marker="o", ms=3, color=c, ls=ls, label=_label(r.method, r.group, _runs_label(r)))
            ax.fill_between(xs, lo, hi, alpha=0.15, color=c)
        else:
            ax.errorbar(xs, mean, yerr=[100 * v.std for v in p], marker="o", ms=3, capsize=2, color=c, ls=ls,
                        label=_label(r.method, r.group, _runs_label(r)))
            if s.clean is not None and r.clean is not None:
                ax.axhline(100 * r.clean, color=c, lw=0.6, ls=":")
        drawn = True
    variant = table.variant or (s.option(s.variant).default if s.variant else None)
    ax.set_xlabel(s.axis(variant) if s.axis else s.param.label)
    ax.set_title(s.titled(s.text.panel, variant))
    _pct_axis(ax)
    if not drawn:
        ax.text(0.5, 0.5, f"no {s.name} sweep", ha="center", va="center", transform=ax.transAxes)
        return False
    if s.param.scale == "log":
        ax.set_xscale("log")
    if s.param.descending:
        ax.invert_xaxis()
    if s.param.integer:
        ax.set_xticks(sorted({v for r in table.rows for v in r.points}))
    handles, labels = ax.get_legend_handles_labels()
    if s.figure == "band":
        handles.append(Patch(color="grey", alpha=0.3))
        labels.append("band: mean ± std over trials and runs\n(clipped at the worst trial)")
    else:
        handles.append(Line2D([], [], color="grey", marker="|", ls="none", ms=10))
        labels.append("error bar: ± std over runs")
        if s.clean is not None:
            handles.append(Line2D([], [], color="grey", lw=0.6, ls=":"))
            labels.append(s.clean.line)
    ax.legend(handles, labels, fontsize=7)
    return True


def _curves(ax, comp: Comparison, store: Store) -> bool:
    from matplotlib.ticker import MaxNLocator

    style, drawn = _styler(), False
    labels = {r.id: g.label for g in comp.groups for r in g.runs}
    for r in sorted(comp.completed, key=lambda r: (method_order(r.method), r.id)):
        pts = [(e.epoch, 100 * e.test_acc) for e in store.epochs(r.id) if e.test_acc is not None]
        if not pts:
            continue
        group = labels.get(r.id, "")
        ax.plot(*zip(*pts), marker=".", ms=4, color=spec.colour(r.method), ls=style(r.method, f"{group}#{r.id}"),
                label=_label(r.method, group, f" #{r.id} seed {r.seed}"))
        drawn = True
    ax.set_xlabel("epoch")
    ax.set_title("Training curves (test accuracy after each epoch)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    _pct_axis(ax)
    if not drawn:
        ax.text(0.5, 0.5, "no epochs recorded", ha="center", va="center", transform=ax.transAxes)
        return False
    ax.legend(fontsize=7)
    return True


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


def figure(comp: Comparison, kind: str = "all", store: Store | None = None):
    """The figure; raises NawtError when it would be empty."""
    if kind not in kinds():
        raise NawtError(f"unknown figure {kind!r}; choose one of: {', '.join(kinds())}")
    plt = _plt()
    panels = list(kinds()[:-1]) if kind == "all" else [kind]
    if "curves" in panels and store is None:
        panels.remove("curves")
    fig, axes = plt.subplots(1, len(panels), figsize=(PANEL_IN[0] * len(panels), PANEL_IN[1]), squeeze=False)
    drawn = [_curves(ax, comp, store) if k == "curves" else _sweep(ax, comp, evalspec.evaluation(k))
             for ax, k in zip(axes[0], panels)]
    if not any(drawn):
        plt.close(fig)
        raise NawtError(f"nothing to plot: the completed runs of {comp.scope} have no {_missing(comp, kind)}")
    fig.text(0.01, 0.01, caption(comp, panels), fontsize=8, ha="left", va="bottom", wrap=True)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def _missing(comp: Comparison, kind: str) -> str:
    if kind == "all":
        return " or ".join(s.name for s in evalspec.sweeps()) + " sweeps or epochs"
    if kind == "curves":
        return "recorded epochs"
    s = evalspec.evaluation(kind)
    return f"{comp.table(kind).variant or 'matching'} {kind} sweeps" if s.variant else f"{kind} sweeps"


def save(comp: Comparison, path: str | Path, kind: str = "all", store: Store | None = None) -> Path:
    """Draws ``kind`` and writes it to ``path`` (format from the suffix: .png, .svg, .pdf)."""
    path = check_writable(path)
    if path.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise NawtError(f"cannot tell the figure format of {path.name}; use a .png, .svg or .pdf name")
    fig = figure(comp, kind, store)
    plt = _plt()
    dpi = max(150, math.ceil(MIN_WIDTH_PX / fig.get_figwidth()))
    buf = io.BytesIO()  # drawn in memory, then written as -o is (atomically, or to a pipe)
    try:
        fig.savefig(buf, dpi=dpi, format=path.suffix.lower()[1:])
    finally:
        plt.close(fig)
    return safe_files.write_bytes(path, buf.getvalue())


__all__ = ["MIN_WIDTH_PX", "caption", "figure", "kinds", "save"]
