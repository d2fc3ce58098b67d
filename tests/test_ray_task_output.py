"""Issue 19: a Ray task's output is what the driver shows (Ray forwards a task's stdout), so the
task body must print the run's start, every epoch and the sweeps, each prefixed by its run id.
The body runs in process here (the Ray plumbing itself is tests/test_ray.py)."""

from __future__ import annotations

from helpers import run_cli
from nawt_core import ray_backend
from nawt_core.store import Store


def test_a_ray_task_prints_a_line_per_epoch_and_sweep_prefixed_by_its_run(tmp_path, capsys):
    queued = run_cli("study", "--data-dir", str(tmp_path), "--dataset", "synthetic", "--device", "cpu", "-m",
                     "standard", "--seeds", "1", "--epochs", "2", "--train-subset", "128", "--test-subset", "64",
                     "--name", "rq", "--queue-only")
    assert queued.returncode == 0, queued.stderr[-2000:]
    url = f"sqlite:///{tmp_path / 'nawt.db'}"
    res = ray_backend._run_one(url, "rq", str(tmp_path), threads=1, stale_after=60.0, device="cpu",
                               home=str(tmp_path))
    assert (res["completed"], res["failed"]) == ([1], []), res
    lines = capsys.readouterr().out.splitlines()
    assert any(ln.startswith("[run 1] standard seed 0, starting: 2 epochs on ") for ln in lines), lines
    epochs = [ln for ln in lines if ln.startswith("[run 1] epoch ")]
    assert [ln.split()[3] for ln in epochs] == ["1/2", "2/2"], lines
    assert all("loss " in ln and "acc " in ln and "img/s" in ln for ln in epochs), epochs
    assert epochs[-1].split("eta ")[1].startswith("0s"), epochs  # the run is done: nothing left
    assert any(ln.startswith("[run 1] robustness sweep: ") for ln in lines), lines
    assert Store(url).get_run(1).status == "completed"
