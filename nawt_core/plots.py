"""Figures like the poster's, from a Comparison: accuracy against weight
perturbation strength (mean line, min..max-ish band of mean +- std over trials
and seeds), accuracy against quantization bit width, and training curves.

matplotlib is an optional extra (``pip install 'nawt[plot]'``), imported only
when a figure is drawn; without it the plot functions raise one clear NawtError.
"""

from __future__ import annotations

from pathlib import Path

from .compare import Comparison, method_order
from .errors import NawtError
from .store import Store

KINDS = ("robustness", "quantization", "curves", "all")
COLORS = {"standard": "#1f77b4", "naive-noise": "#d62728", "noise-injection": "#2ca02c", "sam": "#ff7f0e",
          "multistep-sam": "#9467bd"}


def _plt():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise NawtError("figures need matplotlib: pip install 'nawt[plot]' (or pip install matplotlib)") from None
    return plt


def _robustness(ax, comp: Comparison) -> bool:
    if not comp.robustness:
        ax.text(0.5, 0.5, "no robustness sweep", ha="center", va="center", transform=ax.transAxes)
        return False
    for r in comp.robustness:
        xs = sorted(r["points"])
        mean = [r["points"][s]["mean"] for s in xs]
        std = [r["points"][s]["std"] for s in xs]
        lo = [max(m - s, r["points"][x]["min"]) for m, s, x in zip(mean, std, xs)]
        hi = [m + s for m, s in zip(mean, std)]
        c = COLORS.get(r["method"])
        ax.plot(xs, mean, marker="o", ms=3, label=r["method"], color=c)
        ax.fill_between(xs, lo, hi, alpha=0.2, color=c)
    mode = comp.robustness_mode or "absolute"
    label = {"absolute": "s  (W + s·N(0,1))", "relative": "s  (W + s·max|W|·N(0,1))",
             "std": "s  (W + s·std(W)·N(0,1))"}[mode]
    ax.set_xlabel(f"perturbation strength {label}")
    ax.set_ylabel("test accuracy")
    ax.set_title(f"Weight perturbation ({mode})")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return True


def _quantization(ax, comp: Comparison) -> bool:
    if not comp.quantization:
        ax.text(0.5, 0.5, "no quantization sweep", ha="center", va="center", transform=ax.transAxes)
        return False
    for q in comp.quantization:
        bs = sorted(q["points"])
        mean = [q["points"][b]["mean"] for b in bs]
        std = [q["points"][b]["std"] for b in bs]
        c = COLORS.get(q["method"])
        ax.errorbar(bs, mean, yerr=std, marker="o", ms=3, capsize=2, label=q["method"], color=c)
        if q["fp"] is not None:
            ax.axhline(q["fp"], color=c, lw=0.6, ls=":")
    ax.set_xlabel("weight bits (symmetric uniform)")
    ax.set_ylabel("test accuracy")
    ax.set_title("Quantization (dotted: full precision)")
    ax.invert_xaxis()
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return True


def _curves(ax, comp: Comparison, store: Store) -> bool:
    drawn = False
    for r in sorted(comp.runs, key=lambda r: (method_order(r.method), r.id)):
        eps = store.epochs(r.id)
        pts = [(e.epoch, e.test_acc) for e in eps if e.test_acc is not None]
        if not pts:
            continue
        ax.plot(*zip(*pts), marker=".", ms=3, color=COLORS.get(r.method), label=f"{r.method} #{r.id}")
        drawn = True
    if not drawn:
        ax.text(0.5, 0.5, "no epochs recorded", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy")
    ax.set_title("Training curves")
    if drawn:
        ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return drawn


def figure(comp: Comparison, kind: str = "all", store: Store | None = None):
    if kind not in KINDS:
        raise NawtError(f"unknown figure {kind!r}; choose one of: {', '.join(KINDS)}")
    plt = _plt()
    kinds = ["robustness", "quantization", "curves"] if kind == "all" else [kind]
    if "curves" in kinds and store is None:
        kinds.remove("curves")
    fig, axes = plt.subplots(1, len(kinds), figsize=(5.5 * len(kinds), 4.2), squeeze=False)
    for ax, k in zip(axes[0], kinds):
        if k == "robustness":
            _robustness(ax, comp)
        elif k == "quantization":
            _quantization(ax, comp)
        else:
            _curves(ax, comp, store)
    fig.tight_layout()
    return fig


def save(comp: Comparison, path: str | Path, kind: str = "all", store: Store | None = None) -> Path:
    """Draws ``kind`` and writes it to ``path`` (format from the suffix: .png, .svg, .pdf)."""
    from .export import check_writable

    path = check_writable(path)
    if path.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise NawtError(f"cannot tell the figure format of {path.name}; use a .png, .svg or .pdf name")
    fig = figure(comp, kind, store)
    plt = _plt()
    try:
        fig.savefig(path, dpi=130)
    except OSError as e:
        raise NawtError(f"cannot write {path}: {e.strerror}") from None
    finally:
        plt.close(fig)
    return path


__all__ = ["KINDS", "figure", "save"]
