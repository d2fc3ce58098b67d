"""`nawt study`: train every method, evaluate, compare and write the report; resumable.

The launchers for `--jobs N`, `--gpus` and `--backend ray` are nawt_core/launchers.py's; how a study
shows itself (the device line, its runs' progress) is study_view.py.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from nawt_core import bounds
from nawt_core.errors import Failed, NawtError
from nawt_core.lists import split_items

from .app import (CifarDirOpt, DataDirOpt, DbOpt, PrecisionOpt, ThreadsOpt, app, check_threads, console, err_console,
                  open_store, progress_bar, use_threads)
from .compare_view import print_comparison


@app.command("study")
def study_cmd(
    preset: Annotated[str, typer.Option(help="paper (200 epochs, 3 seeds), quick (30), cpu (10 epochs, all data, one seed: about 3 h on 2 CPU cores, half of it the six evaluations), smoke (~3 min), tradeoff (GPU: each method's strength varied, 3 seeds, 30 epochs) or tradeoff-cpu (the same on a subset, ~1.7 h on 2 CPU cores)")] = "smoke",
    methods: Annotated[Optional[list[str]], typer.Option("--methods", "-m", help="methods, e.g. standard,sam; a variant as METHOD:OPTION=VALUE, e.g. naive-noise:noise-last-epoch=false \\[default: all five]")] = None,
    vary: Annotated[Optional[list[str]], typer.Option("--vary", help="one row per value of a method's option, e.g. sam.rho=0.02,0.05,0.1 or naive-noise.noise-sigma=0.01,0.02; all.OPTION for weight-decay, lr, momentum or batch-size (repeatable)")] = None,
    seeds: Annotated[Optional[int], typer.Option(help="seeds per method \\[default: the preset's]")] = None,
    name: Annotated[Optional[str], typer.Option(help="study name \\[default: the preset's name]; the same name continues it")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="folder for tables and figures \\[default: <data-dir>/studies/<name>]")] = None,
    device: Annotated[Optional[str], typer.Option(help="auto, cpu, cuda or cuda:N \\[default: new runs auto, a resumed run its own, sweeps the run's device family]")] = None,
    precision: PrecisionOpt = "auto",
    epochs: Annotated[Optional[int], typer.Option(help="override the preset's epochs")] = None,
    train_subset: Annotated[Optional[int], typer.Option("--train-subset", help="override the preset's training images (first N)")] = None,
    test_subset: Annotated[Optional[int], typer.Option("--test-subset", help="override the preset's test images (first N)")] = None,
    dataset: Annotated[str, typer.Option(help="cifar10 (refuses when it cannot be found or downloaded) or synthetic")] = "cifar10",
    jobs: Annotated[Optional[int], typer.Option("--jobs", "-j", help="runs at once, each in its own `nawt worker` process (1: in this process)")] = None,
    gpus: Annotated[Optional[str], typer.Option("--gpus", help="GPUs for the workers, e.g. 0,1,2,3 (one worker per GPU, x --per-gpu)")] = None,
    per_gpu: Annotated[int, typer.Option("--per-gpu", help="workers per GPU with --gpus")] = 1,
    stale_after: Annotated[float, typer.Option("--stale-after", help="with --jobs: seconds without a heartbeat before a worker's run is re-queued")] = 120.0,
    backend: Annotated[str, typer.Option("--backend", help="local (this machine: --jobs/--gpus) or ray (one Ray task per run; pip install 'nawt\\[ray]')")] = "local",
    address: Annotated[Optional[str], typer.Option("--address", help="with --backend ray: auto (a running cluster) or ray://host:10001 \\[default: a new local Ray]")] = None,
    cpus_per_run: Annotated[int, typer.Option("--cpus-per-run", help="with --backend ray: CPUs (and torch threads) per run")] = 1,
    queue_only: Annotated[bool, typer.Option("--queue-only", help="only queue the runs; `nawt worker --study NAME` trains them, and this command again writes the tables")] = False,
    threads: ThreadsOpt = None,
    db: DbOpt = None,
    data_dir: DataDirOpt = Path("data"),
    cifar_dir: CifarDirOpt = None,
) -> None:
    """Train every method (skipping finished runs, resuming interrupted ones), evaluate, compare, write CSVs and figures.

    Every preset trains on CIFAR-10; without it the study stops before training
    (use --dataset synthetic for a study on the synthetic look-alike)."""
    import time

    from nawt_core import launchers
    from nawt_core.store import default_url
    from nawt_core.study import PRESETS, check_name, plan, require_dataset, run_study

    study = check_name(name or preset)  # before the store is opened (and made): a refused name leaves nothing
    if preset not in PRESETS:
        raise NawtError(f"unknown preset {preset!r}; choose one of: {', '.join(PRESETS)}")
    overrides = {k: v for k, v in (("epochs", epochs), ("train_subset", train_subset),
                                   ("test_subset", test_subset)) if v is not None} or None
    mlist = split_items(methods, "--methods") or None
    bounds.seconds(stale_after, "--stale-after")
    bounds.whole(jobs, "--jobs", 1, bounds.MAX_JOBS)
    bounds.whole(per_gpu, "--per-gpu", 1, bounds.MAX_PER_GPU)
    bounds.whole(cpus_per_run, "--cpus-per-run", 1, bounds.MAX_THREADS)
    check_threads(threads)
    if threads and (backend != "local" or (jobs or 1) > 1 or gpus):
        raise NawtError("--threads is for a study trained in this process; with --jobs each worker gets the "
                        "cores divided among them, with --backend ray --cpus-per-run sets each run's threads")
    if backend == "ray":  # Ray tasks run elsewhere: every path they are handed must be absolute
        data_dir, cifar_dir = data_dir.resolve(), cifar_dir.resolve() if cifar_dir else None
    cifar = cifar_dir or data_dir
    cfgs, _ = plan(preset, methods=mlist, seeds=seeds, data_dir=cifar, device=device or "auto", dataset=dataset,
                   precision=precision, overrides=overrides, name=study, varies=vary)  # validate first
    if device not in (None, "auto", "cpu") and backend != "ray":  # the cluster's GPUs are not this host's
        # checked without touching the GPU: the workers (or the trainer) will
        from nawt_core.device import check_device

        check_device(device)
    for note in dict.fromkeys(c.plain_sgd_note() for c in cfgs if c.plain_sgd_note()):
        err_console.print(f"warning: {note}", markup=False, soft_wrap=True)
    if device in (None, "auto") and not queue_only and not (backend == "ray" and address):
        _refuse_a_long_cpu_study(preset)
    require_dataset(dataset, cifar, hint="" if cifar_dir else " (or name its folder with --cifar-dir)")
    url = db or default_url(data_dir)
    if queue_only:
        launch = launchers.queue_only
    elif backend == "ray":
        launch = launchers.ray_launcher(address, per_gpu, cpus_per_run, device, study, url, data_dir, cifar_dir,
                                        stale_after, _say)
    elif backend == "local":
        launch = launchers.local_launcher(jobs, gpus, per_gpu, device, study, url, data_dir, cifar_dir,
                                          stale_after, _say)
    else:
        raise NawtError(f"--backend must be local or ray (got {backend!r})")
    store = open_store(db, data_dir)
    store.settle_stale()
    from .study_view import resolved_line, study_reporters

    if not queue_only:
        _say(resolved_line(study, device, precision, backend, gpus))
    use_threads(threads)
    t0 = time.perf_counter()
    res = run_study(store, preset=preset, name=name, methods=mlist, seeds=seeds, data_dir=cifar, out_dir=out,
                    device=device, dataset=dataset, precision=precision, overrides=overrides, say=_say,
                    home=data_dir, launch=launch, reporter_factory=study_reporters(err_console, store, cfgs),
                    progress=_bar if err_console.is_terminal else None,  # piped: the sweeps' lines alone
                    varies=vary)
    if not res.finished:
        if queue_only:
            console.print(f"study {study}: runs queued; `nawt worker --study {study}` trains them (or this command "
                          "with --jobs N); this command again writes the tables", markup=False, highlight=False)
            return
        err_console.print("interrupted", markup=False)  # a run was interrupted (Ctrl-C, a stopped worker)
        raise typer.Exit(130)
    console.print(f"study [bold]{escape(res.name)}[/] ({preset}, {res.dataset}): {len(res.run_ids)} runs, "
                  f"{len(res.trained)} trained now, {len(res.skipped)} reused; {time.perf_counter() - t0:.0f} s")
    print_comparison(res.comparison, tradeoff=res.comparison.varied)
    console.print(f"tables, figures and the report (report.html, report.md) in {res.out_dir}", markup=False)
    if res.failed:
        raise Failed(f"runs {', '.join(map(str, res.failed))} failed; see `nawt show ID`")


def _refuse_a_long_cpu_study(preset: str) -> None:
    """paper and quick are GPU-sized: on a host where torch sees no CUDA they
    would train for days on the CPU unnoticed; refused before anything is
    recorded unless --device cpu asks for the CPU."""
    if preset not in ("paper", "quick", "tradeoff"):
        return
    import torch

    from nawt_core.device import unseen_gpus

    if not torch.cuda.is_available():
        why = unseen_gpus() or "torch sees no CUDA device here"
        raise NawtError(f"--preset {preset} would train on the CPU for days ({why}); pass --device cpu to train "
                        "there anyway; nothing was recorded")


def _say(line: str) -> None:
    err_console.print(line, markup=False, soft_wrap=True)


@contextlib.contextmanager
def _bar(label: str):
    """An evaluation's progress bar: yields show(done, total)."""
    with progress_bar() as prog:
        task = prog.add_task(label, total=None)
        yield lambda done, total: prog.update(task, completed=done, total=total)
