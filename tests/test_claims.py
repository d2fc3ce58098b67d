"""Issue 18: one run, one trainer; one study, one process (on SQLite and PostgreSQL).

Two `nawt train --resume ID` at once: one trains, the other is refused. A worker paused
(SIGSTOP) past the heartbeat timeout, whose run was re-queued and claimed by another
worker, stops at its next heartbeat without writing. A second `nawt study` of a name that
is running is refused and changes nothing, and a study refused for any reason leaves the
study's list of runs as it was."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from helpers import REPO, run_cli
from nawt_core import queue
from nawt_core.errors import NawtError
from nawt_core.store import Store, utcnow

TINY = dict(dataset="synthetic", train_subset=128, test_subset=64, batch_size=32, lr=0.05, device="cpu")


def _env(url: str) -> dict:
    return {**os.environ, "NAWT_DB": url, "PYTHONPATH": str(REPO)}


def _run(store, tiny_cfg, data_dir, **kw):
    from nawt_core.records import create_run

    run = create_run(store, tiny_cfg(**{**TINY, **kw}), data_dir)
    return store.update_run(run.id, pid=None, status="interrupted")


def test_take_is_won_by_one_of_two_readers(db_url, tiny_cfg, data_dir):
    """Two processes read the run as resumable; only the first take succeeds, and every fenced
    write of a token that is no longer the run's is refused."""
    from nawt_core import claims
    from nawt_core.errors import LostClaim

    store = Store(db_url, home=data_dir)
    run = _run(store, tiny_cfg, data_dir)
    seen_by_a, seen_by_b = store.get_run(run.id), store.get_run(run.id)
    a = claims.take(store, seen_by_a)
    assert a.status == "running" and a.pid == os.getpid() and a.claim
    with pytest.raises(NawtError, match="being trained by another process"):
        claims.take(store, seen_by_b)
    assert store.get_run(run.id).claim == a.claim
    store.update_run(run.id, holding=a.claim, batch=3)  # the holder writes
    store.update_run(run.id, claim="someone-else")
    with pytest.raises(LostClaim):
        store.update_run(run.id, holding=a.claim, batch=4)
    with pytest.raises(LostClaim):
        store.add_epoch(run.id, run_fields={"epoch": 1}, holding=a.claim, epoch=1, train_loss=1.0, train_acc=0.1)
    assert store.get_run(run.id).batch == 3 and store.epochs(run.id) == []


def test_two_resumes_at_once_train_the_run_once(tmp_path, tiny_cfg, data_dir):
    """`nawt train --resume ID` twice at the same moment: exactly one trains and completes."""
    store = Store(f"sqlite:///{data_dir / 'nawt.db'}")
    run = _run(store, tiny_cfg, data_dir, epochs=1)
    cmd = [sys.executable, "-m", "nawt_cli", "train", "--resume", str(run.id), "--data-dir", str(data_dir)]
    env = {k: v for k, v in os.environ.items() if k != "NAWT_DB"}
    procs = [subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    codes = sorted(p.returncode for p in procs)
    done = store.get_run(run.id)
    assert codes == [0, 2], outs
    loser = next(err for p, (_o, err) in zip(procs, outs) if p.returncode == 2)
    assert "being trained by another process" in loser or "is still running" in loser, loser
    assert sum("completed" in out for out, _e in outs) == 1
    assert done.status == "completed" and [e.epoch for e in store.epochs(run.id)] == [1]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_paused_worker_whose_run_was_reclaimed_stops_without_writing(backend, request, tiny_cfg, data_dir):
    url = f"sqlite:///{data_dir / 'nawt.db'}" if backend == "sqlite" else request.getfixturevalue("pg_url")
    store = Store(url)
    from nawt_core.records import create_run

    run = create_run(store, tiny_cfg(**{**TINY, "epochs": 50, "train_subset": 512}), data_dir)
    queue.enqueue(store, run.id)
    cmd = [sys.executable, "-m", "nawt_cli", "worker", "--once", "--threads", "1", "--data-dir", str(data_dir),
           "--stale-after", "1"]
    victim = subprocess.Popen(cmd, cwd=REPO, env=_env(url), stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 240
        while time.time() < deadline and victim.poll() is None:
            r = store.get_run(run.id)
            if r.status == "running" and (r.batch > 0 or r.epoch > 0):
                break  # training, with heartbeats written
            time.sleep(0.1)
        assert victim.poll() is None, victim.stderr.read()[-2000:]
        os.kill(victim.pid, signal.SIGSTOP)
        time.sleep(2.5)  # silent past its --stale-after of 1 s
        assert queue.reap(store, stale_after=1.0) == [f"run {run.id} re-queued"]
        other = queue.Owner("w-other", "other-host", 4242, "cpu")
        taken = queue.claim(store, other)
        assert taken.id == run.id and taken.worker_id == "w-other" and taken.attempts == 2
        frozen = store.get_run(run.id)
        epochs_before = [(e.epoch, e.train_loss) for e in store.epochs(run.id)]
        os.kill(victim.pid, signal.SIGCONT)
        _out, err = victim.communicate(timeout=120)
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait()
    after = store.get_run(run.id)
    assert "taken over by another" in err, err[-2000:]
    # the woken worker wrote nothing: not a heartbeat, an epoch, a status or a release
    assert (after.status, after.worker_id, after.claim, after.heartbeat_at, after.epoch, after.batch,
            after.queue_pos) == (frozen.status, frozen.worker_id, frozen.claim, frozen.heartbeat_at, frozen.epoch,
                                 frozen.batch, frozen.queue_pos)
    assert [(e.epoch, e.train_loss) for e in store.epochs(run.id)] == epochs_before


def test_a_second_study_of_a_running_name_is_refused_and_changes_nothing(db_url, data_dir):
    from nawt_core import claims

    store = Store(db_url, home=data_dir)
    token = claims.hold_study(store, "twin")  # this (live) process runs study twin
    store.upsert_study("twin", config={"run_ids": [7]}, status="running")
    with pytest.raises(NawtError, match="twin is running in another process"):
        claims.hold_study(store, "twin")
    args = ["study", "--name", "twin", "--dataset", "synthetic", "-m", "standard", "--epochs", "1",
            "--train-subset", "128", "--test-subset", "64", "--data-dir", str(data_dir)]
    out = run_cli(*args, env={"NAWT_DB": db_url})
    assert out.returncode == 2 and "twin is running in another process" in out.stderr, out.stderr
    assert store.get_study("twin").config == {"run_ids": [7]} and store.list_runs() == []
    claims.release_study(store, "twin", token)
    assert store.get_study("twin").holder is None
    claims.release_study(store, "twin", claims.hold_study(store, "twin"))  # free again


def test_a_study_holder_on_a_dead_pid_or_a_silent_host_is_taken_over(tmp_path):
    from datetime import timedelta

    from nawt_core import claims

    store = Store(f"sqlite:///{tmp_path / 'n.db'}")
    store.upsert_study("s", holder="gone", holder_host=os.uname().nodename, holder_pid=2**22 + 12345)
    assert claims.hold_study(store, "s")
    store.upsert_study("s", holder="far", holder_host="far-away", holder_pid=1, heartbeat_at=utcnow())
    with pytest.raises(NawtError, match="pid 1 on far-away"):
        claims.hold_study(store, "s")
    store.upsert_study("s", heartbeat_at=utcnow() - timedelta(seconds=claims.STUDY_SILENT_S + 5))
    assert claims.hold_study(store, "s")


def test_a_refused_study_keeps_its_list_of_runs(tmp_path, tiny_cfg):
    """A run of the study trains in another process: the study is refused (exit 2) and its row,
    with the list of runs the first study made, is exactly as it was."""
    data = tmp_path / "data"
    store = Store(f"sqlite:///{data / 'nawt.db'}")
    from nawt_core.study import plan

    cfgs, _ = plan("smoke", methods=["standard"], seeds=1, data_dir=data, dataset="synthetic", name="keep",
                   overrides={"epochs": 1, "train_subset": 128, "test_subset": 64})
    from nawt_core.records import create_run

    run = create_run(store, cfgs[0], data)
    store.update_run(run.id, status="running", pid=os.getpid(), heartbeat_at=utcnow())  # training elsewhere now
    store.upsert_study("keep", preset="smoke", config={"run_ids": [run.id], "preset": "smoke"}, status="completed")
    before = store.get_study("keep")
    out = run_cli("study", "--name", "keep", "--dataset", "synthetic", "-m", "standard", "--epochs", "1",
                  "--train-subset", "128", "--test-subset", "64", "--data-dir", str(data))
    assert out.returncode == 2 and f"run {run.id}" in out.stderr and "training now" in out.stderr, out.stderr
    after = store.get_study("keep")
    assert (after.config, after.status, after.holder) == (before.config, before.status, None)
