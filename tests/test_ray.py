"""`nawt study --backend ray`: each queued run is a Ray task that claims it from the store (local Ray)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nawt_core.errors import NawtError
from nawt_core.store import Store

REPO = Path(__file__).resolve().parent.parent
TINY = {"epochs": 1, "train_subset": 128, "test_subset": 64, "batch_size": 64, "lr": 0.05}
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
        assert r.worker_id and sorted(e.kind for e in store.evaluations(r.id, completed_only=True)) == ["quantization", "robustness"]
    assert all(r.pid != os.getpid() for r in runs)  # trained in Ray worker processes, not here
