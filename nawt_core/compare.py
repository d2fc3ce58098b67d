"""The poster's comparison, computed from the store: clean accuracy, training
cost, weight-perturbation robustness and quantization.

Torch-free: the TUI, ``nawt compare``, ``nawt export`` and the figures all use
this one function, so they always show the same rows.

Scope: the runs named, a study's runs, or every run (``all_runs``); with none
of these, the latest study (every run when there is no study). Only completed
runs are counted.

Groups: runs are pooled only with runs of the same method trained with the
same comparable settings (``settings``): every TrainConfig field except the
seed, the names, the data folder, the device index and --compile, plus the
device type and the data the run actually trained on. Each group is its own
row; ``label`` names what sets it apart from the other groups shown (e.g.
``subset 4000, test 1000``), and ``mixed`` says more than one setting is shown.

Aggregation rules
- accuracy: ``final_test_acc`` per run; mean, sample std (0 for one run) and
  best over the runs (seeds) of a group; ``seeds``; the 95 % confidence interval
  of the mean (``ci_low``, ``ci_high``, ``ci_half``: Student t, None for one run);
  ``vs_standard``: the difference to the standard group of the same settings with
  its 95 % interval, paired by seed where both have the same seeds, else Welch
  (nawt_core/stats.py; None for standard itself or without such a group).
- timing: per group, the mean total training seconds (evaluation excluded)
  and the cost estimate ``median_time`` (nawt_core/cost.py: per cost class of
  epochs, e.g. multi-step SAM's one-pass rho = 0 stage and its SAM stages, the
  (low) median epoch time over all the group's epochs of that class x the class's
  epochs; median x epochs for a method whose epochs all cost the same; the
  classes in ``cost``), with the median, fastest and slowest epoch and the mean
  load average seen. The ratio to standard divides by the standard group with
  the same settings (method options aside), using the estimates when both have
  epoch times, else the totals; None when there is no such group. ``load_flag`` is set when the two
  groups' mean load averages differ by more than LOAD_FACTOR (as
  (L1 + 1) / (L2 + 1), so an idle machine's noise is not flagged).
- robustness: each run's latest completed robustness evaluation of ``mode``;
  runs are pooled only when their sweeps match (mode, strengths, trials,
  targets, test images, data: ``SWEEP_KEYS``); all trials of all runs pooled
  per strength: mean, sample std, min, n (accuracies pooled) and ``runs``
  (runs that have the point). A point that not every run of the row has is
  ``partial`` (shown as such, left out of figures). Per row, over the points
  every run has: ``auc`` (area under mean accuracy vs strength / strength range)
  and ``halving`` (strength where the mean accuracy halves from strength 0;
  ``halving_beyond`` when it never does up to the largest strength).
- quantization: the same with the latest quantization evaluation, per bit
  width; ``fp`` is the mean unquantized accuracy of those evaluations;
  ``within_1pt`` the lowest bit width from which every wider width is within
  1 point (0.01) of ``fp``.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any

from . import cost, spec, stats
from .busy import flag_busy
from .config import TrainConfig
from .errors import NawtError
from .evalspec import MODES, check_mode, noise_source
from .hardware import device_kind
from .left_out import left_out_notes
from .poster_scope import poster_caveat
from .status import Status
from .store import Evaluation, Run, Store, effective_status

# TrainConfig fields that do not make runs incomparable (device is replaced by its type)
NOT_COMPARED = ("seed", "name", "study", "data_dir", "compile", "device", "method", "eval_every", "checkpoint_every")
# a method's options (spec.py) only change what that method does: compared within a method only
ALL_OPTIONS = sorted(spec.OPTIONS)
SWEEP_KEYS = {
    "robustness": ("mode", "strengths", "trials", "targets", "test_images", "dataset", "precision", "noise"),
    "quantization": ("bits", "granularity", "fold_bn", "test_images", "dataset", "precision"),
}
LOAD_FACTOR = 2.0
# how a setting is named in a group label ("" = the value alone)
SHORT = {"train_subset": "subset", "test_subset": "test", "epochs": "epochs", "arch": "", "dataset": "",
         "device": "", "precision": "", "schedule": "", "batch_size": "batch", "weight_decay": "wd",
         "noise_sigma": "sigma", "noise_eta": "eta", "ascent_steps": "ascent", "rho_stages": "rho stages",
         "test_images": "test images"}


@dataclass
class Group:
    """Completed runs of one method with the same comparable settings."""

    method: str
    settings: dict[str, Any]
    runs: list[Run] = field(default_factory=list)
    label: str = ""

    @property
    def base(self) -> tuple:
        """The settings with the method options left out (for the ratio to standard)."""
        return _frozen({k: v for k, v in self.settings.items() if k not in ALL_OPTIONS})

    @property
    def run_ids(self) -> list[int]:
        return [r.id for r in self.runs]


@dataclass
class Comparison:
    runs: list[Run] = field(default_factory=list)  # every run selected (any status)
    scope: str = ""
    study: str | None = None  # the study compared, when the selection is exactly one study
    groups: list[Group] = field(default_factory=list)
    mixed: bool = False
    notes: list[str] = field(default_factory=list)
    accuracy: list[dict] = field(default_factory=list)
    timing: list[dict] = field(default_factory=list)
    robustness_mode: str | None = None
    strengths: list[float] = field(default_factory=list)
    robustness: list[dict] = field(default_factory=list)
    bits: list[int] = field(default_factory=list)
    quantization: list[dict] = field(default_factory=list)

    @property
    def completed(self) -> list[Run]:
        return [r for g in self.groups for r in g.runs]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (run rows as plain dicts, point keys as strings)."""
        return {
            "scope": self.scope,
            "study": self.study,
            "mixed": self.mixed,
            "notes": self.notes,
            "groups": [{"method": g.method, "label": g.label, "settings": g.settings, "run_ids": g.run_ids}
                       for g in self.groups],
            "runs": [run_summary(r) for r in self.runs],
            "accuracy": self.accuracy,
            "timing": self.timing,
            "robustness_mode": self.robustness_mode,
            "strengths": self.strengths,
            "robustness": [{**r, "points": {_num_key(k): v for k, v in r["points"].items()}}
                           for r in self.robustness],
            "bits": self.bits,
            "quantization": [{**q, "points": {str(k): v for k, v in q["points"].items()}}
                             for q in self.quantization],
        }


def _num_key(x: float) -> str:
    return repr(float(x))


def run_summary(r: Run) -> dict[str, Any]:
    """One run as `nawt runs --json`, `nawt show`, compare and export see it (effective status)."""
    cfg = r.config or {}
    return {
        "id": r.id, "name": r.name, "method": r.method, "study": r.study, "status": effective_status(r),
        "seed": r.seed, "dataset": r.dataset, "arch": cfg.get("arch"), "epoch": r.epoch, "epochs": r.epochs,
        "train_subset": cfg.get("train_subset"), "test_subset": cfg.get("test_subset"),
        "train_loss": r.train_loss, "test_acc": r.test_acc, "images_per_sec": r.images_per_sec,
        "device": r.device, "train_seconds": r.train_seconds, "final_test_acc": r.final_test_acc,
        "final_trained_test_acc": r.final_trained_test_acc,
        "best_test_acc": r.best_test_acc, "created_at": r.created_at, "finished_at": r.finished_at,
        "config_key": r.config_key, "notes": r.notes,
    }


def method_order(method: str) -> tuple[int, str]:
    return (spec.order(method), method)


def mean_std(values: list[float]) -> tuple[float, float]:
    n = len(values)
    m = sum(values) / n
    if n < 2:
        return m, 0.0
    return m, math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1))


def point_summary(points) -> dict[float, dict[str, float]]:
    """One evaluation's points per parameter (strength or bits), in order:
    mean, std, min and n over its trials (`nawt eval`, the TUI's detail screen)."""
    by: dict[float, list[float]] = {}
    for p in points:
        by.setdefault(float(p.param), []).append(float(p.accuracy))
    out = {}
    for k in sorted(by):
        m, sd = mean_std(by[k])
        out[k] = {"mean": m, "std": sd, "min": min(by[k]), "n": len(by[k])}
    return out


# ------------------------------------------------------------------ scope
def select_runs(store: Store, run_ids: list[int] | None = None, study: str | None = None,
                all_runs: bool = False) -> list[Run]:
    """The runs named (every id must exist) and/or a study's runs; every run
    with ``all_runs``; else the latest study's (every run when there is none)."""
    return _select(store, run_ids, study, all_runs)[0]


def _select(store: Store, run_ids, study, all_runs) -> tuple[list[Run], str, str | None]:
    """The runs, a line saying which they are, and the study when it is exactly one study."""
    if all_runs:
        return _sorted(store.list_runs()), "all runs", None
    if not run_ids and study is None:
        studies = store.list_studies()
        if not studies:
            return _sorted(store.list_runs()), "all runs (no study yet)", None
        study = studies[-1].name
        scope = f"study {study} (the latest; --all for every run)"
    else:
        scope = ""
    runs = []
    if run_ids:
        runs = store.list_runs(ids=run_ids)
        missing = sorted(set(run_ids) - {r.id for r in runs})
        if missing:
            raise NawtError(f"no run with id {', '.join(map(str, missing))} (see `nawt runs`)")
        scope = "runs " + " ".join(map(str, sorted(set(run_ids))))
    if study is not None:
        ids = study_run_ids(store, study)
        more = store.list_runs(ids=ids) if ids is not None else store.list_runs(study=study)
        if ids is None and not more and study not in {s.name for s in store.list_studies()}:
            raise NawtError(f"no study named {study!r} (see `nawt study --help`)")
        seen = {r.id for r in runs}
        runs += [r for r in more if r.id not in seen]
        scope = scope or f"study {study}"
        if run_ids:
            scope += f" and study {study}"
    return _sorted(runs), scope, (study if not run_ids else None)


def _sorted(runs: list[Run]) -> list[Run]:
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


# ----------------------------------------------------------------- groups
_DEFAULTS = TrainConfig().to_dict()


def device_type(run: Run) -> str:
    """cpu or cuda: from the device label the run trained on, else its config."""
    if (run.device or "").strip():
        return device_kind(run.device)
    dev = str((run.config or {}).get("device", ""))
    return "" if dev in ("", "auto") else dev.split(":")[0]


def data_kind(source: str | None) -> str:
    """``cifar10 (unofficial checksums)`` holds the same images as ``cifar10``."""
    return (source or "").split(" ")[0]


def settings(run: Run) -> dict[str, Any]:
    """What makes runs comparable: see the module docstring."""
    given = run.config or {}
    cfg = {**_DEFAULTS, **given}
    if "epochs" not in given and run.epochs:
        cfg["epochs"] = run.epochs
    out = {k: v for k, v in cfg.items() if k not in NOT_COMPARED and k not in ALL_OPTIONS and k in _DEFAULTS}
    out["dataset"] = data_kind(run.dataset) or cfg["dataset"]
    out["device"] = device_type(run)
    if run.precision:  # the precision used (the config's may say auto)
        out["precision"] = run.precision
    if run.method in spec.method_names():
        for k in spec.method(run.method).options:
            out[k] = cfg[k]
    return out


def _frozen(d: dict) -> tuple:
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in d.items()))


def group_runs(runs: list[Run]) -> list[Group]:
    """Completed runs in groups of one method and the same settings, labelled."""
    groups: dict[tuple, Group] = {}
    for r in runs:
        if r.status != Status.COMPLETED:
            continue
        s = settings(r)
        groups.setdefault((r.method, _frozen(s)), Group(r.method, s)).runs.append(r)
    out = sorted(groups.values(), key=lambda g: (method_order(g.method), g.runs[0].id))
    for g in out:
        g.label = ", ".join(_setting_text(k, g.settings[k]) for k in _differing(out, g))
    return out


def _differing(groups: list[Group], g: Group) -> list[str]:
    """The settings of ``g`` whose values differ among the groups shown (method
    options only among groups of the same method)."""
    keys = []
    for k in g.settings:
        pool = groups if k not in ALL_OPTIONS else [h for h in groups if h.method == g.method]
        if len({repr(h.settings.get(k)) for h in pool}) > 1:
            keys.append(k)
    return keys


def _setting_text(key: str, value: Any) -> str:
    if value is None:
        value = "all"
    elif isinstance(value, bool):
        return key.replace("_", " ") if value else f"no {key.replace('_', ' ')}"
    elif isinstance(value, (list, tuple)):
        value = ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value) or "auto"
    elif isinstance(value, float):
        value = f"{value:g}"
    name = SHORT.get(key, key.replace("_", " "))
    return f"{name} {value}" if name else str(value)


# ---------------------------------------------------------------- compare
def compare(store: Store, run_ids: list[int] | None = None, study: str | None = None,
            mode: str = "absolute", all_runs: bool = False) -> Comparison:
    check_mode(mode)
    runs, scope, one_study = _select(store, run_ids, study, all_runs)
    comp = Comparison(runs=runs, scope=scope, study=one_study, groups=group_runs(runs))
    methods = {g.method for g in comp.groups}
    comp.mixed = len(comp.groups) > len(methods) or len({g.base for g in comp.groups}) > 1
    if comp.mixed:
        comp.notes.append(f"{len(comp.groups)} groups of different settings: one row each, never averaged together")
    _accuracy(comp)
    _timing(comp, store)
    _robustness(comp, store, mode)
    _quantization(comp, store)
    comp.notes += left_out_notes(comp)  # runs not completed, or without a sweep: named, with the reason
    caveat = poster_caveat(comp.groups)  # a smoke study beside the poster's numbers says so first
    comp.notes[:0] = [caveat] if caveat else []
    return comp


def _accuracy(comp: Comparison) -> None:
    """Per group: mean, std, best, the 95 % CI over seeds, and the difference to
    the standard group of the same settings with its interval (stats.difference)."""
    per_seed: dict[int, dict[int, list[float]]] = {}
    for g in comp.groups:
        rs = [r for r in g.runs if r.final_test_acc is not None]
        if not rs:
            continue
        accs = [r.final_test_acc for r in rs]
        mean, std = mean_std(accs)
        ci = stats.interval(accs)
        comp.accuracy.append({"method": g.method, "group": g.label, "n": len(rs), "mean": mean, "std": std,
                              "best": max(accs), "run_ids": [r.id for r in rs],
                              "settings": settings_text(g.settings), "seeds": [r.seed for r in rs],
                              "ci_low": ci["low"], "ci_high": ci["high"], "ci_half": ci["half"],
                              "vs_standard": None})
        per_seed[id(g)] = _by_seed(rs)
    standards = {g.base: g for g in comp.groups if g.method == "standard" and id(g) in per_seed}
    for g, row in zip([g for g in comp.groups if id(g) in per_seed], comp.accuracy):
        base = standards.get(g.base)
        if base is not None and base is not g:
            row["vs_standard"] = stats.difference(per_seed[id(g)], per_seed[id(base)])


def _by_seed(runs: list[Run]) -> dict[int, list[float]]:
    out: dict[int, list[float]] = {}
    for r in runs:
        out.setdefault(r.seed, []).append(r.final_test_acc)
    return out


def settings_text(s: dict[str, Any]) -> str:
    """Every comparable setting, ``key=value; …`` (for the export)."""
    return "; ".join(f"{k}={v}" for k, v in sorted(s.items()))


def _timing(comp: Comparison, store: Store) -> None:
    rows = {}
    for g in comp.groups:
        rows_of = {r.id: store.epochs(r.id) for r in g.runs}
        secs = [e.epoch_seconds for r in g.runs for e in rows_of[r.id] if e.epoch_seconds > 0]
        loads = [e.load_avg for r in g.runs for e in rows_of[r.id] if e.load_avg is not None]
        epochs = g.settings.get("epochs") or g.runs[0].epochs
        med = statistics.median(secs) if secs else None
        est = cost.estimate([t for r in g.runs for t in cost.epoch_times(r.method, r.config, epochs, rows_of[r.id])],
                            cost.schedule(g.method, g.runs[0].config, epochs))
        rows[id(g)] = {
            "method": g.method, "group": g.label, "device": g.settings.get("device") or g.runs[0].device,
            "epochs": epochs, "n": len(g.runs), "train_seconds": sum(r.train_seconds for r in g.runs) / len(g.runs),
            "epoch_median": med, "epoch_min": min(secs) if secs else None, "epoch_max": max(secs) if secs else None,
            # the cost estimate (cost.py: median epoch per cost class x its epochs); the key predates it
            "median_time": est.seconds if est is not None else None, "cost": est.to_dict() if est else None,
            "load_avg": sum(loads) / len(loads) if loads else None, "ratio": None, "load_flag": False,
            "ratio_note": "",
        }
    standards = {g.base: rows[id(g)] for g in comp.groups if g.method == "standard"}
    for g in comp.groups:
        row, base = rows[id(g)], standards.get(g.base)
        if base is None:
            row["ratio_note"] = "no standard run with the same settings"
        else:
            both = row["median_time"] is not None and base["median_time"] is not None
            num, den = (row["median_time"], base["median_time"]) if both else (row["train_seconds"], base["train_seconds"])
            row["ratio"] = num / den if den else None
            la, lb = row["load_avg"], base["load_avg"]
            if la is not None and lb is not None and max(la + 1, lb + 1) / min(la + 1, lb + 1) > LOAD_FACTOR:
                row["load_flag"] = True
                row["ratio_note"] = f"load differed: {la:.1f} vs {lb:.1f} for standard"
        comp.timing.append(row)
    differed = any(r["load_flag"] for r in comp.timing)
    flag_busy(comp.timing, {id(rows[id(g)]): g.runs for g in comp.groups}, comp.notes)
    if differed:
        comp.notes.append(f"! time ratio whose runs' mean load averages differ over {LOAD_FACTOR:g}x "
                          "((L1+1)/(L2+1)): retime on a quiet machine")


def _sweep_key(kind: str, ev: Evaluation) -> tuple:
    cfg = dict(ev.config or {})
    if kind == "robustness":
        cfg.setdefault("mode", "absolute")
        cfg["strengths"] = sorted(set(map(float, cfg.get("strengths") or [])))
    else:
        cfg["bits"] = sorted(set(cfg.get("bits") or []), reverse=True)
    if "dataset" in cfg:
        cfg["dataset"] = data_kind(cfg["dataset"])
    cfg.setdefault("precision", "fp32")  # stored before sweeps recorded their precision: fp32
    if kind == "robustness":  # GPU sweeps before noise came from a CPU generator drew other numbers
        cfg["noise"] = noise_source(ev.config, device_kind(ev.device))
    return _frozen({k: cfg.get(k) for k in SWEEP_KEYS[kind]})


def _sweep_rows(comp: Comparison, store: Store, kind: str, mode: str | None):
    """(group, label, sweep settings, [(run, evaluation)]) per group and matching sweep settings."""
    rows = []
    for g in comp.groups:
        by: dict[tuple, list] = {}
        for r in g.runs:
            ev = latest_evaluation(store, r.id, kind, mode)
            if ev is not None:
                by.setdefault(_sweep_key(kind, ev), []).append((r, ev))
        rows += [(g, dict(k), evs) for k, evs in by.items()]
    sweep_diff = [k for k in SWEEP_KEYS[kind] if len({repr(s.get(k)) for _, s, _ in rows}) > 1]
    if len(rows) > len({id(g) for g, _, _ in rows}) or sweep_diff:
        if rows:
            comp.mixed = True
            comp.notes.append(f"{kind} sweeps with different settings: separate rows")
    out = []
    for g, s, evs in rows:
        # name what splits a group, and the trials/targets when rows differ in them (strengths show as columns)
        own = [k for k in SWEEP_KEYS[kind] if len({repr(t.get(k)) for h, t, _ in rows if h is g}) > 1]
        keys = [k for k in SWEEP_KEYS[kind] if k in own or (k in sweep_diff and k in ("trials", "targets"))]
        extra = ", ".join(_setting_text(k, s[k]) for k in keys)
        label = ", ".join(p for p in (g.label, extra) if p)
        out.append((g, label, s, evs))
    return out


def _pool(store: Store, evs: list, as_key) -> dict:
    per: dict[Any, list[float]] = {}
    have: dict[Any, set[int]] = {}
    for r, ev in evs:
        for p in store.points(ev.id):
            k = as_key(p.param)
            per.setdefault(k, []).append(p.accuracy)
            have.setdefault(k, set()).add(r.id)
    pts = {}
    for k in per:
        mean, std = mean_std(per[k])
        pts[k] = {"mean": mean, "std": std, "min": min(per[k]), "n": len(per[k]), "runs": len(have[k]),
                  "partial": len(have[k]) < len(evs)}
    return pts


def _robustness(comp: Comparison, store: Store, mode: str) -> None:
    for g, label, sweep, evs in _sweep_rows(comp, store, "robustness", mode):
        pts = _pool(store, evs, float)
        comp.robustness.append({"method": g.method, "group": label, "runs": len(evs), "sweep": sweep,
                                "run_ids": [r.id for r, _ in evs], "points": dict(sorted(pts.items())),
                                **_robustness_summary(pts)})
    if comp.robustness:
        comp.robustness_mode = mode
        comp.strengths = sorted({s for r in comp.robustness for s in r["points"]})
        _note_partial(comp, comp.robustness, "strength")


def _robustness_summary(pts: dict[float, dict]) -> dict[str, Any]:
    """Two numbers per row over the points every run has (those the figure draws):
    ``auc``, the area under mean accuracy against strength divided by the strength
    range; ``halving``, the strength where the mean accuracy falls to half its value
    at strength 0 (linear interpolation; None with ``halving_beyond`` True when it
    never does up to the largest strength, None and False without a strength-0 point)."""
    xs = [s for s in sorted(pts) if not pts[s]["partial"]]
    ys = [pts[s]["mean"] for s in xs]
    out = {"auc": stats.auc(xs, ys), "halving": None, "halving_beyond": False, "halving_ref": None}
    if xs and xs[0] == 0:
        out["halving_ref"] = ys[0]
        out["halving"] = stats.halving(xs, ys, ys[0])
        out["halving_beyond"] = out["halving"] is None
    return out


def _quantization(comp: Comparison, store: Store) -> None:
    for g, label, sweep, evs in _sweep_rows(comp, store, "quantization", None):
        pts = _pool(store, evs, lambda p: int(round(p)))
        for v in pts.values():
            v.pop("min")
        fps = [ev.clean_acc for _, ev in evs if ev.clean_acc is not None]
        comp.quantization.append({"method": g.method, "group": label, "runs": len(evs), "sweep": sweep,
                                  "run_ids": [r.id for r, _ in evs], "fp": mean_std(fps)[0] if fps else None,
                                  "points": dict(sorted(pts.items(), reverse=True))})
        q = comp.quantization[-1]
        full = {b: v["mean"] for b, v in pts.items() if not v["partial"]}
        # the lowest bit width from which every wider one is within 1 point of the unquantized accuracy
        q["within_1pt"] = stats.lowest_within(full, q["fp"], 0.01) if q["fp"] is not None and full else None
    if comp.quantization:
        comp.bits = sorted({b for q in comp.quantization for b in q["points"]}, reverse=True)
        _note_partial(comp, comp.quantization, "bit width")


def _note_partial(comp: Comparison, rows: list[dict], what: str) -> None:
    if any(p["partial"] for r in rows for p in r["points"].values()):
        comp.notes.append(f"* a {what} that only some runs of a row have (n runs shown; left out of figures)")


__all__ = ["LOAD_FACTOR", "MODES", "Comparison", "Group", "compare", "data_kind", "device_type", "group_runs",
           "latest_evaluation", "mean_std", "method_order", "point_summary", "run_summary", "select_runs", "settings",
           "settings_text", "study_run_ids"]
