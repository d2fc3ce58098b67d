"""The poster's comparison, computed from the store: clean accuracy, training
cost, and one table per registered evaluation (nawt_core/evalspec.py).

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
  of the mean (``ci_low``, ``ci_high``, ``ci_half``: Student t; None with fewer
  than 3 seeds, ``ci_note`` says so; cut at 0 and 100 %, ``ci_clipped``);
  ``vs_standard``: the difference to the standard group of the same settings with
  its 95 % interval, paired by seed where both have the same seeds, else Welch,
  under the same rules (nawt_core/stats.py; None for standard itself or without
  such a group).
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
- evaluations (nawt_core/evalspec.py, each its own table): each run's latest
  completed evaluation of the kind (of the variant shown, e.g. the perturbation
  mode); runs are pooled only when their evaluations match (the spec's options,
  test images, data, precision and its ``key_extra``: ``sweep_key``); all trials
  of all runs pooled per swept value: mean, sample std, min, n (accuracies
  pooled) and ``runs`` (runs that have the point). A point that not every run of
  the row has is ``partial`` (shown as such, left out of figures and summaries).
  Per row, the spec's summaries over the points every run has (e.g. ``auc`` and
  ``halving``, see each spec's ``summarize``); ``clean``, the mean unstressed
  accuracy of the row's evaluations, where the spec shows it.

The rows are typed (nawt_core/rows.py); ``to_dict`` is ``nawt compare --json``.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any

from . import cost, evalspec, spec, stats
from .busy import flag_busy
from .config import BOOKKEEPING_KEYS, TrainConfig
from .errors import NawtError
from .hardware import device_kind
from .left_out import left_out_notes
from .poster_scope import poster_caveat
from .rows import AccuracyRow, Difference, Point, SweepRow, SweepTable, TimingRow
from .status import Status
from .store import Evaluation, Run, Store, effective_status

# TrainConfig fields that do not make runs incomparable (device is replaced by its type)
NOT_COMPARED = (*BOOKKEEPING_KEYS, "seed", "compile", "device", "method")
# a method's options (spec.py) only change what that method does: compared within a method only
ALL_OPTIONS = sorted(spec.OPTIONS)
# what every evaluation records besides its options: pooled only when these match too
MEASURED_ON = ("test_images", "dataset", "precision")
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
    accuracy: list[AccuracyRow] = field(default_factory=list)
    timing: list[TimingRow] = field(default_factory=list)
    sweeps: dict[str, SweepTable] = field(default_factory=dict)  # per evaluation, in registry order
    measure: str | None = None  # the trade-off's robustness measure (tradeoff.py; None: its default)

    @property
    def varied(self) -> bool:
        """Whether a method is shown at more than one setting (a study that varies a strength)."""
        methods = [g.method for g in self.groups]
        return len(methods) > len(set(methods))

    def tradeoff(self):
        """The accuracy–robustness trade-off of these rows (tradeoff.py)."""
        from .tradeoff import tradeoff

        return tradeoff(self, self.measure)

    @property
    def completed(self) -> list[Run]:
        return [r for g in self.groups for r in g.runs]

    def table(self, kind: str) -> SweepTable:
        """The rows of evaluation ``kind`` (an empty table when the kind is known but has none)."""
        if kind not in self.sweeps:
            self.sweeps[kind] = SweepTable(evalspec.evaluation(kind))
        return self.sweeps[kind]

    def __getattr__(self, name: str) -> Any:
        """An evaluation's rows, grid and variant by their JSON names: ``comp.robustness``,
        ``comp.strengths``, ``comp.robustness_mode`` (see ``to_dict``)."""
        if name.startswith("_") or "sweeps" not in self.__dict__:
            raise AttributeError(name)
        for s in evalspec.evaluations():
            if name == s.name:
                return self.table(s.name).rows
            if s.param is not None and name == s.param.name:
                return self.table(s.name).grid
            if s.variant is not None and name == f"{s.name}_{s.variant}":
                return self.table(s.name).variant
        raise AttributeError(name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (run rows as plain dicts, point keys as strings): `nawt compare --json`."""
        out = {
            "scope": self.scope,
            "study": self.study,
            "mixed": self.mixed,
            "notes": self.notes,
            "groups": [{"method": g.method, "label": g.label, "settings": g.settings, "run_ids": g.run_ids}
                       for g in self.groups],
            "runs": [run_summary(r) for r in self.runs],
            "accuracy": [a.to_dict() for a in self.accuracy],
            "timing": [t.to_dict() for t in self.timing],
        }
        for s in evalspec.evaluations():
            t = self.table(s.name)
            if s.variant is not None:
                out[f"{s.name}_{s.variant}"] = t.variant
            if s.param is not None:
                out[s.param.name] = t.grid
            out[s.name] = [r.to_dict(s.param.json_key if s.param else None) for r in t.rows]
        out["tradeoff"] = self.tradeoff().to_dict()
        return out


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
    """Mean and sample standard deviation, 0 for one value (stats.mean_sd)."""
    m, sd = stats.mean_sd(values)
    return m, 0.0 if sd is None else sd


def point_summary(points, s: evalspec.EvalSpec | None = None) -> dict:
    """One evaluation's points per swept value (of spec ``s``: its key and table order; per metric
    for per-run scalars): mean, std, min and n over its trials (`nawt eval`, the TUI's detail screen)."""
    key = (s.param.key if s.param else lambda i: _metric_name(s, i)) if s is not None else float
    by: dict = {}
    for p in points:
        by.setdefault(key(p.param), []).append(float(p.accuracy))
    out = {}
    for k in sorted(by, reverse=bool(s and s.param and s.param.descending)) if not (s and not s.param) else by:
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


def latest_evaluation(store: Store, run_id: int, kind: str, variant: str | None = None) -> Evaluation | None:
    """The run's latest completed evaluation of ``kind`` (of ``variant``, e.g. a perturbation mode)."""
    evs = store.evaluations(run_id, kind, completed_only=True)
    if variant is not None:
        s = evalspec.evaluation(kind)
        evs = [e for e in evs if s.variant_of(e.config or {}) == variant]
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
            mode: str | None = None, all_runs: bool = False, variants: dict[str, str] | None = None,
            measure: str | None = None) -> Comparison:
    """The comparison of the runs chosen (see ``select_runs``). ``variants``: per evaluation with a
    variant option, the value shown (default: the option's default); ``mode`` sets every variant
    option called ``mode`` (the perturbation mode of ``nawt compare --mode``)."""
    from .tradeoff import parse_measure

    _variants(mode, variants or {})  # bad input: one error line before any work
    parse_measure(measure)
    runs, scope, one_study = _select(store, run_ids, study, all_runs)
    ran = _study_variants(store, one_study, mode)
    shown = _variants(mode, {**ran, **(variants or {})})
    comp = Comparison(runs=runs, scope=scope, study=one_study, groups=group_runs(runs), measure=measure)
    methods = {g.method for g in comp.groups}
    comp.mixed = len(comp.groups) > len(methods) or len({g.base for g in comp.groups}) > 1
    if comp.mixed:
        comp.notes.append(f"{len(comp.groups)} groups of different settings: one row each, never averaged together")
    _accuracy(comp)
    _timing(comp, store)
    for s in evalspec.evaluations():
        _sweep(comp, store, s, shown.get(s.name))
    comp.notes += _trained_notes(comp)
    comp.notes += left_out_notes(comp)  # runs not completed, or without an evaluation: named, with the reason
    caveat = poster_caveat(comp.groups)  # a smoke study beside the poster's numbers says so first
    comp.notes[:0] = [caveat] if caveat else []
    return comp


def _study_variants(store: Store, study: str | None, mode: str | None) -> dict[str, str]:
    """The variants one study evaluated (e.g. ``pcm --drift raw``, a relative-noise study's mode):
    what its comparison shows unless told otherwise (``--mode`` overrides a study's mode)."""
    if study is None:
        return {}
    try:
        sweeps = (store.get_study(study).config or {}).get("sweeps") or {}
    except NawtError:  # runs that name a study without its row
        return {}
    out = {}
    for kind, options in sweeps.items():
        spec = evalspec.evaluation(kind) if kind in evalspec.names() else None
        if spec is None or spec.variant is None or not isinstance(options, dict):
            continue
        value = options.get(spec.variant)
        if value in spec.option(spec.variant).choices and not (mode is not None and spec.variant == "mode"):
            out[kind] = value
    return out


def parse_variants(texts: list[str] | None) -> dict[str, str]:
    """``--variant`` as typed (``pcm=raw``, ``bitflip=msb``; repeated or comma-separated) as
    {evaluation: variant}, checked: one error line for a bad one."""
    given: dict[str, str] = {}
    for part in (p.strip() for t in texts or [] for p in t.split(",")):
        kind, eq, value = (x.strip() for x in part.partition("="))
        if not (eq and kind and value):
            raise NawtError(f"--variant takes EVAL=VALUE, e.g. {evalspec.variant_examples()} (got {part!r})")
        if given.setdefault(kind, value) != value:
            raise NawtError(f"--variant names {kind} twice ({given[kind]} and {value})")
    _variants(None, given)
    return given


def _variants(mode: str | None, given: dict[str, str]) -> dict[str, str]:
    """The variant shown per evaluation that has one, checked (one error line for a bad one)."""
    out = {}
    for s in evalspec.evaluations():
        if s.variant is None:
            continue
        value = given.get(s.name) or (mode if s.variant == "mode" else None) or s.option(s.variant).default
        s.checked({s.variant: value})
        out[s.name] = value
    unknown = [k for k in given if k not in out]
    if unknown:
        raise NawtError(f"evaluation {unknown[0]!r} has no variant to choose")
    return out


def _accuracy(comp: Comparison) -> None:
    """Per group: mean, std, best, the 95 % CI over seeds (none under stats.MIN_SEEDS seeds; cut
    at 0 and 100 %), and the difference to the standard group of the same settings with its
    interval (stats.bounded_difference: the same rules, cut at ±100 points)."""
    per_seed: dict[int, dict[int, list[float]]] = {}
    for g in comp.groups:
        rs = [r for r in g.runs if r.final_test_acc is not None]
        if not rs:
            continue
        accs = [r.final_test_acc for r in rs]
        mean, std = mean_std(accs)
        ci = stats.bounded_interval(accs)
        comp.accuracy.append(AccuracyRow(
            method=g.method, group=g.label, n=len(rs), mean=mean, std=std, best=max(accs),
            run_ids=[r.id for r in rs], settings=settings_text(g.settings), seeds=[r.seed for r in rs],
            ci_low=ci["low"], ci_high=ci["high"], ci_half=ci["half"], ci_note=ci["note"],
            ci_clipped=ci["clipped"]))
        per_seed[id(g)] = _by_seed(rs)
    standards = {g.base: g for g in comp.groups if g.method == "standard" and id(g) in per_seed}
    for g, row in zip([g for g in comp.groups if id(g) in per_seed], comp.accuracy):
        base = standards.get(g.base)
        if base is not None and base is not g:
            row.vs_standard = Difference(**stats.bounded_difference(per_seed[id(g)], per_seed[id(base)]))


def _trained_notes(comp: Comparison) -> list[str]:
    """For a row whose runs change the weights at the last epoch's end (naive noise adds noise):
    its accuracy is final.pt's, where the sweeps start, and the trained weights' before that change."""
    out = []
    for g in comp.groups:
        pairs = [(r.final_test_acc, r.final_trained_test_acc) for r in g.runs
                 if r.final_test_acc is not None and r.final_trained_test_acc is not None]
        if pairs and any(a != b for a, b in pairs):
            change = spec.method(g.method).epoch_end_label if g.method in spec.method_names() else "change"
            final, trained = (100 * sum(p[i] for p in pairs) / len(pairs) for i in (0, 1))
            name = g.method + (f" ({g.label})" if g.label else "")
            out.append(f"{name}: {final:.2f} % is of final.pt, after the last epoch's {change} (the sweeps start "
                       f"there); the trained weights before it: {trained:.2f} % (mean of {len(pairs)} run"
                       f"{'s' if len(pairs) != 1 else ''})")
    return out


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
        others = [e.gpu_others for r in g.runs for e in rows_of[r.id] if e.gpu_others is not None]
        epochs = g.settings.get("epochs") or g.runs[0].epochs
        med = statistics.median(secs) if secs else None
        est = cost.estimate([t for r in g.runs for t in cost.epoch_times(r.method, r.config, epochs, rows_of[r.id])],
                            cost.schedule(g.method, g.runs[0].config, epochs))
        rows[id(g)] = TimingRow(
            method=g.method, group=g.label, device=g.settings.get("device") or g.runs[0].device, epochs=epochs,
            n=len(g.runs), train_seconds=sum(r.train_seconds for r in g.runs) / len(g.runs), epoch_median=med,
            epoch_min=min(secs) if secs else None, epoch_max=max(secs) if secs else None,
            # the cost estimate (cost.py: median epoch per cost class x its epochs); the name predates it
            median_time=est.seconds if est is not None else None, cost=est.to_dict() if est else None,
            load_avg=sum(loads) / len(loads) if loads else None,
            gpu_others=sum(others) / len(others) if others else None)
    standards = {g.base: rows[id(g)] for g in comp.groups if g.method == "standard"}
    for g in comp.groups:
        row, base = rows[id(g)], standards.get(g.base)
        if base is None:
            row.ratio_note = "no standard run with the same settings"
        else:
            both = row.median_time is not None and base.median_time is not None
            num, den = (row.median_time, base.median_time) if both else (row.train_seconds, base.train_seconds)
            row.ratio = num / den if den else None
            la, lb = row.load_avg, base.load_avg
            if la is not None and lb is not None and max(la + 1, lb + 1) / min(la + 1, lb + 1) > LOAD_FACTOR:
                row.load_flag = True
                row.ratio_note = f"load differed: {la:.1f} vs {lb:.1f} for standard"
        comp.timing.append(row)
    differed = any(r.load_flag for r in comp.timing)
    flag_busy(comp.timing, {id(rows[id(g)]): g.runs for g in comp.groups}, comp.notes)
    if differed:
        comp.notes.append(f"! time ratio whose runs' mean load averages differ over {LOAD_FACTOR:g}x "
                          "((L1+1)/(L2+1)): retime on a quiet machine")


# ------------------------------------------------------------ evaluations
def sweep_keys(s: evalspec.EvalSpec) -> tuple[str, ...]:
    """The stored config items that must match for two runs' evaluations to be pooled."""
    return (*(o.name for o in s.options), *MEASURED_ON, *s.records)


def sweep_key(s: evalspec.EvalSpec, ev: Evaluation) -> tuple:
    cfg = {**(ev.config or {}), **s.identity(ev.config or {})}
    if "dataset" in cfg:
        cfg["dataset"] = data_kind(cfg["dataset"])
    cfg.setdefault("precision", "fp32")  # stored before evaluations recorded their precision: fp32
    if s.legacy is not None:  # e.g. GPU sweeps before noise came from a CPU generator drew other numbers
        cfg.update(s.legacy(ev.config, device_kind(ev.device)))
    return _frozen({k: cfg.get(k) for k in sweep_keys(s)})


def _sweep_rows(comp: Comparison, store: Store, s: evalspec.EvalSpec, variant: str | None):
    """(group, label, sweep settings, [(run, evaluation)]) per group and matching sweep settings."""
    keys = sweep_keys(s)
    rows = []
    for g in comp.groups:
        by: dict[tuple, list] = {}
        for r in g.runs:
            ev = latest_evaluation(store, r.id, s.name, variant)
            if ev is not None:
                by.setdefault(sweep_key(s, ev), []).append((r, ev))
        rows += [(g, dict(k), evs) for k, evs in by.items()]
    sweep_diff = [k for k in keys if len({repr(t.get(k)) for _, t, _ in rows}) > 1]
    if len(rows) > len({id(g) for g, _, _ in rows}) or sweep_diff:
        if rows:
            comp.mixed = True
            comp.notes.append(f"{s.name} sweeps with different settings: separate rows")
    out = []
    for g, sw, evs in rows:
        # name what splits a group, and the trials/targets when rows differ in them (the grid shows as columns)
        own = [k for k in keys if len({repr(t.get(k)) for h, t, _ in rows if h is g}) > 1]
        shown = [k for k in keys if k in own or (k in sweep_diff and k in ("trials", "targets"))]
        extra = ", ".join(_setting_text(k, sw[k]) for k in shown)
        label = ", ".join(p for p in (g.label, extra) if p)
        out.append((g, label, sw, evs))
    return out


def _pool(s: evalspec.EvalSpec, evs: list, points: dict[int, list]) -> dict:
    """Every run's points (``points`` by evaluation id) pooled per swept value (per metric,
    for per-run scalars)."""
    per: dict[Any, list[float]] = {}
    have: dict[Any, set[int]] = {}
    for r, ev in evs:
        for p in points[ev.id]:
            k = s.param.key(p.param) if s.param else _metric_name(s, p.param)
            per.setdefault(k, []).append(p.accuracy)
            have.setdefault(k, set()).add(r.id)
    pts = {}
    for k in per:
        mean, std = mean_std(per[k])
        pts[k] = Point(mean=mean, std=std, min=min(per[k]), n=len(per[k]), runs=len(have[k]),
                       partial=len(have[k]) < len(evs), shown=s.point_stats)
    if s.param is None:
        order = [m.name for m in s.metrics]
        return {k: pts[k] for k in sorted(pts, key=lambda k: order.index(k) if k in order else len(order))}
    return dict(sorted(pts.items(), reverse=s.param.descending))


def _per_run(s: evalspec.EvalSpec, evs: list, points: dict[int, list], pooled: dict, row: SweepRow) -> None:
    """Each run's own numbers (EvalSpec.run_summary) over the values every run of the row has,
    with its training seed and its evaluation's seed (same seed: the same noise draws), and its
    own mean per value."""
    for r, ev in evs:
        one = _pool(s, [(r, ev)], {ev.id: [p for p in points[ev.id] if not _partial(s, p, pooled)]})
        row.per_run[r.id] = {"seed": r.seed, "eval_seed": ev.seed, **s.run_summary(one, ev.clean_acc)}
        row.run_points[r.id] = {k: p.mean for k, p in one.items()}


def _partial(s: evalspec.EvalSpec, p, pooled: dict) -> bool:
    k = s.param.key(p.param) if s.param else _metric_name(s, p.param)
    return k not in pooled or pooled[k].partial


def _over_seeds(s: evalspec.EvalSpec, row: SweepRow) -> dict[str, dict]:
    """Per metric of the row's runs: stats.over_seeds within the metric's bounds."""
    metrics = list(dict.fromkeys(k for v in row.per_run.values() for k in v if k not in ("seed", "eval_seed")))
    out = {}
    for m in metrics:
        lo, hi = s.bounds(m)
        out[m] = {**stats.over_seeds(_by_seed_value(row, m), lo, hi), "vs_standard": None}
    return out


def _by_seed_value(row: SweepRow, metric: str) -> dict[int, Any]:
    """{training seed: the run's value} (the mean where a seed has two runs with numbers)."""
    by: dict[int, list] = {}
    for v in row.per_run.values():
        by.setdefault(v["seed"], []).append(v.get(metric))
    return {seed: (sum(vs) / len(vs) if all(isinstance(x, (int, float)) for x in vs) else vs[0])
            for seed, vs in by.items()}


def _paired(s: evalspec.EvalSpec, rows: list[tuple[SweepRow, tuple]]) -> None:
    """Each row's metrics minus those of the standard row with the same settings (method options
    aside) and the same sweep, paired by training seed; the note says when the paired runs' noise
    draws differ (other evaluation seeds)."""
    standards = {(base, _frozen(r.sweep)): r for r, base in rows if r.method == "standard"}
    for r, base in rows:
        std = standards.get((base, _frozen(r.sweep)))
        if std is None or std is r:
            continue
        mine, theirs = ({v["seed"]: v["eval_seed"] for v in x.per_run.values()} for x in (r, std))
        same_draws = all(mine[k] == theirs[k] for k in mine.keys() & theirs.keys())
        for m, res in r.over_seeds.items():
            if m not in std.over_seeds:
                continue
            lo, hi = s.bounds(m)
            span = hi - lo if math.isfinite(hi - lo) else math.inf
            d = stats.paired_difference(_by_seed_value(r, m), _by_seed_value(std, m), -span, span)
            if s.seeded and not same_draws:
                d["note"] = "; ".join(x for x in (d["note"], "different noise draws (evaluation seeds)") if x)
            res["vs_standard"] = d


def _other_variants(comp: Comparison, store: Store, s: evalspec.EvalSpec, variant: str | None) -> None:
    """A note when the runs have sweeps of ``s``, but none of the variant shown (e.g. only
    ``--drift raw`` PCM sweeps): which ones are stored and how to show them."""
    stored = {s.variant_of(ev.config or {}) for r in comp.runs
              for ev in store.evaluations(r.id, s.name, completed_only=True)} - {variant}
    if stored:
        others = sorted(str(v) for v in stored)
        comp.table(s.name).other_variants = others
        comp.notes.append(f"{s.name}: no {s.variant} {variant} sweeps; {' and '.join(others)} ones are stored "
                          f"(show them with --variant {s.name}={others[0]})")


def _metric_name(s: evalspec.EvalSpec, index: float) -> str:
    i = int(round(index))
    return s.metrics[i].name if 0 <= i < len(s.metrics) else f"metric {i}"


def _sweep(comp: Comparison, store: Store, s: evalspec.EvalSpec, variant: str | None) -> None:
    table = comp.table(s.name)
    based = []
    for g, label, sweep, evs in _sweep_rows(comp, store, s, variant):
        points = {ev.id: store.points(ev.id) for _, ev in evs}
        pts = _pool(s, evs, points)
        cleans = [ev.clean_acc for _, ev in evs if ev.clean_acc is not None]
        clean = mean_std(cleans)[0] if cleans else None
        row = SweepRow(method=g.method, group=label, runs=len(evs), sweep=sweep, run_ids=[r.id for r, _ in evs],
                       points=pts, clean=clean, clean_key=s.clean.key if s.clean else None)
        row.summary = s.summarize(pts, clean) if s.summarize else {}
        _per_run(s, evs, points, pts, row)
        row.over_seeds = _over_seeds(s, row)
        table.rows.append(row)
        based.append((row, g.base))
    _paired(s, based)
    if not table.rows and s.variant is not None:
        _other_variants(comp, store, s, variant)
    if table.rows:
        table.variant = variant
        table.grid = sorted({k for r in table.rows for k in r.points}, reverse=bool(s.param and s.param.descending)) \
            if s.param else [m.name for m in s.metrics]
        if any(p.partial for r in table.rows for p in r.points.values()):
            what = s.param.noun if s.param else "metric"
            comp.notes.append(f"* a {what} that only some runs of a row have (n runs shown; left out of figures)")


__all__ = ["LOAD_FACTOR", "Comparison", "Group", "compare", "data_kind", "device_type", "group_runs",
           "latest_evaluation", "mean_std", "method_order", "parse_variants", "point_summary", "run_summary", "select_runs", "settings",
           "settings_text", "study_run_ids", "sweep_key", "sweep_keys"]
