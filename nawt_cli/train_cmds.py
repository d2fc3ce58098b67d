"""`nawt` (the TUI), `nawt train`, `nawt show`, `nawt bench` (`nawt runs` lives in run_cmds)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from nawt_core import bounds, spec
from nawt_core.config import TrainConfig
from nawt_core.errors import Failed, NawtError
from nawt_core.lists import numbers
from nawt_core.runview import end_label, fmt_value, weights_note
from nawt_core.runview import pct as _pct
from nawt_core.status import Status
from nawt_core.weight_table import weight_table
from nawt_core.textsafe import markup as safe
from nawt_core.textsafe import printable

from .app import (CifarDirOpt, DataDirOpt, DbOpt, JsonOpt, PrecisionOpt, ThreadsOpt, app, check_threads, console,
                  err_console, open_store, print_json, use_threads)


def _version(value: bool) -> None:
    if value:
        from nawt_core import __version__

        console.print(f"nawt {__version__}", markup=False, highlight=False)
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def root(ctx: typer.Context, db: DbOpt = None, data_dir: DataDirOpt = Path("data"),
         cifar_dir: CifarDirOpt = None,
         version: Annotated[bool, typer.Option("--version", help="print nawt's version and exit",
                                               callback=_version, is_eager=True)] = False) -> None:
    """With no command, open the terminal UI on the store."""
    if ctx.invoked_subcommand is not None:
        return
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise NawtError("the terminal UI needs a terminal (run `nawt` in one); without one, use the commands "
                        "(`nawt --help`), e.g. `nawt runs`")
    from nawt_core.store import default_url
    from nawt_tui.app import run_tui

    run_tui(db or default_url(data_dir), str(data_dir), cifar_dir=str(cifar_dir) if cifar_dir else None)


def _help(option: str) -> str:
    """An option's help from the spec, with the methods that use it."""
    return f"{spec.OPTIONS[option].help} \\[{', '.join(spec.uses(option))}]"


@app.command()
def train(
    method: Annotated[str, typer.Option("--method", "-m", help=f"one of: {', '.join(spec.method_names())}")] = "standard",
    epochs: Annotated[int, typer.Option(help="training epochs")] = 200,
    batch_size: Annotated[int, typer.Option("--batch-size", "-b")] = 128,
    lr: Annotated[float, typer.Option(help="peak learning rate (SGD, Nesterov momentum 0.9)")] = 0.1,
    weight_decay: Annotated[float, typer.Option("--weight-decay")] = 5e-4,
    momentum: Annotated[float, typer.Option()] = 0.9,
    schedule: Annotated[str, typer.Option(help="cosine, or step (x0.1 at 50% and 75% of the epochs)")] = "cosine",
    arch: Annotated[str, typer.Option(help="resnet20, resnet32, resnet44, resnet56 or resnet110")] = "resnet20",
    # the methods' options: help and defaults from nawt_core/spec.py
    rho: Annotated[float, typer.Option(help=_help("rho"))] = spec.OPTIONS["rho"].default,
    rho_stages: Annotated[Optional[str], typer.Option("--rho-stages", help=_help("rho_stages"))] = None,
    stages: Annotated[int, typer.Option(help=_help("stages"))] = spec.OPTIONS["stages"].default,
    adaptive: Annotated[bool, typer.Option("--adaptive", help=_help("adaptive"))] = spec.OPTIONS["adaptive"].default,
    asam: Annotated[str, typer.Option("--asam", help=_help("asam"))] = spec.OPTIONS["asam"].default,
    ascent_steps: Annotated[int, typer.Option("--ascent-steps", help=_help("ascent_steps"))] = spec.OPTIONS["ascent_steps"].default,
    noise_sigma: Annotated[float, typer.Option("--noise-sigma", help=_help("noise_sigma"))] = spec.OPTIONS["noise_sigma"].default,
    noise_last_epoch: Annotated[bool, typer.Option("--noise-last-epoch/--no-noise-last-epoch", help=_help("noise_last_epoch"))] = spec.OPTIONS["noise_last_epoch"].default,
    noise_eta: Annotated[float, typer.Option("--noise-eta", help=_help("noise_eta"))] = spec.OPTIONS["noise_eta"].default,
    dataset: Annotated[str, typer.Option(help="cifar10 or synthetic (offline, learnable)")] = "cifar10",
    train_subset: Annotated[Optional[int], typer.Option("--train-subset", help="use the first N training images")] = None,
    test_subset: Annotated[Optional[int], typer.Option("--test-subset", help="use the first N test images")] = None,
    device: Annotated[Optional[str], typer.Option(help="auto, cpu, cuda or cuda:N \\[default: auto; with --resume: the run's own]")] = None,
    precision: PrecisionOpt = "auto",
    compile: Annotated[bool, typer.Option("--compile", help="torch.compile the model (its warm-up is recorded as compile time, not training time)")] = False,
    eval_every: Annotated[int, typer.Option("--eval-every", help="evaluate on the test set every N epochs (the last always)")] = 1,
    checkpoint_every: Annotated[int, typer.Option("--checkpoint-every", help="write the checkpoint every N epochs (the last always); a resume retrains the epochs after it")] = 1,
    seed: Annotated[int, typer.Option()] = 0,
    deterministic: Annotated[bool, typer.Option("--deterministic", help="deterministic kernels (exact resume on CPU)")] = False,
    name: Annotated[str, typer.Option(help="a name for the run")] = "",
    resume: Annotated[Optional[int], typer.Option("--resume", help="continue run ID from its last completed epoch")] = None,
    restart: Annotated[bool, typer.Option("--restart", help="with --resume: train the run again from scratch (e.g. its folder was deleted)")] = False,
    detach: Annotated[bool, typer.Option("--detach", help="train in a background process that outlives the terminal")] = False,
    queue: Annotated[bool, typer.Option("--queue", help="record the run as queued: a `nawt worker` trains it")] = False,
    threads: ThreadsOpt = None,
    start: Annotated[Optional[int], typer.Option("--start", hidden=True)] = None,
    db: DbOpt = None,
    data_dir: DataDirOpt = Path("data"),
    cifar_dir: CifarDirOpt = None,
) -> None:
    """Train one model; every epoch, timing and checkpoint goes to the store."""
    from nawt_core.records import check_resumable, create_run

    check_threads(threads)
    if restart and resume is None and start is None:
        raise NawtError("--restart goes with --resume ID (it trains that run again from scratch)")
    if queue and detach:
        raise NawtError("--queue and --detach exclude each other (a worker trains a queued run)")
    if queue and threads:
        raise NawtError("--threads does not go with --queue: the worker that trains the run sets its threads "
                        "(nawt worker --threads N)")
    if start is not None or resume is not None:
        store = open_store(db, data_dir, create=False)
        if start is None:
            store.settle_stale()
        run = check_resumable(store, start if start is not None else resume, restart=restart)
        if device is not None:  # resume on another device (e.g. the GPU host's run on a CPU host)
            _check_device(TrainConfig(device=device).validate().device)
    else:
        cfg = TrainConfig(
            method=method, arch=arch, epochs=epochs, batch_size=batch_size, lr=lr, momentum=momentum,
            weight_decay=weight_decay, schedule=schedule, rho=rho,
            rho_stages=numbers(rho_stages, "--rho-stages"), stages=stages, adaptive=adaptive, asam=asam,
            ascent_steps=ascent_steps, noise_sigma=noise_sigma, noise_last_epoch=noise_last_epoch,
            noise_eta=noise_eta, dataset=dataset,
            data_dir=str(cifar_dir or data_dir), train_subset=train_subset, test_subset=test_subset,
            device=device or "auto", precision=precision, compile=compile, eval_every=eval_every,
            checkpoint_every=checkpoint_every, seed=seed, deterministic=deterministic, name=name,
        ).validate()
        _check_device_and_data(cfg)  # before anything is recorded
        if cfg.plain_sgd_note():
            err_console.print(f"warning: {cfg.plain_sgd_note()}", markup=False, soft_wrap=True)
        store = open_store(db, data_dir)
        store.settle_stale()
        run = create_run(store, cfg, data_dir)
    if queue:
        _enqueue(store, run)
        return
    if detach:
        _warn_slow_bf16(run.config)  # the detached trainer's own warning goes to its log
        _detach(run, store.url, data_dir, cifar_dir, device if resume is not None else None, restart, threads)
        return
    use_threads(threads)
    _train_foreground(store, run.id, cifar_dir, _place_args(db, data_dir, cifar_dir),
                      device if start is not None or resume is not None else None, restart)


def _enqueue(store, run) -> None:
    from nawt_core.queue import enqueue, queued

    enqueue(store, run.id)
    place = [r.id for r in queued(store) if r.status == Status.QUEUED].index(run.id) + 1
    console.print(f"run {run.id} queued (number {place}); `nawt worker` trains it, `nawt queue` lists the queue",
                  markup=False, highlight=False)


def _check_device_and_data(cfg) -> None:
    """The device exists and the dataset reads (into the process cache the trainer uses)."""
    _check_device(cfg.device)
    if cfg.dataset == "cifar10":
        from nawt_core.data import load_cifar10

        load_cifar10(cfg.data_dir)


def _check_device(device: str) -> None:
    """A CUDA device asked for exists here (torch is imported only then)."""
    if device not in ("auto", "cpu"):
        from nawt_core.device import resolve_device

        resolve_device(device)


def _warn_slow_bf16(config: dict) -> None:
    """bf16 asked for on a CPU without native bf16: one warning line. Torch-free, so only
    where the device is known to be the CPU (on CUDA the trainer decides and logs)."""
    if config.get("precision") != "bf16" or config.get("device") != "cpu":
        return
    from nawt_core.hardware import cpu_facts, slow_bf16_warning

    note = slow_bf16_warning("bf16", cpu_facts())
    if note:
        err_console.print(f"warning: {note}", markup=False, soft_wrap=True)


def _place_args(db: str | None, data_dir: Path, cifar_dir: Path | None) -> str:
    """The options a follow-up command needs to find this run again (password hidden)."""
    from nawt_core.store import mask_url

    parts = [f"--db {mask_url(db)}"] if db else []
    if data_dir != Path("data"):
        parts.append(f"--data-dir {data_dir}")
    if cifar_dir:
        parts.append(f"--cifar-dir {cifar_dir}")
    return "".join(f" {p}" for p in parts)


def _detach(run, db_url: str, data_dir: Path, cifar_dir: Path | None, device: str | None = None,
            restart: bool = False, threads: int | None = None) -> None:
    """Starts the trainer in its own session; the database URL goes through the
    environment (NAWT_DB), never the command line that `ps` shows."""
    import os

    store = open_store(db_url, data_dir)
    log = store.folder(run) / "train.log"
    log.parent.mkdir(parents=True, exist_ok=True)  # --restart of a run whose folder was deleted
    extra = ["--cifar-dir", str(cifar_dir)] if cifar_dir else []
    extra += ["--device", device] if device else []
    extra += ["--restart"] if restart else []  # the trainer resets the run once it has taken it
    extra += ["--threads", str(threads)] if threads else []
    with open(log, "ab") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "nawt_cli", "train", "--start", str(run.id), "--data-dir", str(data_dir), *extra],
            stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "NAWT_DB": db_url},
        )
    store.update_run(run.id, log_path=store.stored(log), pid=proc.pid)
    console.print(f"run {run.id} started in the background (pid {proc.pid}); log: {log}", soft_wrap=True, markup=False,
                  highlight=False)


def _train_foreground(store, run_id: int, cifar_dir: Path | None, place: str = "", device: str | None = None,
                      restart: bool = False) -> None:
    """Trains in this process; the dataset is read where the run's config says,
    unless --cifar-dir names another place (data moved since the run began)."""
    from nawt_core.runner import execute

    from .train_view import make_reporter

    reporter = make_reporter(console)
    run = execute(store, run_id, reporter, data_dir=cifar_dir, device=device, restart=restart)
    if run.status == Status.INTERRUPTED:
        err_console.print(f"run {run.id} interrupted after epoch {run.epoch}; resume with: "
                          f"nawt train --resume {run.id}{place}", markup=False, soft_wrap=True)
        raise typer.Exit(130)
    if run.status == Status.FAILED:
        raise Failed(f"run {run.id} failed: {run.error}")


# --------------------------------------------------------------------- runs
@app.command()
def show(
    run_id: Annotated[int, typer.Argument(help="the run's id")],
    json_out: JsonOpt = False,
    db: DbOpt = None,
    data_dir: DataDirOpt = Path("data"),
) -> None:
    """A run's config, epochs, files and evaluations."""
    store = open_store(db, data_dir, create=False)
    run = store.get_run(run_id)
    epochs = store.epochs(run_id)
    evals = store.evaluations(run_id)
    folder = store.folder(run)
    files = sorted(str(p) for p in folder.glob("*") if p.is_file()) if folder else []
    from nawt_core.compare import run_summary  # the store (sqlmodel): not imported for --help
    from nawt_core.store import effective_status

    if json_out:
        print_json({"run": {**run.model_dump(), "status": run_summary(run)["status"]},
                    "epochs": [e.model_dump() for e in epochs],
                    "evaluations": [{**e.model_dump(), "status": effective_status(e)} for e in evals],
                    "files": files})
        return
    s = run_summary(run)
    console.print(f"[bold]run {run.id}[/] {safe(run.name)}  [dim]{safe(run.method)}[/]  status [bold]{s['status']}[/]"
                  f"  epoch {run.epoch}/{run.epochs}  device {safe(run.device or '-')}  data {safe(run.dataset or '-')}")
    if run.precision:
        console.print(f"precision {printable(run.precision)} ({printable(run.precision_reason or '-')})", markup=False)
    if run.error:
        console.print(f"[red]error:[/] {safe(run.error)}", markup=True)
    if run.tags or run.notes:
        console.print(Text.assemble(("tags ", "bold"), printable(" ".join(run.tags or [])) or "-", ("  note ", "bold"),
                                    printable(run.notes, newlines=True) or "-"))
    cfg = Table(title="config", show_header=False, box=None)
    for k, v in run.config.items():
        cfg.add_row(safe(k), safe(fmt_value(v, "None")))
    console.print(cfg)
    note = weights_note(run)
    if note:
        console.print(note, markup=False, highlight=False)
    console.print(_epochs_table(epochs, end_label(run.method)))
    wt = _weights_table(epochs)
    if wt is not None:
        console.print(wt)
    if evals:
        et = Table(title="evaluations", header_style="bold")
        for col in ("id", "kind", "status", "clean acc %", "config"):
            et.add_column(col, overflow="fold")  # a long list wraps, never loses its end
        for e in evals:
            settings = "\n".join(f"{k} {_setting(v)}" for k, v in (e.config or {}).items())
            et.add_row(str(e.id), safe(e.kind), effective_status(e), _pct(e.clean_acc), safe(settings, newlines=True))
        console.print(et)
    console.print("files: " + (printable(", ".join(files)) if files else "none"), markup=False)


def _epochs_table(epochs, change: str) -> Table:
    """The epochs, 11 columns that fit 80 without rules: rho only for a SAM method, and for one that
    changes the weights at an epoch's end (naive noise) the trained weights' accuracy in its place."""
    trained = bool(change) and any(e.trained_test_loss is not None and e.trained_test_loss != e.test_loss
                                   for e in epochs)
    rho = any(e.rho is not None for e in epochs) or not trained
    t = Table(title="epochs", header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False,
              collapse_padding=True)
    # two-line headers: a column is as wide as its numbers, so none is cut at 80 columns
    cols = ["epoch", "train\nloss", "train\nacc %", "test\nloss", "test\nacc %",
            *([f"before\n{change}"] if trained else []), "lr", *(["rho"] if rho else []), "s", "eval\ns",
            "ckpt\ns", "img/s"]
    for col in cols:
        t.add_column(col, justify="right")
    for e in epochs:
        ckpt = getattr(e, "checkpoint_seconds", None)
        t.add_row(str(e.epoch), _loss(e.train_loss), _pct(e.train_acc), _loss(e.test_loss), _pct(e.test_acc),
                  *([_pct(e.trained_test_acc)] if trained else []), f"{e.lr:.4g}",
                  *(["-" if e.rho is None else f"{e.rho:g}"] if rho else []), f"{e.epoch_seconds:.1f}",
                  "-" if e.test_acc is None else f"{e.eval_seconds:.2f}", "-" if ckpt is None else f"{ckpt:.2f}",
                  f"{e.images_per_sec:.0f}")
    return t


def _loss(x: float | None) -> str:
    """A loss in 6 characters: 2.3026, 58.405, 4489.5 (freshly noised weights can have huge ones)."""
    return "-" if x is None else f"{x:.4f}" if abs(x) < 10 else f"{x:.5g}"


def _weights_table(epochs) -> Table | None:
    """Per conv/linear weight, L2 norm, max |w| and std at the first and the last epoch that
    recorded them; None for a run from before they were."""
    w = weight_table(epochs)
    if w is None:
        return None
    t = Table(title=w.title, header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False,
              collapse_padding=True)
    t.add_column("layer")
    for col in w.columns:
        t.add_column(col.replace(" ep ", "\nep "), justify="right")
    for layer, cells in w.rows:
        t.add_row(safe(layer), *cells)
    return t


def _setting(v) -> str:
    """An evaluation setting for `show`: one a line, lists with spaces (so they wrap), floats to 4 digits."""
    if isinstance(v, (list, tuple)):
        return ", ".join(_setting(x) for x in v)
    return fmt_value(float(f"{v:.4g}") if isinstance(v, float) else v)


@app.command()
def bench(
    methods: Annotated[Optional[list[str]], typer.Option("--method", "-m", help="methods to time (repeatable; default all)")] = None,
    steps: Annotated[int, typer.Option(help="timed steps per method (repeated until --seconds have passed)")] = 40,
    seconds: Annotated[Optional[float], typer.Option(help="time each method and the evaluation for at least this long \\[default: 2 on CUDA, 0 on a CPU]")] = None,
    warmup: Annotated[int, typer.Option(help="untimed steps first")] = 5,
    batch_size: Annotated[int, typer.Option("--batch-size", "-b")] = 128,
    precision: PrecisionOpt = "auto",
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N")] = "auto",
    dataset: Annotated[str, typer.Option(help="synthetic or cifar10")] = "synthetic",
    reference: Annotated[bool, typer.Option("--reference/--no-reference", help="also time the classic PIL + DataLoader pipeline, for the ratio")] = True,
    workers: Annotated[int, typer.Option(help="DataLoader workers of the reference pipeline")] = 2,
    sweep: Annotated[bool, typer.Option("--sweep/--no-sweep", help="also time a weight-perturbation sweep against a plain loop")] = False,
    json_out: JsonOpt = False,
    data_dir: DataDirOpt = Path("data"),
    cifar_dir: CifarDirOpt = None,
) -> None:
    """Training and evaluation throughput on this device, with ratios to a plain reference."""
    from nawt_core.bench import run_bench

    methods = methods or list(spec.method_names())
    for m in methods:
        TrainConfig(method=m, batch_size=batch_size).validate()  # the batch is bounded as in training
    bounds.whole(steps, "--steps", 1, bounds.MAX_BENCH_STEPS)
    bounds.whole(warmup, "--warmup", 0, bounds.MAX_BENCH_STEPS)
    bounds.whole(workers, "--workers", 0, bounds.MAX_LOADER_WORKERS)
    if seconds is not None and not 0 <= seconds <= 600:
        raise NawtError(f"--seconds must be between 0 and 600 (got {seconds})")
    result = run_bench(methods=methods, steps=steps, warmup=warmup, batch_size=batch_size,
                       precision=precision, device=device, dataset=dataset, data_dir=cifar_dir or data_dir,
                       reference=reference, workers=workers, sweep=sweep, min_seconds=seconds,
                       log=None if json_out else err_console.print)
    if json_out:
        print_json(result)
        return
    from .bench_view import bench_table

    console.print(bench_table(result))
