"""Sharpness against robustness: each run's Hessian trace and top eigenvalue beside its AUC
under Gaussian weight noise, and their rank correlation (the figure `nawt plot sharpness`,
the report's section and the TUI's sharpness tab all read these).

Torch-free and matplotlib-free, so the TUI can use it."""

from __future__ import annotations

import statistics
from typing import TYPE_CHECKING

from . import evalspec, stats

if TYPE_CHECKING:  # the store loads SQLAlchemy: `nawt --help` and the TUI's start stay without it
    from .compare import Comparison
    from .store import Store

SHARPNESS, ROBUSTNESS = "sharpness", "robustness"
SHARP_METRICS = (("trace", "Hessian trace"), ("top_eig", "top Hessian eigenvalue"))


def _mean_by_param(store: Store, ev_id: int) -> dict[float, float]:
    per: dict[float, list[float]] = {}
    for p in store.points(ev_id):
        per.setdefault(p.param, []).append(p.accuracy)
    return {k: statistics.fmean(v) for k, v in per.items()}


def sharpness_points(comp: Comparison, store: Store) -> tuple[list[dict], list[str]]:
    """Per completed run with both: its sharpness metrics (mean over its stored repeats) and its AUC
    above chance under Gaussian weight perturbation (stats.auc_above of its own mean accuracy per
    strength), and notes. Only runs whose sweeps share the most common settings (of each evaluation)
    are kept, so no correlation mixes unlike measurements; the notes say what was left out."""
    from .compare import latest_evaluation, sweep_key

    sharp, rob = evalspec.evaluation(SHARPNESS), evalspec.evaluation(ROBUSTNESS)
    variant = robustness_variant(comp)
    names = [m.name for m in sharp.metrics]
    found = []
    for r in comp.completed:
        es, er = latest_evaluation(store, r.id, SHARPNESS), latest_evaluation(store, r.id, ROBUSTNESS, variant)
        if es is None or er is None:
            continue
        curve = _mean_by_param(store, er.id)
        xs = sorted(curve)
        auc = stats.auc_above(xs, [curve[x] for x in xs])
        values = {names[int(k)]: v for k, v in _mean_by_param(store, es.id).items() if 0 <= int(k) < len(names)}
        if auc is not None:
            found.append({"run": r, "auc": auc, **values, "_key": (sweep_key(sharp, es), sweep_key(rob, er))})
    notes = []
    if found:
        keys = [f["_key"] for f in found]
        common = max(set(keys), key=keys.count)
        left = [f["run"].id for f in found if f["_key"] != common]
        if left:
            notes.append(f"left out: run{'s' if len(left) > 1 else ''} {', '.join(map(str, left))} "
                         "(sharpness or robustness settings unlike the others')")
        found = [f for f in found if f["_key"] == common]
    for f in found:
        f.pop("_key")
    return found, notes


def spearman_text(pts: list[dict], metric: str) -> str:
    """'Spearman ρ = -0.70 over 6 runs', or why there is none."""
    have = [p for p in pts if p.get(metric) is not None]
    if len(have) < 3:
        return f"{len(have)} run{'s' if len(have) != 1 else ''} with both: too few for a rank correlation (3 needed)"
    rho = stats.spearman([p[metric] for p in have], [p["auc"] for p in have])
    if rho is None:
        return f"{len(have)} runs: no rank correlation (every run has the same value)"
    return f"Spearman ρ = {rho:+.2f} over {len(have)} runs"


def robustness_variant(comp: Comparison) -> str:
    """The robustness sweeps the AUC is read from (the comparison's, else the default mode)."""
    rob = evalspec.evaluation(ROBUSTNESS)
    return comp.table(ROBUSTNESS).variant or rob.option(rob.variant).default


def available() -> bool:
    """Whether both evaluations are registered (a plugin set may lack one)."""
    return {SHARPNESS, ROBUSTNESS} <= set(evalspec.names())


__all__ = ["ROBUSTNESS", "SHARPNESS", "SHARP_METRICS", "available", "robustness_variant", "sharpness_points",
           "spearman_text"]
