"""Figures like the poster's, from a Comparison (so they show the same rows as
the tables): accuracy against weight perturbation strength, accuracy against
quantization bit width, and training curves.

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

from . import safe_files, spec
from .compare import Comparison, method_order
from .errors import NawtError
from .export import check_writable
from .store import Store

KINDS = ("robustness", "quantization", "curves", "all")
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


def _robustness(ax, comp: Comparison) -> bool:
    from matplotlib.patches import Patch

    style, drawn = _styler(), False
    for r in comp.robustness:
        xs = [s for s in sorted(r["points"]) if not r["points"][s]["partial"]]
        if not xs:
            continue
        p = [r["points"][s] for s in xs]
        mean = [100 * v["mean"] for v in p]
        lo = [100 * max(v["mean"] - v["std"], v["min"]) for v in p]
        hi = [100 * (v["mean"] + v["std"]) for v in p]
        c = spec.colour(r["method"])
        ax.plot(xs, mean, marker="o", ms=3, color=c, ls=style(r["method"], r["group"]),
                label=_label(r["method"], r["group"], f", {r['runs']} run{'s' if r['runs'] != 1 else ''}"))
        ax.fill_between(xs, lo, hi, alpha=0.15, color=c)
        drawn = True
    mode = comp.robustness_mode or "absolute"
    label = {"absolute": "s  (W + s·N(0,1))", "relative": "s  (W + s·max|W|·N(0,1))",
             "std": "s  (W + s·std(W)·N(0,1))"}[mode]
    ax.set_xlabel(f"perturbation strength {label}")
    ax.set_title(f"Weight perturbation ({mode})")
    _pct_axis(ax)
    if not drawn:
        ax.text(0.5, 0.5, "no robustness sweep", ha="center", va="center", transform=ax.transAxes)
        return False
    handles, labels = ax.get_legend_handles_labels()
    handles.append(Patch(color="grey", alpha=0.3))
    labels.append("band: mean ± std over trials and runs\n(clipped at the worst trial)")
    ax.legend(handles, labels, fontsize=7)
    return True


def _quantization(ax, comp: Comparison) -> bool:
    from matplotlib.lines import Line2D

    style, drawn = _styler(), False
    for q in comp.quantization:
        bs = [b for b in sorted(q["points"]) if not q["points"][b]["partial"]]
        if not bs:
            continue
        mean = [100 * q["points"][b]["mean"] for b in bs]
        std = [100 * q["points"][b]["std"] for b in bs]
        c, ls = spec.colour(q["method"]), style(q["method"], q["group"])
        ax.errorbar(bs, mean, yerr=std, marker="o", ms=3, capsize=2, color=c, ls=ls,
                    label=_label(q["method"], q["group"], f", {q['runs']} run{'s' if q['runs'] != 1 else ''}"))
        if q["fp"] is not None:
            ax.axhline(100 * q["fp"], color=c, lw=0.6, ls=":")
        drawn = True
    ax.set_xlabel("weight bits (symmetric uniform)")
    ax.set_title("Quantization")
    _pct_axis(ax)
    if not drawn:
        ax.text(0.5, 0.5, "no quantization sweep", ha="center", va="center", transform=ax.transAxes)
        return False
    ax.invert_xaxis()
    ax.set_xticks(sorted({b for q in comp.quantization for b in q["points"]}))
    handles, labels = ax.get_legend_handles_labels()
    handles += [Line2D([], [], color="grey", marker="|", ls="none", ms=10),
                Line2D([], [], color="grey", lw=0.6, ls=":")]
    labels += ["error bar: ± std over runs", "dotted: unquantized accuracy"]
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


def caption(comp: Comparison, kinds: list[str]) -> str:
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
    if "robustness" in kinds and comp.robustness:
        parts.append(one({r["sweep"].get("trials") for r in comp.robustness},
                         lambda t: f"{t} noise trials per strength and run", "noise trials"))
    return ", ".join(parts)


def figure(comp: Comparison, kind: str = "all", store: Store | None = None):
    """The figure; raises NawtError when it would be empty."""
    if kind not in KINDS:
        raise NawtError(f"unknown figure {kind!r}; choose one of: {', '.join(KINDS)}")
    plt = _plt()
    kinds = ["robustness", "quantization", "curves"] if kind == "all" else [kind]
    if "curves" in kinds and store is None:
        kinds.remove("curves")
    fig, axes = plt.subplots(1, len(kinds), figsize=(PANEL_IN[0] * len(kinds), PANEL_IN[1]), squeeze=False)
    drawn = []
    for ax, k in zip(axes[0], kinds):
        if k == "robustness":
            drawn.append(_robustness(ax, comp))
        elif k == "quantization":
            drawn.append(_quantization(ax, comp))
        else:
            drawn.append(_curves(ax, comp, store))
    if not any(drawn):
        plt.close(fig)
        what = "robustness or quantization sweeps or epochs" if kind == "all" else \
            {"robustness": f"{comp.robustness_mode or 'matching'} robustness sweeps", "quantization":
             "quantization sweeps", "curves": "recorded epochs"}[kind]
        raise NawtError(f"nothing to plot: the completed runs of {comp.scope} have no {what}")
    fig.text(0.01, 0.01, caption(comp, kinds), fontsize=8, ha="left", va="bottom", wrap=True)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


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


__all__ = ["KINDS", "MIN_WIDTH_PX", "caption", "figure", "save"]
