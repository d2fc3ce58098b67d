"""`nawt worker`, `nawt queue` (list, move, cancel), `nawt workers`.

Nothing here imports torch at import time; `nawt worker` imports it to train.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from nawt_core import bounds
from nawt_core.errors import NawtError
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
