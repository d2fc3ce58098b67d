"""The Ray backend of ``nawt study --backend ray``: one Ray task per queued run.

Each task claims a run of the study from the store's queue (queue.claim, the
same atomic claim local workers use) and executes it with ``worker.work(once=True)``,
sweeps included. Ray places it: ``num_gpus = 1/K`` packs K runs on a GPU
(Ray sets the task's CUDA_VISIBLE_DEVICES), ``num_cpus`` sets torch's threads.
A task whose worker process or node dies is retried (``max_retries``); the
retry claims again, and the lost claim is re-queued once its heartbeat has
been silent for ``stale_after`` (queue.reap), so the run resumes from its last
checkpoint. The store URL travels with each task: every node must reach the
same store (PostgreSQL, or a SQLite file on shared storage) and the run folders.
"""

from __future__ import annotations

import os
from typing import Callable

from .errors import NawtError

STOP_WAIT_S = 120.0  # after Ctrl-C, how long the tasks get to reach a safe point


def _run_one(url: str, study: str, data_dir: str | None, threads: int, stale_after: float,
             device: str = "cpu", home: str | None = None) -> dict:
    """The Ray task: one claim, one run (executed in a Ray worker process). ``device``: cuda
    (the GPU Ray gave the task, its cuda:0) or cpu, whatever a run's config names; ``home``:
    the data dir its run folders are recorded in."""
    from .store import Store
    from .watch import LineReporter
    from .worker import work

    store = Store(url, home=home)
    say = lambda s: print(s, flush=True)  # noqa: E731 - Ray forwards a task's output to the driver
    res = work(store, once=True, study=study, threads=threads, stale_after=stale_after, data_dir=data_dir,
               device=device, say=say, reporter_factory=lambda _run: LineReporter(say, store, study))
    return {"worker": res.worker_id, "completed": res.completed, "failed": res.failed, "requeued": res.requeued}


def check_url(url: str, nodes: int) -> str | None:
    """A warning when the store cannot be shared by the cluster's nodes; an error for a relative SQLite path."""
    if not url.startswith("sqlite"):
        return None
    path = url.split(":///", 1)[1] if ":///" in url else ""
    if not path or path.startswith(":memory:"):
        raise NawtError("--backend ray needs a store the Ray workers can open: a PostgreSQL URL or a SQLite file")
    if not os.path.isabs(path):
        raise NawtError(f"--backend ray: the SQLite store {path} must be an absolute path (on storage every node "
                        "sees), or use a PostgreSQL URL")
    if nodes > 1:
        return (f"the Ray cluster has {nodes} nodes and the store is a SQLite file: it must be on storage every "
                "node sees, and SQLite locking over network filesystems is unreliable; prefer a PostgreSQL URL")
    return None


def launch(run_ids: list[int], *, url: str, study: str, data_dir: str | None, address: str | None = None,
           per_gpu: int = 1, device: str | None = "auto", cpus: int = 1, max_retries: int = 3,
           stale_after: float = 120.0, say: Callable[[str], None] = lambda s: None, home: str | None = None) -> bool:
    """Submits one task per run and waits for them all; returns whether it was stopped (Ctrl-C)."""
    try:
        import ray
    except ImportError:
        raise NawtError("--backend ray needs Ray: pip install 'nawt[ray]'") from None
    if not ray.is_initialized():
        try:
            ray.init(address=address, log_to_driver=True)
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise NawtError(f"cannot connect to the Ray cluster at {address or 'a new local instance'}: {e}") from None
    device = device or "auto"
    nodes = len([n for n in ray.nodes() if n.get("Alive")])
    gpus = ray.cluster_resources().get("GPU", 0)
    if device.startswith("cuda") and not gpus:
        raise NawtError(f"--device {device}: the Ray cluster has no GPUs")
    gpu = device != "cpu" and gpus > 0  # auto: GPUs where the cluster has them
    warning = check_url(url, nodes)
    if warning:
        say(f"warning: {warning}")
    task = ray.remote(_run_one).options(
        num_gpus=(1.0 / per_gpu) if gpu else 0, num_cpus=cpus, max_retries=max_retries, retry_exceptions=False,
        name="nawt-run")
    refs = [task.remote(url, study, data_dir, cpus, stale_after, "cuda" if gpu else "cpu", home) for _ in run_ids]
    say(f"submitted {len(refs)} Ray tasks to {nodes} node(s) "
        f"({'1/' + str(per_gpu) + ' GPU, ' if gpu else ''}{cpus} CPU each); Ctrl-C stops them")
    try:
        for done in ray.get(refs):
            for rid in done["completed"]:
                say(f"run {rid}: completed by {done['worker']}")
    except KeyboardInterrupt:
        for ref in refs:
            ray.cancel(ref)  # SIGINT to each task: its worker stops at a safe point and re-queues its run
        say("stopping the Ray tasks at a safe point (their runs go back to the queue)")
        try:  # a local Ray ends with this process: let the tasks checkpoint and re-queue first
            ray.wait(refs, num_returns=len(refs), timeout=STOP_WAIT_S)
        except ray.exceptions.RayError:
            pass
        return True
    except ray.exceptions.RayError as e:
        say(f"a Ray task failed: {str(e).splitlines()[0]}")
    return False


__all__ = ["check_url", "launch"]
