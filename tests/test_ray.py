"""`nawt study --backend ray`: each queued run is a Ray task that claims it from the store (local Ray)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nawt_core import evalspec
from nawt_core.errors import NawtError
from nawt_core.store import Store

REPO = Path(__file__).resolve().parent.parent
TINY = {"epochs": 1, "train_subset": 128, "test_subset": 64, "batch_size": 64, "lr": 0.05}
SMOKE_KINDS = sorted(evalspec.preset_sweeps("smoke"))  # every evaluation a smoke study runs
SWEEPS = {"robustness": {"strengths": [0.0], "trials": 1}, "quantization": {"bits": [8]}}


def test_store_urls_the_cluster_can_share():
    from nawt_core.ray_backend import check_url

    assert check_url("postgresql+psycopg://u@db/nawt", 4) is None
    assert check_url("sqlite:////shared/nawt.db", 1) is None
    assert "PostgreSQL" in check_url("sqlite:////shared/nawt.db", 3)
    with pytest.raises(NawtError, match="absolute path"):
        check_url("sqlite:///data/nawt.db", 1)


def test_five_method_study_on_local_ray(tmp_path):
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'nawt[ray]')")
    from nawt_core import ray_backend
    from nawt_core.study import run_study

    url = f"sqlite:///{tmp_path / 'nawt.db'}"
    store = Store(url)
    said = []
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}})
    try:
        launch = lambda ids: ray_backend.launch(ids, url=url, study="r", data_dir=str(tmp_path), device="cpu",  # noqa: E731
                                                cpus=1, say=said.append)
        res = run_study(store, preset="smoke", name="r", seeds=1, data_dir=tmp_path, device="cpu",
                        dataset="synthetic", overrides=TINY, sweeps=SWEEPS,
                        launch=launch, home=tmp_path)
    finally:
        ray.shutdown()
    assert any(line.startswith("submitted 5 Ray tasks to 1 node(s) (1 CPU each)") for line in said)
    runs = store.list_runs(study="r")
    assert sorted(r.method for r in runs) == ["multistep-sam", "naive-noise", "noise-injection", "sam", "standard"]
    assert sorted(res.trained) == sorted(r.id for r in runs) and not res.failed
    for r in runs:  # each executed once, by a worker in a Ray process, sweeps included
        assert (r.status, r.attempts, r.queue_pos, r.epoch) == ("completed", 1, None, 1)
        assert r.worker_id and sorted(e.kind for e in store.evaluations(r.id, completed_only=True)) == SMOKE_KINDS
    assert all(r.pid != os.getpid() for r in runs)  # trained in Ray worker processes, not here


def _ray_study(tmp_path, url, said, **kw):
    """One tiny standard run as a study on the local Ray; no --device, as users type it."""
    from nawt_core import ray_backend
    from nawt_core.study import run_study

    store = Store(url, home=tmp_path)
    launch = lambda ids: ray_backend.launch(ids, url=url, study="rc", data_dir=str(tmp_path), device=None,  # noqa: E731
                                            cpus=1, say=said.append, stale_after=5.0, home=str(tmp_path))
    return run_study(store, preset="smoke", name="rc", methods=["standard"], seeds=1, data_dir=tmp_path,
                     dataset="synthetic", overrides={**TINY, "epochs": 4, "train_subset": 256}, sweeps=SWEEPS,
                     launch=launch, home=tmp_path, **kw)


def _when_trained_one_epoch(store, act):
    import threading
    import time

    def watch():
        deadline = time.time() + 300
        while time.time() < deadline:
            runs = store.list_runs()
            if runs and runs[0].epoch >= 1 and runs[0].status == "running":
                act(runs[0])
                return
            time.sleep(0.1)

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    return t


def _resumed_and_completed_once(store, first_epoch) -> None:
    (run,) = store.list_runs()
    assert run.status == "completed" and run.queue_pos is None
    epochs = store.epochs(run.id)
    assert [e.epoch for e in epochs] == [1, 2, 3, 4]  # each epoch once
    assert (epochs[0].id, epochs[0].train_loss) == first_epoch  # kept: resumed from its checkpoint, not retrained
    assert sorted(e.kind for e in store.evaluations(run.id, completed_only=True)) == SMOKE_KINDS


def test_ray_study_ctrl_c_then_again_resumes_and_completes_once(tmp_path):
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'nawt[ray]')")
    import signal

    url = f"sqlite:///{tmp_path / 'nawt.db'}"
    store = Store(url)
    said: list[str] = []
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}})
    try:
        _when_trained_one_epoch(store, lambda run: os.kill(os.getpid(), signal.SIGINT))  # Ctrl-C
        stopped = _ray_study(tmp_path, url, said)  # run_study says so (the CLI exits 130), no exception
        (run,) = store.list_runs()
        assert not stopped.finished and stopped.status == "interrupted" and stopped.unfinished == [run.id]
        assert stopped.comparison is None and store.evaluations(run.id) == []  # no sweep, no tables yet
        assert run.status == "queued" and run.queue_pos is not None and run.epoch >= 1, (run.status, run.error)
        assert store.get_study("rc").status == "interrupted"
        first = store.epochs(run.id)[0]
        res = _ray_study(tmp_path, url, said)  # the same command again
    finally:
        ray.shutdown()
    assert res.trained == [run.id] and not res.failed
    _resumed_and_completed_once(store, (first.id, first.train_loss))


def test_ray_worker_killed_mid_run_is_retried_and_resumes_once(tmp_path):
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'nawt[ray]')")
    import signal

    url = f"sqlite:///{tmp_path / 'nawt.db'}"
    store = Store(url)
    said: list[str] = []
    killed = []

    def kill(run):
        first = store.epochs(run.id)[0]
        killed.append((run.pid, (first.id, first.train_loss)))
        os.kill(run.pid, signal.SIGKILL)  # the Ray worker process that trains it

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}})
    try:
        watcher = _when_trained_one_epoch(store, kill)
        res = _ray_study(tmp_path, url, said)
        watcher.join(timeout=5)
    finally:
        ray.shutdown()
    assert killed and killed[0][0] != os.getpid(), "the run finished before its worker could be killed"
    (run,) = store.list_runs()
    assert res.trained == [run.id] and not res.failed, said
    assert run.attempts == 2  # the retried task claimed it again
    _resumed_and_completed_once(store, killed[0][1])  # epoch 1, trained by the killed worker, kept
