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
  load_avg, load_flag (the ratio's runs saw very different load)
  (ratio to the standard runs of the same settings; empty if none)
- ``robustness``: method, mode, strength, n, mean, std, min, group, runs
  (runs that have the point), partial (true when not every run of the row has it)
- ``quantization``: method, bits, n, mean, std, fp_acc, group, runs, partial
- ``points``: every stored sweep point: run_id, method, seed, evaluation_id,
  kind, mode, param, trial, accuracy, loss

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

from . import safe_files
from .compare import Comparison, compare, run_summary, select_runs
from .errors import NawtError
from .store import Store

TABLES = ("runs", "epochs", "accuracy", "timing", "robustness", "quantization", "points")
FORMATS = ("csv", "json")

COLUMNS: dict[str, list[str]] = {
    "runs": ["id", "name", "method", "study", "status", "seed", "dataset", "arch", "epochs", "train_subset",
             "test_subset", "device", "train_seconds", "final_test_acc", "best_test_acc", "created_at",
             "finished_at", "config_key", "notes", "final_trained_test_acc"],
    "epochs": ["run_id", "method", "seed", "epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr", "rho",
               "epoch_seconds", "eval_seconds", "checkpoint_seconds", "images_per_sec", "wall_seconds", "load_avg", "cpu_util", "gpu_util",
               "trained_test_loss", "trained_test_acc", "cost_class", "weight_stats"],
    "accuracy": ["method", "n", "mean", "std", "best", "run_ids", "group", "settings", "ci_low", "ci_high",
                 "diff_standard", "diff_low", "diff_high", "diff_test"],
    "timing": ["method", "device", "epochs", "n", "train_seconds", "ratio", "group", "epoch_median", "epoch_min",
               "epoch_max", "median_time", "load_avg", "load_flag"],
    "robustness": ["method", "mode", "strength", "n", "mean", "std", "min", "group", "runs", "partial"],
    "quantization": ["method", "bits", "n", "mean", "std", "fp_acc", "group", "runs", "partial"],
    "points": ["run_id", "method", "seed", "evaluation_id", "kind", "mode", "param", "trial", "accuracy", "loss"],
}

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
         mode: str = "absolute", comparison: Comparison | None = None,
         all_runs: bool = False) -> list[dict[str, Any]]:
    """The rows of ``table`` for the runs chosen (the latest study when none are named)."""
    if table not in TABLES:
        raise NawtError(f"unknown table {table!r}; choose one of: {', '.join(TABLES)}")
    if table in ("runs", "epochs", "points"):
        runs = comparison.runs if comparison is not None else select_runs(store, run_ids, study, all_runs)
        if table == "runs":
            return [{c: run_summary(r).get(c) for c in COLUMNS["runs"]} for r in runs]
        if table == "epochs":
            out = []
            for r in runs:
                for e in store.epochs(r.id):
                    d = e.model_dump()
                    d.update(run_id=r.id, method=r.method, seed=r.seed)
                    out.append({c: d.get(c) for c in COLUMNS["epochs"]})
            return out
        out = []
        for r in runs:
            for ev in store.evaluations(r.id, completed_only=True):
                if ev.kind not in ("robustness", "quantization"):
                    continue
                m = (ev.config or {}).get("mode") if ev.kind == "robustness" else None
                for p in store.points(ev.id):
                    out.append({"run_id": r.id, "method": r.method, "seed": r.seed, "evaluation_id": ev.id,
                                "kind": ev.kind, "mode": m, "param": p.param, "trial": p.trial,
                                "accuracy": p.accuracy, "loss": p.loss})
        return out
    comp = comparison or compare(store, run_ids, study, mode, all_runs)
    if table == "accuracy":
        return [{**a, "run_ids": " ".join(map(str, a["run_ids"])), **_diff_cols(a.get("vs_standard"))}
                for a in comp.accuracy]
    if table == "timing":
        return [{c: t.get(c) for c in COLUMNS["timing"]} for t in comp.timing]
    if table == "robustness":
        return [{"method": r["method"], "mode": comp.robustness_mode, "strength": s, **v, "group": r["group"]}
                for r in comp.robustness for s, v in r["points"].items()]
    return [{"method": q["method"], "bits": b, **v, "fp_acc": q["fp"], "group": q["group"]}
            for q in comp.quantization for b, v in q["points"].items()]


def _diff_cols(d: dict | None) -> dict[str, Any]:
    d = d or {}
    return {"diff_standard": d.get("diff"), "diff_low": d.get("low"), "diff_high": d.get("high"),
            "diff_test": d.get("test")}


def render(table: str, data: list[dict[str, Any]], fmt: str = "csv") -> str:
    if fmt not in FORMATS:
        raise NawtError(f"unknown format {fmt!r}; choose csv or json")
    cols = COLUMNS[table]
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
           run_ids: list[int] | None = None, study: str | None = None, mode: str = "absolute",
           all_runs: bool = False) -> str:
    """Renders ``table``; writes it to ``path`` when given (format from the
    suffix unless ``fmt`` says), and returns the text."""
    if fmt is None:
        fmt = "json" if path is not None and str(path).lower().endswith(".json") else "csv"
    if fmt not in FORMATS:
        raise NawtError(f"unknown format {fmt!r}; choose csv or json")
    if table not in TABLES:
        raise NawtError(f"unknown table {table!r}; choose one of: {', '.join(TABLES)}")
    if path is not None:
        check_writable(path)
    text = render(table, rows(store, table, run_ids, study, mode, all_runs=all_runs), fmt)
    if path is not None:
        write_text(path, text)
    return text


def export_all(store: Store, folder: str | Path, run_ids: list[int] | None = None, study: str | None = None,
               mode: str = "absolute") -> list[Path]:
    """Every table as ``<folder>/<table>.csv``."""
    folder = Path(folder)
    comp = compare(store, run_ids, study, mode)
    out = []
    for t in TABLES:
        out.append(write_text(folder / f"{t}.csv", render(t, rows(store, t, mode=mode, comparison=comp))))
    return out


__all__ = ["COLUMNS", "FORMATS", "TABLES", "check_writable", "export", "export_all", "render", "rows", "safe_cell",
           "write_text"]
