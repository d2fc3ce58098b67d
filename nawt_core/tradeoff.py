"""The accuracy–robustness trade-off of a comparison: one point per setting, its Pareto front. No torch.

A setting is a row of the comparison (a method with one value of each option it was
trained with, e.g. ``sam`` at ``rho 0.1``). Its point is (clean accuracy, robustness):
both means over the setting's seeds with a 95 % interval (stats.over_seeds: none under 3
seeds), and its training cost relative to standard beside them (not an axis). The
robustness measure is any evaluation's per-run number:

- ``robustness.auc`` (the default): the Gaussian AUC above chance; ``bitflip.auc`` …
- ``robustness@0.03``: the accuracy at one swept value (``quantization@4``: at 4 bits).
- ``quantization.drop@4``: a number lower is better (the front is drawn the right way round).

The front (frontier.py) is of the means: a setting is dominated when another is at least
as good in both and better in one; ``dominated_by`` names those.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import evalspec, frontier, stats
from .errors import NawtError

DEFAULT_MEASURE = "robustness.auc"


@dataclass(frozen=True)
class Measure:
    text: str  # as given: robustness.auc, robustness@0.03
    kind: str  # the evaluation
    metric: str | None  # a per-run metric (auc, drop@4), or None: the accuracy at ``at``
    at: float | None  # the swept value, for an accuracy at one value
    higher_is_better: bool = True

    @property
    def label(self) -> str:
        s = evalspec.evaluation(self.kind)
        if self.metric is None:
            return f"{s.name} accuracy % at {s.param.head(self.at) if s.param else self.at}"
        return f"{s.name} {s.metric_title(self.metric)}"

    @property
    def unit(self) -> str:
        if self.metric is None:
            return "%"
        from .seed_summary import unit

        return unit(evalspec.evaluation(self.kind), self.metric)


def parse_measure(text: str | None) -> Measure:
    """``EVAL.METRIC`` or ``EVAL@VALUE``; NawtError with one line for anything else."""
    text = (text or DEFAULT_MEASURE).strip()
    kind, at_sign, value = text.partition("@")
    kind, dot, metric = kind.partition(".")
    if kind not in evalspec.names():
        raise NawtError(f"--measure {text!r}: no evaluation {kind!r}; choose one of: {', '.join(evalspec.names())}")
    s = evalspec.evaluation(kind)
    if dot:
        metric = metric + (f"@{value}" if at_sign else "")
        known = [m.name for m in (*s.summaries, *s.metrics)]
        if metric not in known and not metric.startswith("drop@"):
            raise NawtError(f"--measure {text!r}: {kind} has no per-run number {metric!r} "
                            f"(it has {', '.join(known) or 'none'}; or {kind}@VALUE for the accuracy at one value)")
        better = next((m.higher_is_better for m in (*s.summaries, *s.metrics) if m.name == metric),
                      not metric.startswith("drop@"))
        return Measure(text, kind, metric, None, better)
    if not at_sign or s.param is None:
        raise NawtError(f"--measure {text!r}: expected EVAL.METRIC (e.g. {DEFAULT_MEASURE}) or EVAL@VALUE "
                        "(e.g. robustness@0.03)")
    try:
        at = float(value)
    except ValueError:
        raise NawtError(f"--measure {text!r}: {value!r} is not a number") from None
    return Measure(text, kind, None, s.param.key(at))


@dataclass
class TradeoffPoint:
    method: str
    group: str
    run_ids: list[int]  # the runs of both numbers
    seeds: int
    accuracy: dict[str, Any]  # stats.over_seeds of clean accuracy: mean, low, high, note
    robustness: dict[str, Any]  # stats.over_seeds of the measure
    cost: float | None  # training cost / standard's of the same settings (None: no standard row)
    on_front: bool = False
    dominated_by: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.method} ({self.group})" if self.group else self.method

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "group": self.group, "label": self.label, "run_ids": self.run_ids,
                "seeds": self.seeds, "accuracy": self.accuracy["mean"], "accuracy_ci_low": self.accuracy["low"],
                "accuracy_ci_high": self.accuracy["high"], "robustness": self.robustness["mean"],
                "robustness_ci_low": self.robustness["low"], "robustness_ci_high": self.robustness["high"],
                "robustness_note": self.robustness["note"], "cost": self.cost, "on_front": self.on_front,
                "dominated_by": self.dominated_by}


@dataclass
class Tradeoff:
    measure: Measure
    points: list[TradeoffPoint]  # along the front first, then the dominated (frontier.along_front)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"measure": self.measure.text, "measure_label": self.measure.label,
                "higher_is_better": self.measure.higher_is_better, "points": [p.to_dict() for p in self.points],
                "notes": self.notes}


def _run_values(row, measure: Measure) -> dict[int, Any]:
    """{seed: the run's value} of one evaluation row. Where a seed has two runs: the mean of their
    numbers, their reason where both give the same one (e.g. "near chance"), else a reason saying they
    disagree (a number and a reason averaged or one of them picked would misstate the seed)."""
    by: dict[int, list] = {}
    for rid, v in row.per_run.items():
        x = row.run_points.get(rid, {}).get(measure.at) if measure.metric is None else v.get(measure.metric)
        by.setdefault(v["seed"], []).append(x)
    return {s: _one_value(xs) for s, xs in by.items()}


def _one_value(xs: list) -> Any:
    if all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in xs):
        return sum(xs) / len(xs)
    return xs[0] if all(x == xs[0] for x in xs) else "runs of one seed disagree"


def _sweep_row(table, run_ids: list[int]):
    """The evaluation row of a setting: the one that holds most of its runs (None: no such sweep)."""
    best = max(table.rows, key=lambda r: len(set(r.run_ids) & set(run_ids)), default=None)
    return best if best is not None and set(best.run_ids) & set(run_ids) else None


def tradeoff(comp, measure: str | Measure | None = None) -> Tradeoff:
    """The trade-off of ``comp`` (a compare.Comparison) for ``measure`` (default: DEFAULT_MEASURE)."""
    m = measure if isinstance(measure, Measure) else parse_measure(measure)
    s = evalspec.evaluation(m.kind)
    table = comp.table(m.kind)
    costs = {(t.method, t.group): t.ratio for t in comp.timing}
    pts, missing, partial = [], [], []
    for a in comp.accuracy:
        row = _sweep_row(table, a.run_ids)
        if row is None:
            missing.append(f"{a.method} ({a.group})" if a.group else a.method)
            continue
        runs = set(a.run_ids) & set(row.run_ids)  # both numbers of one point from the same runs
        if len(runs) < len(a.run_ids):
            partial.append(f"{a.method} ({a.group})" if a.group else a.method)
        accs = {}
        for r in comp.completed:
            if r.id in runs and r.final_test_acc is not None:
                accs.setdefault(r.seed, []).append(r.final_test_acc)
        acc = stats.over_seeds({k: sum(v) / len(v) for k, v in accs.items()})
        lo, hi = (0.0, 1.0) if m.metric is None else s.bounds(m.metric)
        rob = stats.over_seeds(_run_values(row, m), lo, hi)
        pts.append(TradeoffPoint(a.method, a.group, sorted(runs), len(accs), acc, rob, costs.get((a.method, a.group))))
    usable = [p for p in pts if p.accuracy["mean"] is not None and p.robustness["mean"] is not None]
    sign = 1 if m.higher_is_better else -1
    fps = [frontier.Point(p.label, p.accuracy["mean"], sign * p.robustness["mean"]) for p in usable]
    beaten = frontier.dominated_by(fps)
    order = {fp.label: i for i, (fp, _) in enumerate(frontier.along_front(fps))}
    for p in usable:
        p.dominated_by = beaten[p.label]
        p.on_front = not p.dominated_by
    out = sorted(usable, key=lambda p: order[p.label]) + [p for p in pts if p not in usable]
    notes = []
    if missing:
        notes.append(f"no {m.kind} sweep for {', '.join(missing)}: not on the trade-off")
    if partial:
        notes.append(f"{', '.join(partial)}: only the runs with the {m.kind} sweep shown are on the trade-off "
                     "(its others have another sweep setting or none)")
    if len(usable) < len(pts):
        notes.append("a setting without a mean (e.g. a seed near chance has no halving strength) is listed, "
                     "not placed")
    if not m.higher_is_better:
        notes.append(f"{m.label}: lower is better (the front is drawn that way round)")
    return Tradeoff(m, out, notes)


__all__ = ["DEFAULT_MEASURE", "Measure", "Tradeoff", "TradeoffPoint", "parse_measure", "tradeoff"]
