"""`nawt eval KIND ID…`: one command per registered evaluation (nawt_core/evalspec.py), built from its spec.

Each command takes the spec's options (lists comma-separated, `--strengths 0,0.05`,
or repeated), `--seed` where the evaluation is seeded, `--strategy` where it
perturbs the weights in batches, and what every evaluation takes (device,
precision, test subset). Bad input is refused before anything is recorded;
each run's evaluation is recorded as queued at once, then run with a progress
bar and a log in the run's folder (nawt_core/recorder.py).
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from nawt_core import bounds, evalspec
from nawt_core.config import MAX_TEST, check_seed
from nawt_core.errors import NawtError
from nawt_core.hardware import check_precision
from nawt_core.options import Option

from .app import (CifarDirOpt, DataDirOpt, DbOpt, JsonOpt, PrecisionOpt, ThreadsOpt, app, check_device,
                  check_threads, console, open_store, print_json, progress_bar, use_threads)

eval_app = typer.Typer(help="Stress trained runs (" + ", ".join(evalspec.names()) + "), stored per point.",
                       no_args_is_help=True)
app.add_typer(eval_app, name="eval")

RunIds = Annotated[list[int], typer.Argument(help="run ids (see `nawt runs`)", show_default=False)]
DeviceOpt = Annotated[Optional[str], typer.Option(
    help="auto, cpu, cuda or cuda:N \\[default: the device family the run trained on]")]
TestSubsetOpt = Annotated[Optional[int], typer.Option("--test-subset", help="first N test images \\[default: the run's]")]
COMMON = ("run_ids", "seed", "strategy", "device", "precision", "test_subset", "threads", "json_out", "db",
          "data_dir", "cifar_dir")


def _typer_option(o: Option) -> inspect.Parameter:
    """A spec's option as a Typer parameter (lists as text: `0,0.05` or the option repeated)."""
    names = [o.flag, *([o.short] if o.short else [])]
    if o.kind is bool and o.default:  # on by default: the flag that turns it off
        names = [f"{o.flag}/{o.off_flag}"]
    if o.kind is list:
        kind, default = Optional[list[str]], None
    elif o.kind is bool:
        kind, default = bool, bool(o.default)
    else:
        kind, default = o.kind, o.default
    return inspect.Parameter(o.name, inspect.Parameter.KEYWORD_ONLY, default=default,
                             annotation=Annotated[kind, typer.Option(*names, help=o.help)])


def _parameters(s: evalspec.EvalSpec) -> list[inspect.Parameter]:
    kw = inspect.Parameter.KEYWORD_ONLY
    out = [inspect.Parameter("run_ids", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=RunIds)]
    clash = [o.name for o in s.options if o.name in COMMON]
    if clash:
        raise NawtError(f"evaluation {s.name!r}: option {clash[0]!r} is one every evaluation has")
    out += [_typer_option(o) for o in s.options]
    if s.seeded:
        out.append(inspect.Parameter("seed", kw, default=0, annotation=Annotated[int, typer.Option(
            help="the random draws' seed: the same seed gives the same numbers")]))
    if s.batchable:
        out.append(inspect.Parameter("strategy", kw, default="auto", annotation=Annotated[str, typer.Option(
            help="auto (measure), loop or batched (vmap)")]))
    out += [inspect.Parameter("device", kw, default=None, annotation=DeviceOpt),
            inspect.Parameter("precision", kw, default="auto", annotation=PrecisionOpt),
            inspect.Parameter("test_subset", kw, default=None, annotation=TestSubsetOpt),
            inspect.Parameter("threads", kw, default=None, annotation=ThreadsOpt),
            inspect.Parameter("json_out", kw, default=False, annotation=JsonOpt),
            inspect.Parameter("db", kw, default=None, annotation=DbOpt),
            inspect.Parameter("data_dir", kw, default=Path("data"), annotation=DataDirOpt),
            inspect.Parameter("cifar_dir", kw, default=None, annotation=CifarDirOpt)]
    return out


def add_command(s: evalspec.EvalSpec) -> None:
    """`nawt eval NAME` for spec ``s``."""
    def command(**kw: Any) -> None:
        run_eval(s, kw)

    command.__signature__ = inspect.Signature(_parameters(s))
    command.__doc__ = s.help
    command.__name__ = f"eval_{s.name.replace('-', '_')}"
    eval_app.command(s.name)(command)


def run_eval(s: evalspec.EvalSpec, kw: dict[str, Any]) -> None:
    options = {o.name: o.parse(kw[o.name]) if o.kind is list else kw[o.name] for o in s.options}
    s.checked(options)  # bad input: one error line, nothing recorded
    engine = {"seed": check_seed(kw["seed"], "--seed")} if s.seeded else {}  # refused before a row is recorded
    if s.batchable:
        evalspec.check_strategy(kw["strategy"])
        engine["strategy"] = kw["strategy"]
    check_threads(kw["threads"])
    store = _open_for_sweeps(kw["run_ids"], kw["precision"], kw["test_subset"], kw["device"], kw["db"], kw["data_dir"])
    from nawt_core.sweeps import sweep

    use_threads(kw["threads"])

    def one(rid: int, **rec: Any):
        return sweep(store, s.name, rid, **options, **engine, device=kw["device"], data_dir=kw["cifar_dir"],
                     test_subset=kw["test_subset"], precision=kw["precision"], **rec)

    results = sweep_each(store, kw["run_ids"], s.name, options, one)
    if kw["json_out"]:
        print_json([_json(s, rid, ev, pts) for rid, ev, pts in results])
        return
    for rid, ev, pts in results:
        console.print(eval_table(s, store.get_run(rid), ev, pts))


def _open_for_sweeps(run_ids: list[int], precision: str, test_subset: int | None, device: str | None, db, data_dir):
    """The store, once the options every evaluation shares are checked and every run is finished."""
    check_precision(precision)
    if test_subset is not None and test_subset < 1:
        raise NawtError(f"test subset must be positive (got {test_subset})")
    bounds.whole(test_subset, "test subset", 1, MAX_TEST)
    check_device(device, config=True)
    store = open_store(db, data_dir, create=False)
    from nawt_core.compare import select_runs
    from nawt_core.records import check_evaluable

    for r in select_runs(store, run_ids):  # every run exists, finished and has its weights before any starts
        check_evaluable(store, r, f"; is --data-dir ({data_dir}) the folder that holds its runs/?")
    store.settle_stale()
    return store


def sweep_each(store, run_ids: list[int], kind: str, options: dict, sweep) -> list[tuple]:
    """Runs ``sweep(run_id, **recorder_kw)`` per run with a progress bar, recorded from the start."""
    from nawt_core.recorder import EvalRecorder

    results = []
    with EvalRecorder(store, run_ids, kind, options) as rec:
        for rid in run_ids:
            with progress_bar() as prog:
                task = prog.add_task(f"run {rid} {kind}", total=None)
                ev = rec.run(rid, lambda rid=rid, **kw: sweep(rid, **kw),
                             lambda d, t, task=task: prog.update(task, completed=d, total=t))
            results.append((rid, ev, store.points(ev.id)))
    return results


def _json(s: evalspec.EvalSpec, rid: int, ev, pts) -> dict:
    from nawt_core.compare import point_summary

    summary = point_summary(pts, s)
    return {"run_id": rid, "evaluation_id": ev.id, "clean_acc": ev.clean_acc,
            **({s.clean.export: ev.clean_acc} if s.clean else {}), "config": ev.config, "seed": ev.seed,
            "seconds": ev.seconds, "points": {s.param.json_key(k) if s.param else k: v for k, v in summary.items()}}


def eval_table(s: evalspec.EvalSpec, run, ev, pts) -> Table:
    """One run's evaluation as `nawt eval` prints it."""
    from nawt_core.compare import point_summary

    cfg = ev.config or {}
    what = [str(cfg.get(s.label_option, s.option(s.label_option).default))] if s.label_option else []
    what += [o.form_label for o in s.options if o.kind is bool and cfg.get(o.name)]
    images = s.describe(cfg) if s.param is None and s.describe else f"{cfg.get('test_images')} test images"
    what += [images, *([f"seed {ev.seed}"] if s.seeded else []),  # sharpness reads training images
             str(cfg.get("precision")), f"evaluation {ev.id}", f"{ev.seconds or 0:.1f} s"]
    t = Table(title=f"run {run.id} {run.method}: {s.name} ({', '.join(what)})")
    summary = point_summary(pts, s)
    head = (s.param.short if s.param.text else s.param.column) if s.param else "metric"  # 1h: a time, not seconds
    label = (lambda k: s.param.head(k)) if s.param else str
    if s.clean is not None:
        for c in (head, "accuracy %", f"Δ vs {s.clean.title}"):
            t.add_column(c, justify="right")
        t.add_row(s.clean.title, f"{100 * ev.clean_acc:.2f}", "")
        for k, v in summary.items():
            t.add_row(str(k), f"{100 * v['mean']:.2f}", f"{100 * (v['mean'] - ev.clean_acc):+.2f}")
        return t
    scale = {k: s.point_scale(k) for k in summary}  # sharpness's metrics are not percentages
    unit = " %" if all(f == 100.0 for f in scale.values()) else ""
    for c in (head, f"mean{unit}", "std", f"min{unit}", "trials"):
        t.add_column(c, justify="right")
    for k, v in summary.items():
        f = scale[k]
        t.add_row(label(k) if s.param is None else s.param.value_text(k), f"{f * v['mean']:.2f}", f"{f * v['std']:.2f}",
                  f"{f * v['min']:.2f}", str(v["n"]))
    return t


for _spec in evalspec.evaluations():
    add_command(_spec)
del _spec

__all__ = ["add_command", "eval_app", "eval_table", "run_eval", "sweep_each"]
