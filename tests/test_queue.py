"""The run queue on SQLite and a live PostgreSQL: order, atomic claims under a race,
workers that train queued runs exactly once, a killed worker's run resumed
exactly, `nawt study --jobs 2` stopped by Ctrl-C and continued."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest

from helpers import REPO, run_cli
from nawt_core import queue
from nawt_core.errors import NawtError
from nawt_core.store import Store, utcnow

BACKENDS = ["sqlite", "postgresql"]
TINY = dict(dataset="synthetic", train_subset=256, test_subset=100, batch_size=64, lr=0.05, device="cpu")


@pytest.fixture(params=BACKENDS)
def db_url(request, data_dir):
    if request.param == "sqlite":
        return f"sqlite:///{data_dir / 'nawt.db'}"
    return request.getfixturevalue("pg_url")


def _plain_runs(store: Store, n: int, **kw) -> list[int]:
    """n queued runs without folders (for the claim-only tests)."""
    ids = []
    for i in range(n):
        run = store.create_run(method="standard", seed=i, config={}, **kw)
        queue.enqueue(store, run.id)
        ids.append(run.id)
    return ids


def _worker_env(url: str) -> dict:
    return {**os.environ, "NAWT_DB": url, "PYTHONPATH": str(REPO)}


def test_queue_order_move_cancel_and_claim(db_url):
    store = Store(db_url)
    a, b, c, d = _plain_runs(store, 4)
    assert [r.id for r in queue.queued(store)] == [a, b, c, d]
    queue.move(store, c, 1)
    queue.move(store, a, 99)  # past the end: last
    assert [r.id for r in queue.queued(store)] == [c, b, d, a]
    queue.cancel(store, d)
    assert store.get_run(d).status == "interrupted" and store.get_run(d).queue_pos is None
    with pytest.raises(NawtError, match="not queued"):
        queue.cancel(store, d)
    owner = queue.Owner.here("cpu")
    queue.register(store, owner)
    claimed = [queue.claim(store, owner) for _ in range(4)]
    assert [r.id if r else None for r in claimed] == [c, b, a, None]
    first = claimed[0]
    assert first.status == "running" and first.attempts == 1 and first.worker_id == owner.worker_id
    assert first.pid == os.getpid() and first.claimed_at is not None
    # a claimed run is listed after the waiting ones, and cannot be moved
    with pytest.raises(NawtError, match="not waiting"):
        queue.move(store, c, 1)


def test_reaper_requeues_a_silent_claim_then_gives_up(db_url):
    """A claim silent past the timeout goes back to the front (attempts counted);
    at max_attempts the run fails with the reason. Another host's claim: only its silence counts."""
    store = Store(db_url)
    first, second = _plain_runs(store, 2)
    owner = queue.Owner("w-far", "far-away-host", 999999, "cuda:0")
    run = queue.claim(store, owner)
    assert run.id == first
    assert queue.reap(store, stale_after=60) == []  # beating recently: left alone
    store.update_run(first, heartbeat_at=utcnow() - timedelta(seconds=30))
    assert queue.reap(store, stale_after=60) == []
    assert queue.reap(store, stale_after=10) == [f"run {first} re-queued"]
    r = store.get_run(first)
    assert r.status == "queued" and r.worker_id is None and "stopped heartbeating" in r.error
    assert [x.id for x in queue.queued(store)] == [first, second]  # at the front
    run = queue.claim(store, owner)
    assert run.id == first and run.attempts == 2
    store.update_run(first, heartbeat_at=utcnow() - timedelta(seconds=30))
    assert queue.reap(store, stale_after=10, max_attempts=2) == [f"run {first} failed (2 attempts)"]
    r = store.get_run(first)
    assert r.status == "failed" and r.queue_pos is None and "gave up after 2 attempts" in r.error


@pytest.mark.parametrize("backend", BACKENDS)
def test_claim_race_every_run_exactly_once(backend, request, tmp_path):
    """4 processes race for 20 queued runs: each run is claimed (executed) exactly once."""
    url = f"sqlite:///{tmp_path / 'nawt.db'}" if backend == "sqlite" else request.getfixturevalue("pg_url")
    store = Store(url)
    ids = _plain_runs(store, 20)
    start_at = time.time() + 3.0  # after every racer has imported and connected
    outs = [tmp_path / f"w{i}.txt" for i in range(4)]
    procs = [subprocess.Popen([sys.executable, str(REPO / "tests" / "claim_harness.py"), url, str(o), str(start_at)],
                              env=_worker_env(url), stderr=subprocess.PIPE, text=True) for o in outs]
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err[-2000:]
    executed = [int(x) for o in outs for x in o.read_text().split()]
    assert sorted(executed) == ids  # none lost, none twice
    assert sum(1 for o in outs if o.read_text().strip()) >= 2  # a real race: several workers took runs
    runs = store.list_runs()
    assert all(r.status == "completed" and r.attempts == 1 and r.queue_pos is None for r in runs)
    assert len({r.worker_id for r in runs}) >= 2


def test_two_workers_train_queued_runs_once_on_postgresql(pg_url, data_dir, tiny_cfg):
    """Two `nawt worker` processes train 4 tiny queued runs from a PostgreSQL store: each
    completed once, by one worker (on SQLite the fault and study tests run real workers)."""
    from nawt_core.records import create_run

    store = Store(pg_url)
    url = pg_url
    ids = [queue.enqueue(store, create_run(store, tiny_cfg(**{**TINY, "seed": s, "epochs": 1, "train_subset": 128}),
                                             data_dir).id).id
           for s in range(4)]
    cmd = [sys.executable, "-m", "nawt_cli", "worker", "--threads", "1", "--data-dir", str(data_dir)]
    procs = [subprocess.Popen(cmd, cwd=REPO, env=_worker_env(url), stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    logs = []
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err[-2000:]
        logs.append(err)
    claims = [int(line.split()[1]) for log in logs for line in log.splitlines() if line.endswith("(attempt 1)")]
    assert sorted(claims) == ids
    for r in store.list_runs():
        assert r.status == "completed" and r.attempts == 1 and r.queue_pos is None
        assert [e.epoch for e in store.epochs(r.id)] == [1]
    ws = queue.workers(store)
    assert len(ws) == 2 and all(w.status == "stopped" for w in ws)
    assert sum(w.runs_done for w in ws) == 4


def _final_weights(store, run):
    import torch

    return torch.load(store.path(run.checkpoint_final), map_location="cpu", weights_only=False)["model"]


def test_killed_worker_run_is_reclaimed_and_resumes_exactly(store, data_dir, tiny_cfg):
    """kill -9 a worker after its run's first epoch; after the timeout another worker
    re-queues and resumes it; with --deterministic its weights equal an uninterrupted run's."""
    import torch

    from nawt_core.records import Reporter, create_run
    from nawt_core.runner import execute
    from nawt_core.worker import work

    cfg = dict(TINY, epochs=4, deterministic=True, seed=3)
    run = create_run(store, tiny_cfg(**cfg), data_dir)
    queue.enqueue(store, run.id)
    cmd = [sys.executable, "-m", "nawt_cli", "worker", "--once", "--threads", "1", "--data-dir", str(data_dir)]
    victim = subprocess.Popen(cmd, cwd=REPO, env=_worker_env(store.url), stderr=subprocess.DEVNULL)
    deadline = time.time() + 90
    while store.get_run(run.id).epoch < 1 and victim.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    killed = store.get_run(run.id)
    assert killed.status == "running" and 1 <= killed.epoch < 4, "the worker must die mid-run"

    # as seen from another host (its pid means nothing there), only the silence counts: the timeout
    assert queue.reap(store, stale_after=30, host="another-host") == []
    time.sleep(1.2)
    assert queue.reap(store, stale_after=1.0, host="another-host") == [f"run {run.id} re-queued"]

    class Starts(Reporter):
        def start(self, run, start_epoch):
            starts.append(start_epoch)

    starts: list[int] = []
    threads = torch.get_num_threads()
    try:
        res = work(store, threads=1, once=True, stale_after=1.0, reporter_factory=lambda r: Starts())
        resumed = store.get_run(run.id)
        assert res.completed == [run.id] and resumed.status == "completed" and resumed.attempts == 2
        assert starts == [killed.epoch]  # resumed from its checkpoint, not from scratch
        assert [e.epoch for e in store.epochs(run.id)] == [1, 2, 3, 4]
        plain = create_run(store, tiny_cfg(**cfg), data_dir)
        plain = execute(store, plain.id)
    finally:
        torch.set_num_threads(threads)
    a, b = _final_weights(store, resumed), _final_weights(store, plain)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_study_jobs_2_ctrl_c_then_rerun_continues(tmp_path):
    """`nawt study --jobs 2`: Ctrl-C (SIGINT to its process group) stops both workers at a
    safe point; the same command again resumes the runs and writes the tables."""
    data = tmp_path / "data"
    args = ["study", "--data-dir", str(data), "--dataset", "synthetic", "--device", "cpu", "-m", "standard,sam",
            "--epochs", "3", "--train-subset", "128", "--test-subset", "64", "--name", "j2", "--jobs", "2"]
    env = {k: v for k, v in os.environ.items() if k != "NAWT_DB"}
    store = Store(f"sqlite:///{data / 'nawt.db'}")  # made before the study opens it: no creation race
    p = subprocess.Popen([sys.executable, "-m", "nawt_cli", *args], cwd=REPO, env=env, start_new_session=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 90
    while time.time() < deadline and p.poll() is None and not any(r.epoch >= 1 for r in store.list_runs()):
        time.sleep(0.05)
    os.killpg(p.pid, signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130, err[-2000:]
    runs = store.list_runs()
    assert store.get_study("j2").status == "interrupted"
    assert len(runs) == 2 and all(r.status in ("queued", "completed") for r in runs), [r.status for r in runs]
    unfinished = {r.id: r.epoch for r in runs if r.status == "queued"}
    assert unfinished, "Ctrl-C came after both runs finished"
    assert all(r.queue_pos is not None for r in runs if r.status == "queued")

    out = run_cli(*args, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    runs = store.list_runs()
    assert len(runs) == 2 and all(r.status == "completed" for r in runs)  # nothing trained twice
    for rid, epoch in unfinished.items():
        said = next(line for line in out.stderr.splitlines() if line.startswith(f"run {rid} "))
        assert said.endswith(f"queued (resumes from epoch {epoch})" if epoch else "queued"), said
        assert [e.epoch for e in store.epochs(rid)] == [1, 2, 3]
        # the workers' lines reach the study's output, run id first, with the ETAs
        assert any(line.startswith(f"[run {rid}] epoch 3/3  loss ") and "eta 0s, study ≈" in line
                   for line in out.stderr.splitlines()), out.stderr[-2000:]
    assert store.get_study("j2").status == "completed"
    from nawt_core import evalspec

    assert len(store.evaluations()) == 2 * len(evalspec.preset_sweeps("smoke"))  # every sweep of both runs, once each
    for name in ("runs.csv", "accuracy.csv", "robustness.csv", "quantization.csv"):
        assert (data / "studies" / "j2" / name).stat().st_size > 0


def test_cli_train_queue_list_move_cancel_and_bad_input(tmp_path):
    data = str(tmp_path / "data")
    base = ["--data-dir", data]
    for s in range(3):
        out = run_cli("train", "--queue", "--dataset", "synthetic", "--epochs", "1", "--seed", str(s), *base)
        assert out.returncode == 0 and f"run {s + 1} queued (number {s + 1})" in out.stdout, out.stderr
    out = run_cli("runs", "--status", "queued", "--json", *base)
    assert [r["id"] for r in json.loads(out.stdout)] == [1, 2, 3]
    assert run_cli("queue", "move", "3", "--top", *base).stdout.strip() == "run 3 is now number 1 in the queue"
    assert run_cli("queue", "cancel", "1", *base).returncode == 0
    out = run_cli("stop", "2", *base)  # waiting: nothing to signal, it leaves the queue
    assert out.returncode == 0 and "run 2 taken out of the queue" in out.stdout, out.stderr
    out = run_cli("queue", "--json", *base)
    rows = json.loads(out.stdout)
    assert [(r["place"], r["id"], r["status"]) for r in rows] == [(1, 3, "queued")]
    store = Store(f"sqlite:///{data}/nawt.db", create=False)
    assert [store.get_run(i).status for i in (1, 2)] == ["interrupted", "interrupted"]
    for bad, msg in [(("queue", "move", "1", "--to", "1"), "not waiting in the queue"),
                     (("queue", "move", "3"), "give either --to N or --top"),
                     (("queue", "cancel", "9"), "no run with id 9"),
                     (("worker", "--device", "gpu"), "--device must be cpu, cuda or cuda:N"),
                     (("train", "--queue", "--detach", "--dataset", "synthetic"), "exclude each other"),
                     (("study", "--jobs", "0", "--dataset", "synthetic"), "--jobs must be from 1 to"),
                     (("study", "--gpus", "0", "--device", "cpu", "--dataset", "synthetic"), "--gpus")]:
        out = run_cli(*bad, *base)
        lines = out.stderr.strip().splitlines()
        assert out.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: ") and msg in lines[0], bad
    rows2 = json.loads(run_cli("queue", "--json", *base).stdout)
    assert rows2 == rows  # bad input changed nothing


def test_plan_slots():
    from nawt_core.launchers import plan_slots

    assert plan_slots(2, None, 1, "cpu", 2, 0) == [{"gpu": None, "threads": 1}] * 2
    assert plan_slots(None, "0,2", 2, "auto", 16, 4) == [{"gpu": g, "threads": 4} for g in (0, 0, 2, 2)]
    assert [s["gpu"] for s in plan_slots(3, None, 1, "auto", 8, 2)] == [0, 1, 0]
    assert [s["gpu"] for s in plan_slots(2, None, 1, "cuda:1", 8, 2)] == [1, 1]
    with pytest.raises(NawtError, match="has 2 CUDA device"):
        plan_slots(None, "0,5", 1, "auto", 8, 2)
    with pytest.raises(NawtError, match="does not match"):
        plan_slots(3, "0,1", 1, "auto", 8, 2)
