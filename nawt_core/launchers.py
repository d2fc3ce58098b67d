"""How a study's queued runs are executed when they are not trained in its own process.

``nawt study --jobs N`` / ``--gpus`` start local ``nawt worker`` processes
(``local_launcher``: ``plan_slots`` decides each one's GPU and threads,
``launch_local`` runs and waits for them); ``--backend ray`` submits a Ray task
per run (``ray_launcher``, nawt_core/ray_backend.py). A launcher is
``launch(run_ids) -> stopped``; study.run_study queues the runs and calls it.
Torch is imported only to count the GPUs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Callable

from . import bounds
from .errors import NawtError
from .lists import numbers

Launcher = Callable[[list[int]], bool]
Say = Callable[[str], None]


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
                 stale_after: float, say: Say = lambda s: None) -> bool:
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
    say(f"started {len(procs)} workers ({where}); Ctrl-C stops them at a safe point")
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
        say(f"{len(crashed)} worker(s) ended with an error (exit {crashed[0]}); see their lines above")
    return bool(stopped) or any(c == 130 for c in codes)


def local_launcher(jobs: int | None, gpus: str | None, per_gpu: int, device: str | None, study: str, db_url: str,
                   data_dir: Path, cifar_dir: Path | None, stale_after: float, say: Say = lambda s: None
                   ) -> Launcher | None:
    """With --jobs N > 1 or --gpus: a launcher that runs the queued runs in local
    `nawt worker` processes; None keeps the study in its own process."""
    if jobs is None and gpus is None:
        return None
    bounds.whole(jobs, "--jobs", 1, bounds.MAX_JOBS)
    if jobs == 1 and gpus is None:
        return None
    import torch  # to count the GPUs

    device = device or "auto"  # resolved once, here: each worker gets cuda (its one visible GPU) or cpu
    cuda = torch.cuda.device_count() if device != "cpu" else 0
    slots = plan_slots(jobs, gpus, per_gpu, device, usable_cores(), cuda)
    # no more workers than runs to train: --jobs 8 for 2 unfinished runs starts 2
    return lambda run_ids: launch_local(slots[:len(run_ids)], study, db_url, data_dir, cifar_dir, stale_after, say)


def ray_launcher(address: str | None, per_gpu: int, cpus: int, device: str | None, study: str, db_url: str,
                 data_dir: Path, cifar_dir: Path | None, stale_after: float, say: Say = lambda s: None) -> Launcher:
    """With --backend ray: a launcher that submits one Ray task per queued run (nawt_core/ray_backend.py);
    ``data_dir`` is nawt's home on the cluster's shared disk (run folders are recorded relative to it)."""
    from . import ray_backend

    device = device or "auto"
    if device.startswith("cuda:"):
        raise NawtError(f"--backend ray: Ray gives each run its GPU (CUDA_VISIBLE_DEVICES), so --device {device} "
                        "cannot pick one; use --device cuda (or auto)")
    ray_backend.check_url(db_url, 1)  # a relative SQLite path is refused before anything is queued
    cifar = str(cifar_dir.resolve()) if cifar_dir else None
    return lambda run_ids: ray_backend.launch(run_ids, url=db_url, study=study, data_dir=cifar, address=address,
                                              per_gpu=per_gpu, device=device, cpus=cpus,
                                              stale_after=stale_after, say=say, home=str(Path(data_dir).resolve()))


def queue_only(_run_ids: list[int]) -> bool:
    """--queue-only: nothing trains here; the runs wait for `nawt worker --study NAME`."""
    return True


__all__ = ["Launcher", "launch_local", "local_launcher", "plan_slots", "queue_only", "ray_launcher", "usable_cores"]
