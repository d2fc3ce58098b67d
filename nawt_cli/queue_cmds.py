"""`nawt worker`, `nawt queue` (list, move, cancel), `nawt workers`, and the local
worker slots `nawt study --jobs N` starts.

Nothing here imports torch at import time; `nawt worker` imports it to train.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from nawt_core import bounds
from nawt_core.errors import NawtError
from nawt_core.lists import numbers
from nawt_core.textsafe import markup as safe

from .app import CifarDirOpt, DataDirOpt, DbOpt, JsonOpt, app, console, err_console, open_store, print_json

StaleOpt = Annotated[float, typer.Option("--stale-after", help="seconds without a heartbeat after which a claimed run is re-queued")]
DEVICE_RE = re.compile(r"^(auto|cpu|cuda|cuda:\d+)$")


def _say(line: str) -> None:
    err_console.print(line, markup=False, soft_wrap=True)


# ------------------------------------------------------------------- worker
@app.command()
def worker(
    device: Annotated[Optional[str], typer.Option(help="cpu, cuda or cuda:N (pins this worker to GPU N) \\[default: each run's own]")] = None,
    once: Annotated[bool, typer.Option("--once", help="execute one run, then exit")] = False,
    forever: Annotated[bool, typer.Option("--forever", help="wait for more runs when the queue is empty (until Ctrl-C)")] = False,
    threads: Annotated[Optional[int], typer.Option(help="torch CPU threads \\[default: torch's]")] = None,
    study: Annotated[Optional[str], typer.Option(help="only this study's runs")] = None,
    stale_after: StaleOpt = 120.0,
    max_attempts: Annotated[int, typer.Option("--max-attempts", help="claims of one run before it is failed")] = 3,
    db: DbOpt = None,
    data_dir: DataDirOpt = Path("data"),
    cifar_dir: CifarDirOpt = None,
) -> None:
    """Execute queued runs until none is left (see `nawt queue`); Ctrl-C stops at a safe point and re-queues the run."""
    if device is not None and not DEVICE_RE.match(device):
        raise NawtError(f"--device must be cpu, cuda or cuda:N (got {device!r})")
    if once and forever:
        raise NawtError("--once and --forever exclude each other")
    bounds.whole(threads, "--threads", 1, bounds.MAX_THREADS)
    bounds.seconds(stale_after, "--stale-after")
    bounds.whole(max_attempts, "--max-attempts", 1, bounds.MAX_ATTEMPTS)
    asked = device
    if device and device.startswith("cuda:"):
        # one GPU per process: this worker sees only GPU N, as cuda (set before torch starts CUDA)
        os.environ["CUDA_VISIBLE_DEVICES"] = device.split(":", 1)[1]
        device = "cuda"
    elif device == "auto":
        device = None
    if device == "cuda":  # refused at start, not by failing every run it claims
        import torch

        if not torch.cuda.is_available():
            raise NawtError(f"--device {asked}: CUDA is not available here (use --device cpu, or no --device)")
    store = open_store(db, data_dir, create=False)
    from nawt_core.watch import LineReporter
    from nawt_core.worker import work

    res = work(store, device=device, threads=threads, once=once, forever=forever, study=study,
               stale_after=stale_after, max_attempts=max_attempts, data_dir=cifar_dir, say=_say,
               reporter_factory=lambda run: LineReporter(_say, store, run.study))  # a line an epoch, run id first
    _say(f"worker {res.worker_id}: {len(res.completed)} completed, {len(res.failed)} failed"
         + (", stopped: its run is back in the queue" if res.requeued else ", stopped" if res.stopped else ""))
    if res.stopped:
        raise typer.Exit(130)
    if res.failed:  # failures have their own exit status (bad input: 2)
        raise typer.Exit(1)


# -------------------------------------------------------------------- queue
queue_app = typer.Typer(help="The run queue: list (default), move, cancel.", no_args_is_help=False)
app.add_typer(queue_app, name="queue")


@queue_app.callback(invoke_without_command=True)
def queue_list(
    ctx: typer.Context,
    study: Annotated[Optional[str], typer.Option(help="only this study's runs")] = None,
    json_out: JsonOpt = False,
    db: DbOpt = None,
    data_dir: DataDirOpt = Path("data"),
) -> None:
    """The queue in order: waiting runs by position, then the claimed ones with their worker."""
    if ctx.invoked_subcommand is not None:
        return
    from nawt_core import queue
    from nawt_core.store import effective_status

    store = open_store(db, data_dir, create=False)
    rows = []
    place = 0
    for r in queue.queued(store, study):
        status = effective_status(r)
        place += status == "queued"
        rows.append({"place": place if status == "queued" else None, "id": r.id, "method": r.method,
                     "seed": r.seed, "study": r.study, "status": status, "epoch": r.epoch, "epochs": r.epochs,
                     "attempts": r.attempts, "worker": r.worker_id, "host": r.host or None,
                     "device": r.device or None})
    if json_out:
        print_json(rows)
        return
    t = Table(title=f"queue ({place} waiting, {len(rows) - place} claimed)", header_style="bold")
    for col in ("#", "id", "method", "seed", "study", "status", "epoch", "tries", "worker"):
        t.add_column(col, justify="right" if col in ("#", "id", "seed", "tries") else "left")
    for w in rows:
        t.add_row("-" if w["place"] is None else str(w["place"]), str(w["id"]), safe(w["method"]), str(w["seed"]),
                  safe(w["study"] or "-"), w["status"], f"{w['epoch']}/{w['epochs']}", str(w["attempts"]),
                  safe(w["worker"] or "-"))
    console.print(t)


@queue_app.command("move")
def queue_move(
    run_id: Annotated[int, typer.Argument(help="a waiting run's id", show_default=False)],
    to: Annotated[Optional[int], typer.Option("--to", help="its new place, 1 = next")] = None,
    top: Annotated[bool, typer.Option("--top", help="make it the next run claimed")] = False,
    db: DbOpt = None,
    data_dir: DataDirOpt = Path("data"),
) -> None:
    """Move a waiting run to another place in the queue."""
    from nawt_core import queue

    if (to is None) == (not top):
        raise NawtError("give either --to N or --top")
    store = open_store(db, data_dir, create=False)
    queue.move(store, run_id, 1 if top else to)
    place = [r.id for r in queue.queued(store) if r.status == "queued"].index(run_id) + 1
    console.print(f"run {run_id} is now number {place} in the queue", markup=False)


@queue_app.command("cancel")
def queue_cancel(
    run_ids: Annotated[list[int], typer.Argument(help="waiting runs' ids", show_default=False)],
    db: DbOpt = None,
    data_dir: DataDirOpt = Path("data"),
) -> None:
    """Take waiting runs out of the queue (they stay recorded, interrupted; `nawt train --resume ID` trains one)."""
    from nawt_core import queue

    store = open_store(db, data_dir, create=False)
    for rid in run_ids:
        store.get_run(rid)  # unknown id: one error line before anything changes
    for rid in run_ids:
        queue.cancel(store, rid)
        console.print(f"run {rid} taken out of the queue", markup=False)


@app.command()
def workers(
    json_out: JsonOpt = False,
    db: DbOpt = None,
    data_dir: DataDirOpt = Path("data"),
) -> None:
    """The workers that executed or execute queued runs (stale: silent, or its process gone)."""
    from nawt_core import queue

    store = open_store(db, data_dir, create=False)
    rows = [{**w.model_dump(), "state": queue.worker_state(w)} for w in queue.workers(store)]
    if json_out:
        print_json(rows)
        return
    t = Table(title=f"workers ({len(rows)})", header_style="bold")
    for col in ("worker", "host", "pid", "device", "threads", "state", "run", "done", "last heartbeat"):
        t.add_column(col)
    for w in rows:
        beat = w["heartbeat_at"].strftime("%Y-%m-%d %H:%M:%S") if w["heartbeat_at"] else "-"
        t.add_row(safe(w["id"]), safe(w["host"]), str(w["pid"]), safe(w["device"]), str(w["threads"] or "-"), w["state"],
                  str(w["run_id"] or "-"), str(w["runs_done"]), beat)
    console.print(t)


# ----------------------------------------------------------- local slots
def plan_slots(jobs: int | None, gpus: str | None, per_gpu: int, device: str, cores: int,
               cuda_count: int) -> list[dict]:
    """One dict per local worker: its CUDA_VISIBLE_DEVICES (None on the CPU) and its threads.
    --gpus 0,1 --per-gpu K: K workers per listed GPU; --jobs N on CUDA: round robin over the GPUs;
    on the CPU: N workers sharing the cores (cores // N threads each)."""
    if per_gpu < 1:
        raise NawtError(f"--per-gpu must be 1 or more (got {per_gpu})")
    if gpus:
        ids = numbers(gpus, "--gpus", int)
        bad = [g for g in ids if g < 0 or g >= cuda_count]
        if bad:
            raise NawtError(f"--gpus names GPU {bad[0]}, but this machine has {cuda_count} CUDA device(s)")
        if device == "cpu":
            raise NawtError("--gpus goes with a CUDA device, not --device cpu")
        ids = [g for g in ids for _ in range(per_gpu)]
        if jobs is not None and jobs != len(ids):
            raise NawtError(f"--jobs {jobs} does not match --gpus x --per-gpu ({len(ids)} workers); give one of them")
        return [{"gpu": g, "threads": max(1, cores // len(ids))} for g in ids]
    jobs = jobs or 1
    if jobs < 1:
        raise NawtError(f"--jobs must be 1 or more (got {jobs})")
    device = device or "auto"
    if device != "cpu" and cuda_count > 0:
        gpu_ids = [int(device.split(":")[1])] if device.startswith("cuda:") else list(range(cuda_count))
        return [{"gpu": gpu_ids[i % len(gpu_ids)], "threads": max(1, cores // jobs)} for i in range(jobs)]
    return [{"gpu": None, "threads": max(1, cores // jobs)} for _ in range(jobs)]


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def launch_local(slots: list[dict], study: str, db_url: str, data_dir: Path, cifar_dir: Path | None,
                 stale_after: float) -> bool:
    """Runs one `nawt worker --study NAME` process per slot and waits for them all.
    SIGINT/SIGTERM are passed on to every worker (each stops at a safe point and
    re-queues its run); returns whether that happened. The database URL goes
    through the environment (NAWT_DB), never the command line `ps` shows."""
    procs = []
    for slot in slots:
        env = {**os.environ, "NAWT_DB": db_url}
        if slot["gpu"] is not None:
            env["CUDA_VISIBLE_DEVICES"] = str(slot["gpu"])
        # the worker sees one GPU (CUDA_VISIBLE_DEVICES) as its cuda:0, or trains on the CPU: every run
        # it claims goes there, whatever device (cuda:N of another process's numbering) its config names
        cmd = [sys.executable, "-m", "nawt_cli", "worker", "--study", study, "--threads", str(slot["threads"]),
               "--device", "cuda" if slot["gpu"] is not None else "cpu",
               "--stale-after", str(stale_after), "--data-dir", str(data_dir)]
        if cifar_dir:
            cmd += ["--cifar-dir", str(cifar_dir)]
        procs.append(subprocess.Popen(cmd, stdin=subprocess.DEVNULL, env=env))
    where = ", ".join(f"GPU {s['gpu']}" if s["gpu"] is not None else f"{s['threads']} threads" for s in slots)
    _say(f"started {len(procs)} workers ({where}); Ctrl-C stops them at a safe point")
    stopped = []

    def forward(signum, _frame):
        stopped.append(signum)
        for p in procs:
            if p.poll() is None:
                try:
                    p.send_signal(signum)
                except OSError:
                    pass

    saved = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        codes = [p.wait() for p in procs]
    finally:
        for sig, h in saved.items():
            signal.signal(sig, h)
    crashed = [c for c in codes if c not in (0, 130)]
    if crashed:
        _say(f"{len(crashed)} worker(s) ended with an error (exit {crashed[0]}); see their lines above")
    return bool(stopped) or any(c == 130 for c in codes)
