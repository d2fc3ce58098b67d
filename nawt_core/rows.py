"""The rows of a comparison, typed (torch-free): accuracy, timing, and one table per evaluation.

Every reader (``nawt compare``, ``--json``, export, the figures, the report,
the TUI) takes its numbers from these fields, so a misspelt name fails at
once instead of reading None. A row also reads like the JSON object
``nawt compare --json`` prints (``row["mean"]``; ``dict(row)``), in the same
key order; a name that is not a field raises KeyError.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Iterator


class Row:
    """A dataclass that also reads as a mapping of its fields (for JSON, CSV and ``row["key"]``)."""

    def keys(self) -> list[str]:
        return [f.name for f in fields(self)]

    def __getitem__(self, key: str) -> Any:
        if key not in self.keys():
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __contains__(self, key: object) -> bool:
        return key in self.keys()

    def __len__(self) -> int:
        return len(self.keys())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Row):
            return type(other) is type(self) and self.to_dict() == other.to_dict()
        if isinstance(other, dict):
            return self.to_dict() == other
        return NotImplemented

    __hash__ = None  # mutable, like the dicts they replace

    def to_dict(self) -> dict[str, Any]:
        return {k: _plain(getattr(self, k)) for k in self.keys()}


def _plain(v: Any) -> Any:
    if isinstance(v, Row):
        return v.to_dict()
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return v


@dataclass(eq=False)
class Difference(Row):
    """A group's accuracy minus standard's with its 95 % interval (nawt_core/stats.difference)."""

    test: str  # paired, welch or none
    n: int
    diff: float
    half: float | None
    low: float | None
    high: float | None
    df: float | None
    clipped: bool = False  # the interval was cut at [-1, 1] (stats.bounded_difference)
    note: str = ""  # why there is no interval, or why it was cut


@dataclass(eq=False)
class AccuracyRow(Row):
    method: str
    group: str
    n: int
    mean: float
    std: float
    best: float
    run_ids: list[int]
    settings: str
    seeds: list[int]
    ci_low: float | None
    ci_high: float | None
    ci_half: float | None
    vs_standard: Difference | None = None
    ci_note: str = ""  # why there is no interval (too few seeds) or why it was cut at 0 or 100 %
    ci_clipped: bool = False


@dataclass(eq=False)
class TimingRow(Row):
    method: str
    group: str
    device: str
    epochs: int
    n: int
    train_seconds: float
    epoch_median: float | None
    epoch_min: float | None
    epoch_max: float | None
    median_time: float | None  # the cost estimate (cost.py); the name predates it
    cost: dict | None  # the estimate's cost classes (cost.Estimate.to_dict)
    load_avg: float | None
    ratio: float | None = None
    load_flag: bool = False
    ratio_note: str = ""
    threads: int | None = None  # the CPU threads its runs were given (busy.py)
    busy: str = ""  # why its machine was busy ('load 8.1 on 2 threads'), '' when it was not
    gpu_others: float | None = None  # mean other processes computing on its runs' GPU (NVML), None: unknown


@dataclass(eq=False)
class Point(Row):
    """One swept value of a row, pooled over its runs' trials. ``partial``: not every run
    of the row has it (shown as such, left out of figures and summaries)."""

    mean: float
    std: float
    min: float | None
    n: int
    runs: int
    partial: bool
    shown: tuple[str, ...] = ("mean", "std", "min")  # the statistics its evaluation reports

    def keys(self) -> list[str]:
        return [k for k in ("mean", "std", "min") if k in self.shown] + ["n", "runs", "partial"]


@dataclass(eq=False)
class SweepRow(Row):
    """One group (method and settings, split further by sweep settings) of one evaluation."""

    method: str
    group: str
    runs: int
    sweep: dict[str, Any]  # the sweep settings the row's evaluations share
    run_ids: list[int]
    points: dict[Any, Point] = field(default_factory=dict)  # value -> pooled point, in table order
    clean: float | None = None  # mean unstressed accuracy of the evaluations (shown where the spec has Clean)
    summary: dict[str, Any] = field(default_factory=dict)  # the spec's summaries (auc, halving, …)
    clean_key: str | None = None  # the JSON name of ``clean`` ("fp"), None when not shown
    # per run id: its seed, its evaluation's seed and its own numbers (EvalSpec.run_summary)
    per_run: dict[int, dict[str, Any]] = field(default_factory=dict)
    # per metric: those numbers over seeds (stats.over_seeds: mean, 95 % interval or why none) and
    # ``vs_standard``, the paired difference to the standard row of the same settings (None: no such row)
    over_seeds: dict[str, dict[str, Any]] = field(default_factory=dict)
    # per run id: its own mean per swept value (the trade-off's "accuracy at one value"; not in the JSON,
    # whose ``points`` pool them)
    run_points: dict[int, dict[Any, float]] = field(default_factory=dict)

    def keys(self) -> list[str]:
        return ["method", "group", "runs", "sweep", "run_ids", *([self.clean_key] if self.clean_key else []),
                "points", *self.summary, "per_run", "over_seeds"]

    def __getitem__(self, key: str) -> Any:
        if key == self.clean_key:
            return self.clean
        if key in self.summary:
            return self.summary[key]
        return super().__getitem__(key)

    def __getattr__(self, key: str) -> Any:  # summaries read as fields too: row.auc
        summary = self.__dict__.get("summary") or {}
        if key in summary:
            return summary[key]
        raise AttributeError(key)

    def to_dict(self, json_key=None) -> dict[str, Any]:
        out = {}
        for k in self.keys():
            if k == "points":
                out[k] = {(json_key(p) if json_key else p): v.to_dict() for p, v in self.points.items()}
            else:
                out[k] = _plain(self[k])
        for m, res in self.over_seeds.items():  # flat, for jq and spreadsheets: auc_ci_low, auc_ci_high
            out[f"{m}_ci_low"], out[f"{m}_ci_high"] = res["low"], res["high"]
        return out


@dataclass
class SweepTable:
    """One evaluation's rows in a comparison: its variant (e.g. the mode), the values swept, the rows."""

    spec: Any  # evalspec.EvalSpec
    variant: str | None = None
    grid: list = field(default_factory=list)
    rows: list[SweepRow] = field(default_factory=list)
    other_variants: list[str] = field(default_factory=list)  # no rows of this variant, but these are stored


__all__ = ["AccuracyRow", "Difference", "Point", "Row", "SweepRow", "SweepTable", "TimingRow"]
