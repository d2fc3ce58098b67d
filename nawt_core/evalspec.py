"""What an evaluation (a stress test) is, without torch: the registry every screen iterates.

An evaluation is an ``EvalSpec`` (name, help, options with defaults, bounds and
help, the swept parameter with its label, unit and axis scale, the metrics and
summaries with whether higher is better, the grid per study preset, and hints
for its tables and figures) and an implementation, the torch side that
measures (``sweeps.WeightStress`` for anything that perturbs the weights).
``nawt eval <name>``, ``nawt study``, ``nawt compare`` (and ``--json``),
``nawt export``, ``nawt plot``, ``nawt report`` and the TUI (evaluate form,
compare tabs, run detail, help) read them from here; none names a kind.

The built-in evaluations live one per module in ``nawt_core/evals/`` (each
module's ``SPEC``), their torch code next to them (``perturb.py``,
``quantize.py``). A new one is two files, or a plugin (loaded through
``NAWT_PLUGINS`` like the methods, see spec.load_plugins):

    from nawt_core.evalspec import EvalSpec, Param, register_evaluation
    from nawt_core.options import Option
    register_evaluation(EvalSpec(
        "dropout", "Robustness to dropped weights", "Accuracy with a fraction of the weights zeroed; stored.",
        options=(Option("fractions", list, [0.0, 0.01, 0.1], "fractions of weights zeroed", low=0, high=1),
                 Option("trials", int, 3, "draws per fraction", low=1)),
        param=Param("fractions", "fraction", "fraction of weights zeroed", scale="linear"),
        presets={"smoke": {"fractions": [0.0, 0.1], "trials": 1}}),
        impl="mypkg.dropout:Dropout")  # a sweeps.WeightStress subclass, imported when it runs

``impl`` is the class or ``"module:Class"`` (imported on first use, so that
registering stays torch-free and ``nawt --help`` fast).

Stored form: one ``Evaluation`` row (kind = the name, config = the options as
checked plus what the run measured on: test images, dataset, precision) with
an ``EvalPoint`` per (parameter value, trial) holding accuracy and loss. An
evaluation without a swept parameter (``param=None``: per-run scalars such as a
Hessian trace) stores each metric as points with ``param`` = the metric's index
in ``metrics`` and ``accuracy`` = its value, one per repeat (``trial``).
"""

from __future__ import annotations

import importlib
import math
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import NawtError
from .options import UNSET, Option

PRESET_NAMES = ("paper", "cpu", "quick", "smoke")
# How a weight stress evaluates its perturbed copies (EvalSpec.batchable; stress.Perturber)
STRATEGIES = ("auto", "loop", "batched")


def check_strategy(strategy: str) -> None:
    if strategy not in STRATEGIES:
        raise NawtError(f"unknown sweep strategy {strategy!r}; choose auto, loop or batched")


@dataclass(frozen=True)
class Param:
    """The parameter an evaluation sweeps: one stored point per value (and trial)."""

    name: str  # the option holding the grid (its config key), e.g. "strengths"; the JSON key of the grid
    column: str  # one value, as an export column: "strength"
    label: str  # the figures' axis: "weight bits (symmetric uniform)"
    short: str = ""  # the TUI's axis [default: column]
    unit: str = ""  # e.g. "s" for times, "" for fractions
    scale: str = "linear"  # or "log" (rates, times): figures draw a log axis
    integer: bool = False  # whole values (bit widths)
    descending: bool = False  # tables list the largest first (bits: 8, 6, 4); figures invert the axis
    header: str = "{:g}"  # a table column per value, e.g. "s={:g}" or "{}-bit"
    identity: float | None = None  # the value that leaves the model as it is (one trial is enough)
    noun: str = ""  # one value in a sentence: "bit width" [default: column]
    text: Callable[[float], str] | None = None  # a column head instead of ``header`` (PCM: 1h, 30d, 1y)

    def __post_init__(self) -> None:
        object.__setattr__(self, "noun", self.noun or self.column)
        object.__setattr__(self, "short", self.short or self.column)

    def key(self, value: float) -> float | int:
        return int(round(value)) if self.integer else float(value)

    def head(self, value: float) -> str:
        return self.text(value) if self.text is not None else self.header.format(value)

    def value_text(self, value: float) -> str:
        """One value in a column of values (``nawt eval``'s rows): 1h for a PCM time, else 0.02."""
        return self.text(value) if self.text is not None else f"{value:g}"

    def json_key(self, value: float) -> str:
        return str(value) if self.integer else repr(float(value))


@dataclass(frozen=True)
class Metric:
    """A number an evaluation reports: per point (accuracy) or per row (a summary such as the AUC)."""

    name: str  # the key in compare's rows and `compare --json`, e.g. "auc"
    header: str  # a CLI column ("≤1 pt\nfrom")
    title: str = ""  # a report / TUI column ("lowest within 1 pt") [default: header]
    higher_is_better: bool = True
    text: Callable[[Any], str] | None = None  # the row -> its cell [default: a percentage of row[name]]
    unit: str = "%"
    bounds: tuple[float, float] | None = None  # what it can be (intervals over seeds are cut there)


@dataclass(frozen=True)
class Clean:
    """An evaluation whose tables show the unstressed accuracy of its rows (mean of Evaluation.clean_acc)."""

    key: str  # in compare's rows and `compare --json`: "fp"
    export: str  # the export column: "fp_acc"
    header: str  # the CLI column: "unquan-\ntized"
    title: str  # report and TUI: "unquantized"
    line: str  # the figure's legend for its dotted line: "dotted: unquantized accuracy"


@dataclass(frozen=True)
class Texts:
    """How tables and figures name an evaluation. ``{variant}`` is the variant option's value
    (e.g. the perturbation mode); a template with it loses " ({variant})" when there is none."""

    section: str  # the report's heading: "Robustness to quantization"
    figure: str  # the report's figure caption: "Accuracy with quantized weights"
    panel: str  # a figure panel's title: "Weight perturbation ({variant})"
    table: str  # the CLI table's title
    report: str  # the report table's title
    tab: str  # the TUI compare tab: "Quantization"
    tui_plot: str  # the TUI plot's title: "accuracy % vs quantization"
    choice: str  # the evaluate form's choice: "weight-perturbation robustness"
    setting: str  # the report's settings row: "weight perturbation"


@dataclass(frozen=True)
class EvalSpec:
    """An evaluation as the CLI, the store, the tables, the figures and the TUI see it."""

    name: str  # CLI name (`nawt eval NAME`) and Evaluation.kind
    title: str  # one line: what it measures
    help: str  # `nawt eval NAME --help`
    options: tuple[Option, ...] = ()  # stored in the evaluation's config, in this order
    param: Param | None = None  # None: no sweep, per-run scalars (see the module docstring)
    metrics: tuple[Metric, ...] = ()  # param None: the scalars, in stored order
    summaries: tuple[Metric, ...] = ()  # per comparison row, from its pooled points (see ``summarize``)
    point_stats: tuple[str, ...] = ("mean", "std", "min")  # what a pooled point shows (of n, runs, partial)
    presets: dict[str, dict[str, Any]] = field(default_factory=dict)  # study preset -> options
    variant: str | None = None  # an option whose values are never pooled: compare shows one at a time
    seeded: bool = False  # `--seed`: Evaluation.seed picks the random draws
    batchable: bool = False  # `--strategy auto|loop|batched` (sweeps.Perturber's engines)
    order: int = 100  # display order among the evaluations
    short: str = ""  # the TUI's widget ids (rob-table) [default: name]
    clean: Clean | None = None
    texts: Texts | None = None  # [default: from title and name]
    records: dict[str, Any] = field(default_factory=dict)  # items its implementation adds to every stored
    # config (e.g. the noise source); they keep evaluations apart like the options do
    # hooks (torch-free): check and normalise options; legacy config items; a row's summaries;
    # the one-line description of a sweep's settings; the x axis's label for a variant
    check: Callable[[dict], dict] | None = None
    legacy: Callable[[dict, str], dict] | None = None  # (stored config, device kind) -> items to assume
    summarize: Callable[[dict, Any], dict] | None = None  # (points, clean) -> {summary: value}
    # (one run's points, its clean accuracy) -> {metric: number, or why there is none}: summarized
    # over seeds with a paired difference to standard [default: the numeric ``summaries``; the metrics]
    per_run: Callable[[dict, Any], dict] | None = None
    describe: Callable[[dict], str] | None = None
    axis: Callable[[str | None], str] | None = None
    caption: tuple[str, str, str] | None = None  # (config key, "{} noise trials per …", "noise trials")
    label_option: str | None = None  # shown beside the name in the run detail: "robustness (absolute)"
    figure: str = "band"  # band (mean ± std, clipped at the worst trial) or errorbar (± std over runs)
    tui_digits: int = 2  # decimals of a TUI cell (1 fits six strengths at 80 columns)

    # ------------------------------------------------------------------ options
    def option(self, name: str) -> Option:
        for o in self.options:
            if o.name == name:
                return o
        raise KeyError(name)

    @property
    def ident(self) -> str:
        return self.short or self.name

    @property
    def text(self) -> Texts:
        if self.texts is not None:
            return self.texts
        t = self.title
        return Texts(section=t, figure=t, panel=t, table=f"{t}: accuracy (%), mean ± std", report=t,
                     tab=self.name, tui_plot=f"accuracy % vs {self.name}", choice=self.name, setting=self.name)

    def defaults(self) -> dict[str, Any]:
        return {o.name: o.default for o in self.options}

    def checked(self, options: dict[str, Any]) -> dict[str, Any]:
        """The options to record, in order, defaults filled in and checked (one error line if bad)."""
        unknown = [k for k in options if k not in {o.name for o in self.options}]
        if unknown:
            raise NawtError(f"{self.name} has no option {unknown[0]!r}")
        values = {o.name: options[o.name] if options.get(o.name) is not None else o.default for o in self.options}
        if self.check is not None:  # the spec's own messages first; then every option's bounds
            values = self.check(values)
            self._check_bounds(values)
            return values
        for o in self.options:
            if (why := o.check(values[o.name])) is not None:
                raise NawtError(why)
            if o.kind is list and values[o.name] is not None:
                values[o.name] = [o.item(v) for v in values[o.name]]
        if self.param is not None:  # the grid: each value once, in table order
            grid = values[self.param.name]
            if not grid:
                raise NawtError(f"give at least one {self.param.noun}")
            values[self.param.name] = sorted(set(grid), reverse=self.param.descending)
        return values

    def _check_bounds(self, values: dict[str, Any]) -> None:
        """Every option's own bounds on what a spec's ``check`` returned (an option it passes on,
        such as ``--recalibrate-bn``, is refused here, before anything is recorded)."""
        for o in self.options:
            if values.get(o.name) is not None and (why := o.check(values[o.name])) is not None:
                raise NawtError(why)

    def identity(self, config: dict[str, Any]) -> dict[str, Any]:
        """The options that make two stored evaluations the same sweep (normalised; lists as sets)."""
        out = {}
        for o in self.options:
            v = config.get(o.name)
            if v is None and o.assumed is not UNSET:
                v = o.assumed
            if isinstance(v, (list, tuple)):
                v = sorted(set(map(o.item, v)), reverse=self.param is not None and o.name == self.param.name
                           and self.param.descending)
            out[o.name] = v
        return out

    def variant_of(self, config: dict[str, Any]) -> str | None:
        if self.variant is None:
            return None
        v = (config or {}).get(self.variant)
        return v if v is not None else self.option(self.variant).default

    def run_summary(self, points: dict, clean: Any) -> dict[str, Any]:
        """One run's numbers to summarize over seeds (see ``per_run``): {metric: value or reason}."""
        if self.per_run is not None:
            return self.per_run(points, clean)
        if self.param is None:
            return {k: p.mean for k, p in points.items()}
        out = self.summarize(points, clean) if self.summarize else {}
        return {m.name: out.get(m.name) for m in self.summaries
                if out.get(m.name) is None or isinstance(out.get(m.name), (int, float))}

    def bounds(self, metric: str) -> tuple[float, float]:
        """What a per-run metric can be: its Metric's bounds, else stats.BOUNDS by the name
        before any "@" (``drop@4``: a drop), else unbounded."""
        from .stats import BOUNDS

        for m in (*self.summaries, *self.metrics):
            if m.name == metric and m.bounds is not None:
                return m.bounds
        return BOUNDS.get(metric, BOUNDS.get(metric.split("@")[0], (-math.inf, math.inf)))

    def point_scale(self, key) -> float:
        """What a stored point's mean is multiplied by when shown: 100 for an accuracy (a swept
        value's point), 1 for a metric stored as a point in its own unit (an evaluation without a
        swept parameter stores its metrics so: sharpness's trace is not a percentage)."""
        if self.param is not None:
            return 100.0
        return next((100.0 if m.unit == "%" else 1.0 for m in self.metrics if m.name == key), 100.0)

    def metric_title(self, metric: str) -> str:
        """A per-run metric's column: its Metric's title, or ``drop 4-bit`` for ``drop@4``."""
        for m in (*self.summaries, *self.metrics):
            if m.name == metric:
                return (m.title or m.header).replace("\n", " ")
        name, _, value = metric.partition("@")
        if value and self.param is not None:
            return f"{name} {self.param.head(float(value) if not self.param.integer else int(value))}"
        return metric

    def titled(self, template: str, variant: str | None) -> str:
        """A Texts template with the variant, or without its " ({variant})" when there is none."""
        return template.replace(" ({variant})", "").replace("{variant}", "") if variant is None else \
            template.replace("{variant}", str(variant))

    def grid(self, config: dict[str, Any]) -> list:
        """The swept values of a checked config, in table order."""
        if self.param is None:
            return []
        return sorted(set(config.get(self.param.name) or []), reverse=self.param.descending)


_SPECS: dict[str, EvalSpec] = {}
_IMPLS: dict[str, Any] = {}  # name -> the implementation class, or "module:Class" until first used
_BUILTINS_LOADED = False
_BUILTIN: set[str] = set()  # the evaluations nawt ships (nawt_core/evals), once loaded


def register_evaluation(spec: EvalSpec, impl: Any = None) -> EvalSpec:
    """The public hook: make ``spec`` (and its implementation) known everywhere."""
    _load_builtins()  # first: a plugin loaded early must not take a built-in's name
    if spec.name in _BUILTIN:
        raise NawtError(f"evaluation {spec.name!r} is built into nawt; a plugin must use another name")
    names = [o.name for o in spec.options]
    if spec.param is not None and spec.param.name not in names:
        raise NawtError(f"evaluation {spec.name!r}: its swept parameter {spec.param.name!r} is not one of its options")
    if spec.variant is not None and spec.variant not in names:
        raise NawtError(f"evaluation {spec.name!r}: its variant {spec.variant!r} is not one of its options")
    clash = [s.name for s in _SPECS.values() if s.name != spec.name and _json_keys(s) & _json_keys(spec)]
    if clash:
        raise NawtError(f"evaluation {spec.name!r} would share `nawt compare --json` keys with {clash[0]!r}")
    _SPECS[spec.name] = spec
    if impl is not None:
        _IMPLS[spec.name] = impl
    return spec


def _json_keys(spec: EvalSpec) -> set[str]:
    keys = {spec.name}
    if spec.param is not None:
        keys.add(spec.param.name)
    if spec.variant is not None:
        keys.add(f"{spec.name}_{spec.variant}")
    return keys


def unregister_evaluation(name: str) -> None:
    """Forget an evaluation (tests registering a throw-away one)."""
    _SPECS.pop(name, None)
    _IMPLS.pop(name, None)


def _load_builtins() -> None:
    """The modules of nawt_core/evals register the built-in evaluations (each holds a SPEC)."""
    global _BUILTINS_LOADED
    if _BUILTINS_LOADED:
        return
    _BUILTINS_LOADED = True
    from . import evals

    found = []
    for info in pkgutil.iter_modules(evals.__path__):
        mod = importlib.import_module(f"{evals.__name__}.{info.name}")
        if hasattr(mod, "SPEC"):
            found.append((mod.SPEC, getattr(mod, "IMPL", None)))
    for spec, impl in sorted(found, key=lambda p: (p[0].order, p[0].name)):
        if spec.name not in _SPECS:
            register_evaluation(spec, impl)
    _BUILTIN.update(_SPECS)


def evaluations() -> tuple[EvalSpec, ...]:
    """Every registered evaluation, in display order (by ``order``, then as registered)."""
    _load_builtins()
    return tuple(sorted(_SPECS.values(), key=lambda s: s.order))


def sweeps() -> tuple[EvalSpec, ...]:
    """The evaluations that sweep a parameter (a curve per row, a table column per value)."""
    return tuple(s for s in evaluations() if s.param is not None)


def variant_examples() -> str:
    """What ``--variant`` can show, e.g. ``pcm=compensated|raw, bitflip=all|msb``."""
    return ", ".join(f"{s.name}={'|'.join(s.option(s.variant).choices)}" for s in evaluations()
                     if s.variant is not None and s.option(s.variant).choices)


def names() -> tuple[str, ...]:
    return tuple(s.name for s in evaluations())


def evaluation(name: str) -> EvalSpec:
    _load_builtins()
    if name not in _SPECS:
        raise NawtError(f"unknown evaluation {name!r}; choose one of: {', '.join(names())}")
    return _SPECS[name]


def impl(name: str) -> Any:
    """The implementation class of evaluation ``name`` (imported now if it was named as "module:Class")."""
    evaluation(name)
    found = _IMPLS.get(name)
    if found is None:
        raise NawtError(f"evaluation {name!r} has no implementation; register it with register_evaluation(spec, impl)")
    if isinstance(found, str):
        module, _, attr = found.partition(":")
        try:
            found = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as e:
            raise NawtError(f"cannot load the implementation of evaluation {name!r} ({found}): {e}") from None
        _IMPLS[name] = found
    return found


def preset_sweeps(preset: str) -> dict[str, dict[str, Any]]:
    """The evaluations a study of ``preset`` runs, with their options (those that name the preset)."""
    return {s.name: dict(s.presets[preset]) for s in evaluations() if preset in s.presets}


def __getattr__(name: str) -> Any:
    """The built-in evaluations' vocabulary (MODES, DEFAULT_BITS, noise_source, …) by its old address."""
    if name.startswith("__"):  # the import system asks for __path__ and the like
        raise AttributeError(name)
    from . import evals

    for info in pkgutil.iter_modules(evals.__path__):
        mod = importlib.import_module(f"{evals.__name__}.{info.name}")
        if name in getattr(mod, "__all__", ()):
            return getattr(mod, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["PRESET_NAMES", "STRATEGIES", "Clean", "EvalSpec", "Metric", "Param", "Texts", "check_strategy", "evaluation", "evaluations", "impl",
           "names", "preset_sweeps", "register_evaluation", "sweeps", "unregister_evaluation", "variant_examples"]
