"""Issue 18: the scale-out commands as users type them (no `--device`), on a CUDA host
simulated by tests/fake_cuda (torch sees N GPUs; the `nawt worker` processes a study would
start are recorded instead), a study that adopts runs another study queued, and a worker
asked for a GPU on a host without one."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from helpers import REPO, run_cli
from nawt_core.store import Store

TINY = ["--dataset", "synthetic", "-m", "standard", "--epochs", "1", "--train-subset", "128", "--test-subset", "64"]


def _study_on_fake_cuda(tmp_path: Path, gpus: int, *args: str) -> tuple:
    launches = tmp_path / "launches.jsonl"
    env = {"NAWT_TEST_FAKE_CUDA": str(gpus), "NAWT_TEST_LAUNCHES": str(launches),
           "PYTHONPATH": os.pathsep.join([str(REPO / "tests" / "fake_cuda"), str(REPO)])}
    out = run_cli("study", *TINY, "--seeds", "3", "--data-dir", str(tmp_path / "d"), *args, env=env)
    workers = [json.loads(line) for line in launches.read_text().splitlines()] if launches.exists() else []
    return out, workers


@pytest.mark.parametrize("args,visible", [
    (("--jobs", "2"), ["0", "1"]),  # as the README's example is typed: no --device
    (("--jobs", "3", "--device", "cuda:1"), ["1", "1", "1"]),
    (("--gpus", "0,1"), ["0", "1"]),
], ids=["jobs", "jobs-cuda1", "gpus"])
def test_study_jobs_on_a_cuda_host_gives_each_worker_its_gpu_as_cuda(tmp_path, args, visible):
    out, workers = _study_on_fake_cuda(tmp_path, 2, *args)
    assert "Traceback" not in out.stderr and "AttributeError" not in out.stderr, out.stderr
    assert out.returncode == 130, out.stderr  # the recorded workers trained nothing: "not finished"
    assert [w["cuda_visible_devices"] for w in workers] == visible
    for w in workers:  # the worker sees one GPU: it trains on its cuda:0 ("cuda"), never the cuda:N of the study
        argv = w["argv"]
        assert argv[argv.index("--device") + 1] == "cuda", argv
        assert argv[argv.index("--study") + 1] == "smoke"


def test_study_jobs_starts_no_more_workers_than_runs(tmp_path):
    out, workers = _study_on_fake_cuda(tmp_path, 2, "--jobs", "8", "--seeds", "1")
    assert out.returncode == 130 and len(workers) == 1, (out.stderr, workers)


def test_study_ray_refuses_a_gpu_number_before_queueing(tmp_path):
    out = run_cli("study", *TINY, "--backend", "ray", "--device", "cuda:1", "--data-dir", str(tmp_path / "d"))
    assert out.returncode == 2 and "Ray gives each run its GPU" in out.stderr, out.stderr
    assert not (tmp_path / "d").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a host without CUDA")
def test_worker_asked_for_cuda_without_cuda_refuses_at_start(tmp_path):
    data = tmp_path / "d"
    assert run_cli("train", "--queue", *TINY[:1], "synthetic", "--epochs", "1", "--data-dir", str(data)).returncode == 0
    for device in ("cuda", "cuda:3"):
        out = run_cli("worker", "--device", device, "--data-dir", str(data))
        lines = out.stderr.strip().splitlines()
        assert out.returncode == 2 and len(lines) == 1 and "CUDA is not available here" in lines[0], out.stderr
    run = Store(f"sqlite:///{data / 'nawt.db'}").get_run(1)
    assert (run.status, run.attempts, run.worker_id) == ("queued", 0, None)  # nothing claimed, nothing failed


def test_a_study_adopts_runs_another_study_queued_and_trains_them(tmp_path):
    """`study --queue-only --name first`, then the same settings as `--name second --jobs 2`:
    the second study's workers claim the first's queued runs (by id) and the study completes."""
    data = tmp_path / "d"
    base = [*TINY, "--device", "cpu", "--data-dir", str(data)]
    first = run_cli("study", *base, "--name", "first", "--queue-only")
    assert first.returncode == 0, first.stderr
    store = Store(f"sqlite:///{data / 'nawt.db'}")
    (queued,) = store.list_runs()
    assert queued.study == "first" and queued.status == "queued"
    second = run_cli("study", *base, "--name", "second", "--jobs", "2", timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]
    (run,) = store.list_runs()  # adopted, not trained again under another id
    assert run.id == queued.id and run.status == "completed" and run.attempts == 1
    assert store.get_study("second").status == "completed" and store.get_study("second").config["run_ids"] == [run.id]
    assert "1 completed run" in second.stdout
