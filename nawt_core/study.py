"""``nawt study``: the whole comparison in one command, resumable.

For each method x seed it trains a run (skipping one already completed with
the same config key, resuming one that was interrupted), then runs every
registered evaluation that has a grid for the preset (nawt_core/evalspec.py)
on every completed run (skipping one already stored with the same settings),
through the same recorder as ``nawt eval`` (queued row, progress, log in the
run's folder), then writes every table as CSV,
the figures and the report (report.html, report.md: nawt_core/report.py) into
the study folder (default ``<data_dir>/studies/<name>/``, or
next to the database when ``--db`` names an SQLite file elsewhere).
Running the same command again after an interruption continues where it
stopped: finished runs and sweeps are found in the store, an interrupted run
resumes from its last completed epoch.

Presets
- ``paper``: the full recipe, 200 epochs on all 50,000 images, all five methods,
  3 seeds each (so differences come with confidence intervals).
- ``cpu``: sized for a 2-core CPU yet on all the data: 10 epochs on all 50,000
  images, one seed (about 3 hours on a 2-core AMD EPYC: 1.3 h of training, the
  rest the six evaluations; README, worked example).
- ``quick``: 30 epochs on all images (a GPU-hour scale look).
- ``smoke``: a few minutes on 2 CPU cores: 3 epochs on 8,000 training and
  1,000 test images of CIFAR-10.
- ``tradeoff`` (GPU) and ``tradeoff-cpu`` (2 CPU cores, a subset): standard, naive
  noise, noise injection and SAM with each method's strength varied (``vary``: one
  row per setting, e.g. ``sam:rho=0.1``), 3 seeds, for the accuracy–robustness
  frontier (nawt_core/frontier.py); robustness and quantization only.
``--vary METHOD.OPTION=v1,v2`` (vary.py) does the same for any preset.
Each evaluation's grid per preset is in its spec (``EvalSpec.presets``).

``run_study`` returns a ``StudyResult`` whose ``status`` says whether the study
completed or stopped with runs unfinished (interrupted, or only queued for
workers); the same call continues it.

Every preset trains on CIFAR-10 unless ``dataset="synthetic"`` is asked for: a
study whose CIFAR-10 cannot be found (or downloaded) refuses before it records
or trains anything (``require_dataset``), like ``nawt train``.
"""

from __future__ import annotations

import contextlib
import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ContextManager

from . import bounds, evalspec, spec, vary
from .claims import StudyHeart, hold_study, release_study
from .compare import Comparison, compare
from .config import TrainConfig
from .config import check_name as _check_name
from .errors import NawtError
from .export import check_writable, export_all
from .status import Status
from .store import Run, Store, effective_status, utcnow

# the training of each preset; its evaluations' grids are in their specs (EvalSpec.presets)
# the trade-off presets vary each method's strength (vary.py): one row per setting, and their methods
TRADEOFF_METHODS = ("standard", "naive-noise", "noise-injection", "sam")
PRESETS: dict[str, dict[str, Any]] = {
    "paper": {"train": {"epochs": 200, "train_subset": None, "test_subset": None}, "seeds": 3},
    "cpu": {"train": {"epochs": 10, "train_subset": None, "test_subset": None}, "seeds": 1},
    "quick": {"train": {"epochs": 30, "train_subset": None, "test_subset": None}, "seeds": 1},
    "smoke": {"train": {"epochs": 3, "train_subset": 8000, "test_subset": 1000}, "seeds": 1},
    # GPU: 12 settings x 3 seeds at the quick preset's 30 epochs on all the data
    "tradeoff": {"train": {"epochs": 30, "train_subset": None, "test_subset": None}, "seeds": 3,
                 "methods": TRADEOFF_METHODS,
                 "vary": ("naive-noise.noise-sigma=0.005,0.01,0.02,0.05", "sam.rho=0.02,0.05,0.1,0.2",
                          "noise-injection.noise-eta=0.02,0.05,0.1")},
    # 2 CPU cores: 10 settings x 3 seeds, 10 epochs on the first 10,000 training and 2,000 test images
    # (one seed took 34 minutes on a 2-core AMD EPYC, so about 1.7 hours for the three)
    "tradeoff-cpu": {"train": {"epochs": 10, "train_subset": 10000, "test_subset": 2000}, "seeds": 3,
                     "methods": TRADEOFF_METHODS,
                     "vary": ("naive-noise.noise-sigma=0.005,0.01,0.02,0.05", "sam.rho=0.05,0.1",
                              "noise-injection.noise-eta=0.02,0.05,0.1")},
}
# a context manager per evaluation (its label) that yields show(done, total): a progress bar
ProgressFactory = Callable[[str], ContextManager[Callable[[int, int], None]]]


@dataclass
class StudyResult:
    name: str
    out_dir: Path
    run_ids: list[int]
    trained: list[int] = field(default_factory=list)  # runs trained or resumed by this call
    skipped: list[int] = field(default_factory=list)  # runs found completed
    failed: list[int] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    comparison: Comparison | None = None
    dataset: str = ""
    status: str = Status.RUNNING  # completed (tables written), or interrupted: runs not finished
    unfinished: list[int] = field(default_factory=list)  # runs queued or interrupted, not trained yet

    @property
    def finished(self) -> bool:
        return self.status != Status.INTERRUPTED


def check_name(name: str) -> str:
    """A study name is also a folder name: refused before anything is opened or made."""
    return _check_name(name, "study name")


def require_dataset(dataset: str, data_dir, *, hint: str = " (or name its folder with --cifar-dir)") -> None:
    """Refuses a CIFAR-10 study whose data is neither in ``data_dir`` nor
    downloadable (NAWT_OFFLINE=1 skips the download), naming the folder."""
    if dataset != "cifar10":
        return
    from .data import ensure_cifar10  # torch is imported by data; the study trains anyway

    try:
        ensure_cifar10(Path(data_dir))
    except NawtError:
        why = "NAWT_OFFLINE is set" if os.environ.get("NAWT_OFFLINE") else "and it could not be downloaded"
        raise NawtError(f"CIFAR-10 is not in {data_dir} ({why}); put the 'cifar-10-batches-py' folder there"
                        f"{hint}, or pass --dataset synthetic for a study on synthetic data; nothing was trained"
                        ) from None


_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def method_entry(text: str) -> tuple[str, dict[str, Any]]:
    """A study row: ``METHOD`` or ``METHOD:OPTION=VALUE[:OPTION=VALUE]`` with the method's own
    options (spec.py; dashes or underscores; lists as 0/0.025/0.05) or a training option every
    method has (vary.COMMON: weight-decay, lr, momentum, batch-size), e.g.
    ``naive-noise:noise-last-epoch=false``: so one study can train both variants of a method."""
    name, *parts = text.strip().split(":")
    m = spec.method(name)  # unknown: NawtError naming the registered methods
    out: dict[str, Any] = {}
    for part in parts:
        key, eq, raw = part.partition("=")
        key = key.strip().replace("-", "_")
        if key in out:
            raise NawtError(f"study row {text!r}: {key.replace('_', '-')} is given twice")
        if eq and key in vary.COMMON:
            out[key] = vary.value(key, raw, f"study row {text!r}")
            continue
        if not eq or key not in m.options:
            raise NawtError(f"study row {text!r}: expected {name}:OPTION=VALUE with one of its options "
                            f"({', '.join(m.options) or 'it has none'}) or "
                            f"{', '.join(c.replace('_', '-') for c in vary.COMMON)}")
        out[key] = _option_value(spec.OPTIONS[key], raw.strip(), text)
    return name, out


def _option_value(o: spec.Option, raw: str, text: str) -> Any:
    if o.kind is bool and raw.lower() in _TRUE + _FALSE:
        return raw.lower() in _TRUE
    try:
        if o.kind is list:
            return [float(v) for v in raw.split("/") if v]
        if o.kind in (int, float):
            return o.kind(raw)
    except ValueError:
        pass
    else:
        if o.kind is str:
            return raw
    raise NawtError(f"study row {text!r}: {o.title} must be "
                    f"{'true or false' if o.kind is bool else 'numbers like 0/0.05' if o.kind is list else o.kind.__name__}"
                    f" (got {raw!r})")


def _entry_suffix(overrides: dict[str, Any]) -> str:
    """The part of a run name that tells a variant apart: -no-noise-last-epoch, -rho0.1."""
    parts = []
    for k, v in overrides.items():
        flag = k.replace("_", "-")
        if isinstance(v, bool):
            parts.append(flag if v else f"no-{flag}")
        else:
            parts.append(flag + ("/".join(f"{x:g}" for x in v) if isinstance(v, list) else f"{v:g}"
                                 if isinstance(v, float) else str(v)))
    return "".join(f"-{p}" for p in parts)


def rows(preset: str, methods: list[str] | None = None, varies: list[str] | None = None) -> list[str]:
    """The study's rows (``sam:rho=0.1``): the methods asked for (default: the preset's, else every
    method) with the preset's ``--vary`` of those methods and the ones given (vary.expand; a
    given one replaces the preset's of the same method and option)."""
    p = PRESETS[preset]
    base = list(dict.fromkeys(methods or p.get("methods") or spec.method_names()))
    names = {r.split(":", 1)[0].strip() for r in base}
    given = [vary.parse(v) for v in varies or ()]
    mine = {(t, o) for t, o, _ in given}
    from_preset = [v for v in p.get("vary", ()) if (t := vary.parse(v))[0] in names and (t[0], t[1]) not in mine]
    return vary.expand(base, from_preset + list(varies or ()))


def plan(preset: str, *, methods: list[str] | None = None, seeds: int | None = None, data_dir="data",
         device: str = "auto", dataset: str | None = None, overrides: dict | None = None,
         name: str | None = None, precision: str = "auto",
         varies: list[str] | None = None) -> tuple[list[TrainConfig], dict]:
    """The configs a study trains and its sweep settings (validated, nothing written)."""
    if preset not in PRESETS:
        raise NawtError(f"unknown preset {preset!r}; choose one of: {', '.join(PRESETS)}")
    p = PRESETS[preset]
    entries = [method_entry(m) for m in dict.fromkeys(rows(preset, methods, varies))]
    entries.sort(key=lambda e: spec.order(e[0]))  # stable: variants of a method in the order given
    seeds = p["seeds"] if seeds is None else seeds
    bounds.whole(seeds, "seeds", 1, bounds.MAX_SEEDS)
    dataset = dataset or "cifar10"
    train = {**p["train"], **(overrides or {})}
    cfgs = []
    for m, opts in entries:
        for s in range(seeds):
            cfg = TrainConfig(method=m, seed=s, dataset=dataset, data_dir=str(data_dir), device=device,
                              precision=precision, study=name, **{**train, **opts})
            cfg.name = f"{name or preset}-{m}{_entry_suffix(opts)}-s{s}"
            cfgs.append(cfg.validate())
    keys = [c.key() for c in cfgs]
    if len(set(keys)) < len(keys):
        raise NawtError("two study rows train the same thing (a variant at its default values?); give each once")
    return cfgs, evalspec.preset_sweeps(preset)


def _pick(store: Store, cfg: TrainConfig) -> Run | None:
    """A completed run with this config key, else the latest resumable one."""
    runs = store.find_runs(cfg.key())
    done = [r for r in runs if r.status == Status.COMPLETED and r.checkpoint_final
            and store.path(r.checkpoint_final).exists()]
    if done:
        return done[-1]
    live = [r for r in runs if effective_status(r) == Status.RUNNING]
    if live:
        r = live[-1]
        raise NawtError(f"run {r.id} ({cfg.method}, seed {cfg.seed}) is training now (pid {r.pid} on {r.host}); "
                        "wait for it, or stop it, then run the study again")
    resumable = [r for r in runs if r.status in (Status.INTERRUPTED, Status.FAILED, Status.QUEUED, Status.RUNNING)]
    return resumable[-1] if resumable else None


def sweep_run(store: Store, run_id: int, sw: dict, *, device: str | None = None, data_dir="data",
              precision: str = "auto", say: Callable[[str], None] = lambda s: None,
              progress: ProgressFactory | None = None) -> None:
    """The study's evaluations (``sw``: kind -> options) of one completed run, each skipped
    when the same settings (precision and what the evaluation records, e.g. its noise source,
    included) are already stored. ``device`` None: the device family the run trained on.
    Each is recorded like `nawt eval` (recorder.py) and says its progress a quarter at a time
    (plus ``progress``'s bar when given). The study runs it for its runs; a queue worker runs
    it right after training one."""
    from .device import device_for_label, resolve_device, resolve_precision
    from .recorder import EvalRecorder
    from .sweeps import find_evaluation, sweep
    from .watch import sweep_progress

    run = store.get_run(run_id)
    if run.status != Status.COMPLETED:
        return
    device = device or device_for_label(run.device)
    sweep_precision, _ = resolve_precision(precision, resolve_device(device))
    for kind, options in sw.items():
        if kind not in evalspec.names():
            say(f"run {run_id}: evaluation {kind!r} is not registered here (a plugin not loaded?): skipped")
            continue
        s = evalspec.evaluation(kind)
        opts = dict(options)
        seed = opts.pop("seed", 0)
        config = s.checked(opts)
        key = {**config, **s.records, "precision": sweep_precision}
        if find_evaluation(store, run_id, kind, key, seed=seed if s.seeded else 0) is not None:
            continue
        say(f"run {run_id} {run.method}: {kind} sweep ({(s.describe or str)(config)})")
        given = {**config, **({"seed": seed} if s.seeded else {}), "device": device, "data_dir": data_dir,
                 "precision": precision}
        lines = sweep_progress(say, f"[run {run_id}] {kind} sweep")
        with (progress(f"run {run_id} {kind}") if progress else contextlib.nullcontext(None)) as bar, \
                EvalRecorder(store, [run_id], kind, config) as rec:
            rec.run(run_id, functools.partial(sweep, store, kind, run_id, **given), _both(bar, lines))


def _both(bar: Callable[[int, int], None] | None, lines: Callable[[int, int], None]) -> Callable[[int, int], None]:
    """A sweep's progress to its lines, and to a bar when there is one."""
    return lines if bar is None else lambda d, t: (bar(d, t), lines(d, t))


def _train_queued(store: Store, cfgs: list[TrainConfig], home, res: StudyResult, study_cfg: dict,
                  launch: Callable[[list[int]], bool], say: Callable[[str], None]) -> None:
    """Queues the study's unfinished runs (a run already queued keeps its place),
    has ``launch`` execute them, and sorts the outcome into ``res``."""
    from .queue import enqueue
    from .records import create_run

    pending = []
    for cfg in cfgs:
        run = _pick(store, cfg)
        if run is not None and run.status == Status.COMPLETED:
            say(f"run {run.id} {cfg.method} seed {cfg.seed}: already completed, skipped")
            res.skipped.append(run.id)
        else:
            run = run or create_run(store, cfg, home)
            enqueue(store, run.id)
            say(f"run {run.id} {cfg.method} seed {cfg.seed}: queued"
                + (f" (resumes from epoch {run.epoch})" if run.epoch else ""))
            pending.append(run.id)
        res.run_ids.append(run.id)
    study_cfg["run_ids"] = res.run_ids
    store.upsert_study(res.name, config=dict(study_cfg))
    stopped = launch(pending) if pending else False
    unfinished = []
    for rid in pending:
        run = store.get_run(rid)
        if run.status == Status.COMPLETED:
            res.trained.append(rid)
        elif run.status == Status.FAILED:
            say(f"run {rid} {run.method} failed: {run.error}")
            res.failed.append(rid)
        else:
            unfinished.append(rid)
    if stopped or unfinished:
        store.upsert_study(res.name, status=Status.INTERRUPTED)
        say(f"runs {', '.join(map(str, unfinished)) or '-'} not finished; run the same command again to continue")
        res.status, res.unfinished = Status.INTERRUPTED, unfinished


def run_study(store: Store, *, preset: str = "smoke", name: str | None = None, methods: list[str] | None = None,
              seeds: int | None = None, data_dir="data", out_dir=None, device: str | None = None, precision: str = "auto",
              dataset: str | None = None, overrides: dict | None = None, sweeps: dict | None = None,
              reporter_factory: Callable[[TrainConfig], Any] | None = None,
              say: Callable[[str], None] = lambda s: None, figures: bool = True,
              home=None, launch: Callable[[list[int]], bool] | None = None,
              progress: ProgressFactory | None = None, varies: list[str] | None = None) -> StudyResult:
    """Trains, sweeps and writes one study; see the module docstring.

    ``data_dir`` is where the dataset is read; ``home`` (default ``data_dir``)
    is where run folders (``<home>/runs/ID``) and the study folder
    (``<home>/studies/<name>``) are written, so a read-only dataset folder works.

    ``device`` None: new runs use auto, a resumed run its stored device (or the
    nearest this host has) and each sweep the device family its run trained on;
    a device given is used for all of them.

    ``launch`` (``--jobs N``): the runs to train are queued instead, and
    ``launch(run_ids)`` executes them (local worker processes, Ray) and says
    whether it was stopped; the workers sweep each run they finish.

    When a run stays unfinished (a training interrupted, or runs only queued for
    workers), the study is marked interrupted and the result says so
    (``status``, ``unfinished``) without sweeping or writing tables; the same
    call continues it later. ``progress``: a progress bar per evaluation."""
    # torch-using modules, imported here: plan() and the checks before it answer without torch
    from .records import create_run
    from .runner import execute

    name = check_name(name or preset)
    cfgs, sw = plan(preset, methods=methods, seeds=seeds, data_dir=data_dir, device=device or "auto", dataset=dataset,
                    overrides=overrides, name=name, precision=precision, varies=varies)
    require_dataset(cfgs[0].dataset, data_dir)
    for k, v in (sweeps or {}).items():
        sw.setdefault(k, {}).update(v)
    for cfg in cfgs:  # a run of it training in another process: refused before anything is written
        _pick(store, cfg)
    token = hold_study(store, name)  # one process per study: a second at once is refused here
    heart = StudyHeart(store, name, token)
    heart.start()
    try:
        home = Path(home) if home is not None else Path(data_dir)
        out = Path(out_dir) if out_dir else home / "studies" / name
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise NawtError(f"cannot create the study folder {out}: {e.strerror}") from None
        check_writable(out / "runs.csv")
        study_cfg = {"preset": preset, "methods": sorted({c.method for c in cfgs}, key=spec.order),
                     "seeds": len({c.seed for c in cfgs}), "dataset": cfgs[0].dataset,
                     "train": {k: getattr(cfgs[0], k) for k in ("epochs", "train_subset", "test_subset")},
                     "sweeps": sw, "run_ids": [], "rows": rows(preset, methods, varies)}
        store.upsert_study(name, preset=preset, config=study_cfg, out_dir=str(out), status=Status.RUNNING, finished_at=None)
        res = StudyResult(name=name, out_dir=out, run_ids=[], dataset=cfgs[0].dataset)

        # 1. training
        if launch is not None:
            _train_queued(store, cfgs, home, res, study_cfg, launch, say)
            if not res.finished:
                return res
        for cfg in cfgs if launch is None else ():
            run = _pick(store, cfg)
            if run is not None and run.status == Status.COMPLETED:
                say(f"run {run.id} {cfg.method} seed {cfg.seed}: already completed, skipped")
                res.skipped.append(run.id)
            else:
                if run is None:
                    run = create_run(store, cfg, home)
                    say(f"run {run.id} {cfg.method} seed {cfg.seed}: training {cfg.epochs} epochs")
                else:
                    say(f"run {run.id} {cfg.method} seed {cfg.seed}: resuming from epoch {run.epoch}")
                res.run_ids.append(run.id)
                study_cfg["run_ids"] = res.run_ids
                store.upsert_study(name, config=dict(study_cfg))
                rep = reporter_factory(cfg) if reporter_factory else None
                run = execute(store, run.id, rep, data_dir=data_dir, device=device)
                res.trained.append(run.id)
                if run.status == Status.INTERRUPTED:
                    store.upsert_study(name, status=Status.INTERRUPTED)
                    say(f"run {run.id} interrupted at epoch {run.epoch}; run the same command again to continue")
                    res.status, res.unfinished = Status.INTERRUPTED, [run.id]
                    return res
                if run.status != Status.COMPLETED:
                    say(f"run {run.id} {cfg.method} failed: {run.error}")
                    res.failed.append(run.id)
                continue
            res.run_ids.append(run.id)
            study_cfg["run_ids"] = res.run_ids
            store.upsert_study(name, config=dict(study_cfg))

        # 2. evaluations (skipped when the same settings, precision included, are already stored),
        # one kind for every run before the next: a study stopped part-way has whole tables to show
        for kind, options in sw.items():
            for rid in res.run_ids:
                sweep_run(store, rid, {kind: options}, device=device, data_dir=data_dir, precision=precision,
                          say=say, progress=progress)

        # 3. tables and figures, of the variants the study evaluated (e.g. its perturbation mode)
        variants = {k: v[evalspec.evaluation(k).variant] for k, v in sw.items() if k in evalspec.names()
                    and evalspec.evaluation(k).variant in v}
        res.comparison = compare(store, study=name, variants=variants)  # the study row lists res.run_ids
        res.files = export_all(store, out, study=name, variants=variants)
        if figures:
            from . import plots

            for kind in plots.kinds()[:-1]:
                if kind == "tradeoff" and not res.comparison.varied:  # as the report: a study that varies one
                    continue
                try:
                    res.files.append(plots.save(res.comparison, out / f"{kind}.png", kind, store))
                except NawtError as e:  # matplotlib missing, or nothing to draw: the tables are still written
                    say(f"{kind} figure skipped: {e}")
        from . import report

        try:  # report.html and report.md (with its PNGs) next to the CSVs
            written, note = report.write(store, res.comparison, home=home, figures=figures)
            res.files += written
            if note:
                say(f"report: {note}")
        except NawtError as e:  # e.g. no run completed: the tables above say so
            say(f"report skipped: {e}")
        res.status = Status.FAILED if res.failed else Status.COMPLETED
        store.upsert_study(name, status=res.status, finished_at=utcnow())
        return res
    finally:
        heart.stop()
        release_study(store, name, token)


__all__ = ["PRESETS", "ProgressFactory", "StudyResult", "check_name", "method_entry", "plan", "require_dataset", "run_study",
           "sweep_run"]
