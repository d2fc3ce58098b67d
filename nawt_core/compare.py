"""The poster's comparison, computed from the store: clean accuracy, training
cost, weight-perturbation robustness and quantization, per method.

Torch-free: the TUI and ``nawt compare`` import it. Every number comes from the
store (runs, their latest completed evaluations and evaluation points).

Aggregation rules
- accuracy: completed runs only, ``final_test_acc`` per run; mean, sample std
  (0 for one run) and best over the runs (seeds) of a method.
- timing: completed runs grouped by (method, device, epochs); mean training
  seconds (evaluation excluded); ratio = that mean / the mean of the standard
  runs of the same device and epochs (None when there is no such run).
- robustness: each run's latest completed robustness evaluation whose mode
  equals ``mode``; all trials of all runs of a method pooled per strength:
  mean, sample std, min and n (the number of accuracies pooled).
- quantization: each run's latest completed quantization evaluation; pooled
  per bit width: mean, sample std, n; ``fp`` is the mean unquantized accuracy
  measured by the same evaluations (None when none recorded it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .config import METHODS
from .errors import NawtError
from .store import Evaluation, Run, Store, effective_status

MODES = ("absolute", "relative", "std")


@dataclass
class Comparison:
    runs: list[Run] = field(default_factory=list)
    accuracy: list[dict] = field(default_factory=list)
    timing: list[dict] = field(default_factory=list)
    robustness_mode: str | None = None
    strengths: list[float] = field(default_factory=list)
    robustness: list[dict] = field(default_factory=list)
    bits: list[int] = field(default_factory=list)
    quantization: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (run rows as plain dicts, point keys as strings)."""
        return {
            "runs": [run_summary(r) for r in self.runs],
            "accuracy": self.accuracy,
            "timing": self.timing,
            "robustness_mode": self.robustness_mode,
            "strengths": self.strengths,
            "robustness": [
                {"method": r["method"], "points": {_num_key(k): v for k, v in r["points"].items()}}
                for r in self.robustness
            ],
            "bits": self.bits,
            "quantization": [
                {"method": q["method"], "fp": q["fp"], "points": {str(k): v for k, v in q["points"].items()}}
                for q in self.quantization
            ],
        }


def _num_key(x: float) -> str:
    return repr(float(x))


def run_summary(r: Run) -> dict[str, Any]:
    cfg = r.config or {}
    return {
        "id": r.id, "name": r.name, "method": r.method, "study": r.study, "status": effective_status(r),
        "seed": r.seed, "dataset": r.dataset, "arch": cfg.get("arch"), "epochs": r.epochs,
        "train_subset": cfg.get("train_subset"), "test_subset": cfg.get("test_subset"),
        "device": r.device, "train_seconds": r.train_seconds, "final_test_acc": r.final_test_acc,
        "best_test_acc": r.best_test_acc, "created_at": r.created_at, "finished_at": r.finished_at,
        "config_key": r.config_key, "notes": r.notes,
    }


def method_order(method: str) -> tuple[int, str]:
    return (METHODS.index(method) if method in METHODS else len(METHODS), method)


def mean_std(values: list[float]) -> tuple[float, float]:
    n = len(values)
    m = sum(values) / n
    if n < 2:
        return m, 0.0
    return m, math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1))


def select_runs(store: Store, run_ids: list[int] | None = None, study: str | None = None) -> list[Run]:
    """The runs named (every id must exist), a study's runs, or all runs."""
    if run_ids:
        runs = store.list_runs(ids=run_ids)
        missing = sorted(set(run_ids) - {r.id for r in runs})
        if missing:
            raise NawtError(f"no run with id {', '.join(map(str, missing))} (see `nawt runs`)")
    else:
        runs = []
    if study is not None:
        ids = study_run_ids(store, study)
        more = store.list_runs(ids=ids) if ids is not None else store.list_runs(study=study)
        if ids is None and not more and study not in {s.name for s in store.list_studies()}:
            raise NawtError(f"no study named {study!r} (see `nawt study --help`)")
        seen = {r.id for r in runs}
        runs += [r for r in more if r.id not in seen]
    if not run_ids and study is None:
        runs = store.list_runs()
    return sorted(runs, key=lambda r: (method_order(r.method), r.id))


def study_run_ids(store: Store, study: str) -> list[int] | None:
    """A study's own list of runs (it may reuse runs trained earlier under
    another name); None when the study row does not record one."""
    for s in store.list_studies():
        if s.name == study:
            ids = (s.config or {}).get("run_ids")
            return [int(i) for i in ids] if ids is not None else None
    return None


def latest_evaluation(store: Store, run_id: int, kind: str, mode: str | None = None) -> Evaluation | None:
    evs = store.evaluations(run_id, kind, completed_only=True)
    if mode is not None:
        evs = [e for e in evs if (e.config or {}).get("mode", "absolute") == mode]
    return evs[-1] if evs else None


def compare(store: Store, run_ids: list[int] | None = None, study: str | None = None,
            mode: str = "absolute") -> Comparison:
    if mode not in MODES:
        raise NawtError(f"unknown robustness mode {mode!r}; choose one of: {', '.join(MODES)}")
    runs = select_runs(store, run_ids, study)
    comp = Comparison(runs=runs)
    done = [r for r in runs if r.status == "completed"]
    methods = sorted({r.method for r in runs}, key=method_order)

    # clean accuracy per method
    for m in methods:
        rs = [r for r in done if r.method == m and r.final_test_acc is not None]
        if not rs:
            continue
        accs = [r.final_test_acc for r in rs]
        mean, std = mean_std(accs)
        comp.accuracy.append({"method": m, "n": len(rs), "mean": mean, "std": std, "best": max(accs),
                              "run_ids": [r.id for r in rs]})

    # training cost per (method, device, epochs)
    groups: dict[tuple[str, str, int], list[Run]] = {}
    for r in done:
        groups.setdefault((r.method, r.device, r.epochs), []).append(r)
    means = {k: sum(r.train_seconds for r in v) / len(v) for k, v in groups.items()}
    for (m, dev, ep) in sorted(groups, key=lambda k: (method_order(k[0]), k[1], k[2])):
        secs = means[(m, dev, ep)]
        base = means.get(("standard", dev, ep))
        comp.timing.append({
            "method": m, "n": len(groups[(m, dev, ep)]), "train_seconds": secs,
            "ratio": (secs / base) if base else None, "device": dev, "epochs": ep,
        })

    # robustness per method and strength
    pooled: dict[str, dict[float, list[float]]] = {}
    for r in done:
        ev = latest_evaluation(store, r.id, "robustness", mode)
        if ev is None:
            continue
        per = pooled.setdefault(r.method, {})
        for p in store.points(ev.id):
            per.setdefault(float(p.param), []).append(p.accuracy)
    if pooled:
        comp.robustness_mode = mode
        comp.strengths = sorted({s for per in pooled.values() for s in per})
        for m in sorted(pooled, key=method_order):
            pts = {}
            for s in sorted(pooled[m]):
                vals = pooled[m][s]
                mean, std = mean_std(vals)
                pts[s] = {"mean": mean, "std": std, "min": min(vals), "n": len(vals)}
            comp.robustness.append({"method": m, "points": pts})

    # quantization per method and bit width
    qpool: dict[str, dict[int, list[float]]] = {}
    fps: dict[str, list[float]] = {}
    for r in done:
        ev = latest_evaluation(store, r.id, "quantization")
        if ev is None:
            continue
        per = qpool.setdefault(r.method, {})
        if ev.clean_acc is not None:
            fps.setdefault(r.method, []).append(ev.clean_acc)
        for p in store.points(ev.id):
            per.setdefault(int(round(p.param)), []).append(p.accuracy)
    if qpool:
        comp.bits = sorted({b for per in qpool.values() for b in per}, reverse=True)
        for m in sorted(qpool, key=method_order):
            pts = {}
            for b in sorted(qpool[m], reverse=True):
                mean, std = mean_std(qpool[m][b])
                pts[b] = {"mean": mean, "std": std, "n": len(qpool[m][b])}
            fp = mean_std(fps[m])[0] if fps.get(m) else None
            comp.quantization.append({"method": m, "fp": fp, "points": pts})
    return comp


__all__ = ["MODES", "Comparison", "compare", "latest_evaluation", "mean_std", "method_order",
           "run_summary", "select_runs", "study_run_ids"]
