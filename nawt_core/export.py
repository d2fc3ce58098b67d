"""The store's numbers as flat tables, to CSV or JSON. Torch-free.

Tables and their columns (stable; new columns are only ever appended):

- ``runs``: id, name, method, study, status, seed, dataset, arch, epochs,
  train_subset, test_subset, device, train_seconds, final_test_acc,
  best_test_acc, created_at, finished_at, config_key, notes, final_trained_test_acc
  (final_test_acc is final.pt's weights, where the sweeps start: for naive noise
  after the last epoch's noise; final_trained_test_acc the trained weights before
  it, the same number for methods that change nothing at an epoch's end)
- ``epochs``: run_id, method, seed, epoch, train_loss, train_acc, test_loss,
  test_acc, lr, rho, epoch_seconds, eval_seconds, checkpoint_seconds, images_per_sec,
  wall_seconds, load_avg, cpu_util, gpu_util, trained_test_loss, trained_test_acc
  (the trained weights before the epoch's end change, e.g. naive noise's noise;
  test_* the weights after it), cost_class (nawt_core/cost.py), weight_stats
  (per conv/linear layer: {"l2", "max", "std"}; JSON text in CSV)
- ``accuracy``: method, n, mean, std, best, run_ids (space-separated),
  group (what sets the row's settings apart; empty when all rows share them),
  settings (every comparable setting, ``key=value; …``), ci_low, ci_high (95 %
  CI of the mean over seeds; empty for one run), diff_standard, diff_low,
  diff_high, diff_test (difference to standard of the same settings with its
  95 % interval; paired, welch or none: nawt_core/stats.py)
- ``timing``: method, device, epochs, n, train_seconds, ratio, group,
  epoch_median, epoch_min, epoch_max, median_time (the cost estimate, nawt_core/cost.py:
  median epoch per cost class x the class's epochs; epoch_median x epochs for one class),
  load_avg, load_flag (the ratio's runs saw very different load), busy (why its machine was
  busy: a load average above its threads, or its GPU shared; empty when not), gpu_others
  (ratio to the standard runs of the same settings; empty if none)
- one table per evaluation (nawt_core/evalspec.py), named after it: method,
  its variant (``mode``) if it has one, the swept value (its ``Param.column``),
  n, the pooled statistics it shows (mean, std, min), its clean accuracy column
  if it has one, group, runs (runs that have the point), partial (true when not
  every run of the row has it); e.g. ``robustness``: method, mode, strength, n,
  mean, std, min, group, runs, partial. Per-run scalars: ``metric`` for the value.
- ``points``: every stored point of a registered evaluation: run_id, method,
  seed, evaluation_id, kind, mode (the variant), param, trial, accuracy, loss
- ``summaries``: per evaluation row and per-run metric (auc, halving, drop@4, …),
  over seeds: kind, method, mode, group, metric, seeds, mean, sd, ci_low, ci_high
  (95 %; empty under 3 seeds), clipped (cut at what the metric can be), note,
  diff_standard, diff_low, diff_high, diff_seeds, diff_note (paired by seed with
  the standard row of the same settings and sweep)
- ``run_summaries``: each run's own numbers: run_id, method, seed, kind, mode,
  group, metric, value, why (when there is no value: "near chance", "beyond 0.1"),
  eval_seed (the evaluation's seed: the same seed, the same noise draws)

The rows come from ``compare`` (one row per method and comparable settings;
see nawt_core/compare.py), so the tables, ``nawt compare`` and the figures
agree. Without run ids or a study, the latest study is exported (``all_runs``
for every run). Accuracies are fractions in [0, 1]; times are seconds. In CSV, a text cell
that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is
written with a leading apostrophe, so a spreadsheet shows it instead of
running it as a formula.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from . import evalspec, safe_files
from .compare import Comparison, compare, run_summary, select_runs
from .errors import NawtError
from .store import Store

FORMATS = ("csv", "json")
BASE_COLUMNS: dict[str, list[str]] = {
    "runs": ["id", "name", "method", "study", "status", "seed", "dataset", "arch", "epochs", "train_subset",
             "test_subset", "device", "train_seconds", "final_test_acc", "best_test_acc", "created_at",
             "finished_at", "config_key", "notes", "final_trained_test_acc"],
    "epochs": ["run_id", "method", "seed", "epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr", "rho",
               "epoch_seconds", "eval_seconds", "checkpoint_seconds", "images_per_sec", "wall_seconds", "load_avg", "cpu_util", "gpu_util",
               "gpu_others", "trained_test_loss", "trained_test_acc", "cost_class", "weight_stats"],
    "accuracy": ["method", "n", "mean", "std", "best", "run_ids", "group", "settings", "ci_low", "ci_high",
                 "diff_standard", "diff_low", "diff_high", "diff_test"],
    "timing": ["method", "device", "epochs", "n", "train_seconds", "ratio", "group", "epoch_median", "epoch_min",
               "epoch_max", "median_time", "load_avg", "load_flag", "busy", "gpu_others"],
}
POINTS = ["run_id", "method", "seed", "evaluation_id", "kind", "mode", "param", "trial", "accuracy", "loss"]
SUMMARIES = ["kind", "method", "mode", "group", "metric", "seeds", "mean", "sd", "ci_low", "ci_high", "clipped",
             "note", "diff_standard", "diff_low", "diff_high", "diff_seeds", "diff_note"]
RUN_SUMMARIES = ["run_id", "method", "seed", "kind", "mode", "group", "metric", "value", "why", "eval_seed"]
DERIVED = {"summaries": SUMMARIES, "run_summaries": RUN_SUMMARIES}


def sweep_columns(s: evalspec.EvalSpec) -> list[str]:
    """An evaluation's table: see the module docstring."""
    return ["method", *(["mode"] if s.variant else []), s.param.column if s.param else "metric", "n",
            *s.point_stats, *([s.clean.export] if s.clean else []), "group", "runs", "partial"]


def tables() -> tuple[str, ...]:
    return (*BASE_COLUMNS, *(s.name for s in evalspec.evaluations()), "points", *DERIVED)


def columns(table: str) -> list[str]:
    if table in BASE_COLUMNS:
        return BASE_COLUMNS[table]
    if table in DERIVED:
        return DERIVED[table]
    return POINTS if table == "points" else sweep_columns(evalspec.evaluation(table))


def __getattr__(name: str):
    if name == "TABLES":  # with the evaluations registered when asked
        return tables()
    if name == "COLUMNS":
        return {t: columns(t) for t in tables()}
    raise AttributeError(name)


def _check_table(table: str) -> None:
    if table not in tables():
        raise NawtError(f"unknown table {table!r}; choose one of: {', '.join(tables())}")


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet will not evaluate (numbers pass unchanged)."""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, float):
        return float(f"{value:.10g}")  # 0.331, not 0.33099999999999996: mean/std arithmetic noise
    if isinstance(value, (dict, list)):  # e.g. weight_stats: JSON text, not a Python repr
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def rows(store: Store, table: str, run_ids: list[int] | None = None, study: str | None = None,
         mode: str | None = None, comparison: Comparison | None = None,
         all_runs: bool = False, variants: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The rows of ``table`` for the runs chosen (the latest study when none are named)."""
    _check_table(table)
    if table in ("runs", "epochs", "points"):
        runs = comparison.runs if comparison is not None else select_runs(store, run_ids, study, all_runs)
        if table == "runs":
            return [{c: run_summary(r).get(c) for c in columns("runs")} for r in runs]
        if table == "epochs":
            out = []
            for r in runs:
                for e in store.epochs(r.id):
                    d = e.model_dump()
                    d.update(run_id=r.id, method=r.method, seed=r.seed)
                    out.append({c: d.get(c) for c in columns("epochs")})
            return out
        return _points(store, runs)
    comp = comparison or compare(store, run_ids, study, mode, all_runs, variants=variants)
    if table == "accuracy":
        return [{**a.to_dict(), "run_ids": " ".join(map(str, a.run_ids)), **_diff_cols(a.vs_standard)}
                for a in comp.accuracy]
    if table == "timing":
        return [t.to_dict() for t in comp.timing]
    if table in DERIVED:
        return _summaries(comp) if table == "summaries" else _run_summaries(comp)
    s = evalspec.evaluation(table)
    t = comp.table(table)
    value = s.param.column if s.param else "metric"
    return [{"method": r.method, "mode": t.variant, value: k, **p.to_dict(),
             **({s.clean.export: r.clean} if s.clean else {}), "group": r.group}
            for r in t.rows for k, p in r.points.items()]


def _points(store: Store, runs) -> list[dict[str, Any]]:
    kinds = {s.name: s for s in evalspec.evaluations()}
    out = []
    for r in runs:
        for ev in store.evaluations(r.id, completed_only=True):
            s = kinds.get(ev.kind)
            if s is None:
                continue
            m = (ev.config or {}).get(s.variant) if s.variant else None
            for p in store.points(ev.id):
                out.append({"run_id": r.id, "method": r.method, "seed": r.seed, "evaluation_id": ev.id,
                            "kind": ev.kind, "mode": m, "param": p.param, "trial": p.trial,
                            "accuracy": p.accuracy, "loss": p.loss})
    return out


def _summaries(comp: Comparison) -> list[dict[str, Any]]:
    """Every evaluation row's per-run numbers over seeds (compare.py's ``over_seeds``)."""
    out = []
    for s in evalspec.evaluations():
        t = comp.table(s.name)
        for r in t.rows:
            for m, res in r.over_seeds.items():
                d = res.get("vs_standard") or {}
                out.append({"kind": s.name, "method": r.method, "mode": t.variant, "group": r.group, "metric": m,
                            "seeds": res["n"], "mean": res["mean"], "sd": res["sd"], "ci_low": res["low"],
                            "ci_high": res["high"], "clipped": res["clipped"], "note": res["note"],
                            "diff_standard": d.get("diff"), "diff_low": d.get("low"), "diff_high": d.get("high"),
                            "diff_seeds": d.get("n"), "diff_note": d.get("note")})
    return out


def _run_summaries(comp: Comparison) -> list[dict[str, Any]]:
    """Every run's own numbers per evaluation (a value, or why there is none)."""
    out = []
    for s in evalspec.evaluations():
        t = comp.table(s.name)
        for r in t.rows:
            for rid, v in r.per_run.items():
                for m, x in v.items():
                    if m in ("seed", "eval_seed"):
                        continue
                    num = isinstance(x, (int, float)) and not isinstance(x, bool)
                    out.append({"run_id": rid, "method": r.method, "seed": v["seed"], "kind": s.name,
                                "mode": t.variant, "group": r.group, "metric": m, "value": x if num else None,
                                "why": None if num else x, "eval_seed": v["eval_seed"]})
    return out


def _diff_cols(d) -> dict[str, Any]:
    if d is None:
        return {"diff_standard": None, "diff_low": None, "diff_high": None, "diff_test": None}
    return {"diff_standard": d.diff, "diff_low": d.low, "diff_high": d.high, "diff_test": d.test}


def render(table: str, data: list[dict[str, Any]], fmt: str = "csv") -> str:
    if fmt not in FORMATS:
        raise NawtError(f"unknown format {fmt!r}; choose csv or json")
    cols = columns(table)
    if fmt == "json":
        return json.dumps([{c: r.get(c) for c in cols} for r in data], indent=2, default=str) + "\n"
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for r in data:
        w.writerow(["" if r.get(c) is None else safe_cell(r.get(c)) for c in cols])
    return buf.getvalue()


def check_writable(path: str | Path) -> Path:
    """Fails with one line, before any work, if ``path`` cannot be written (safe_files.check)."""
    return safe_files.check(path)


def write_text(path: str | Path, text: str) -> Path:
    """Writes atomically to a file, as a stream to a pipe or device (safe_files)."""
    return safe_files.write_text(path, text)


def export(store: Store, table: str, path: str | Path | None = None, fmt: str | None = None,
           run_ids: list[int] | None = None, study: str | None = None, mode: str | None = None,
           all_runs: bool = False, variants: dict[str, str] | None = None) -> str:
    """Renders ``table``; writes it to ``path`` when given (format from the
    suffix unless ``fmt`` says), and returns the text. ``variants``: as ``compare``'s."""
    if fmt is None:
        fmt = "json" if path is not None and str(path).lower().endswith(".json") else "csv"
    if fmt not in FORMATS:
        raise NawtError(f"unknown format {fmt!r}; choose csv or json")
    _check_table(table)
    if path is not None:
        check_writable(path)
    text = render(table, rows(store, table, run_ids, study, mode, all_runs=all_runs, variants=variants), fmt)
    if path is not None:
        write_text(path, text)
    return text


def export_all(store: Store, folder: str | Path, run_ids: list[int] | None = None, study: str | None = None,
               mode: str | None = None, variants: dict[str, str] | None = None) -> list[Path]:
    """Every table as ``<folder>/<table>.csv``."""
    folder = Path(folder)
    comp = compare(store, run_ids, study, mode, variants=variants)
    out = []
    for t in tables():
        out.append(write_text(folder / f"{t}.csv", render(t, rows(store, t, mode=mode, comparison=comp))))
    return out


__all__ = ["FORMATS", "check_writable", "columns", "export", "export_all", "render", "rows", "safe_cell",
           "sweep_columns", "tables", "write_text"]
