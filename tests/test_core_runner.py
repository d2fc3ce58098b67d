"""Training runs end to end: every method learns, resume is exact, the store records it all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from nawt_core.spec import method_names
from nawt_core.records import create_run, lr_at
from nawt_core.runner import execute
from nawt_core.store import effective_status

from helpers import REPO


@pytest.mark.parametrize("method", method_names()[:5])  # the built-ins
def test_every_method_trains_two_epochs_and_beats_chance(method, store, tiny_cfg, data_dir):
    # naive-noise at the poster's sigma 0.1 wrecks the weights each epoch (its finding);
    # a small sigma shows the method itself trains
    cfg = tiny_cfg(method=method, train_subset=1024, test_subset=500, noise_sigma=0.01)
    run = execute(store, create_run(store, cfg, data_dir).id)
    assert run.status == "completed", run.error
    epochs = store.epochs(run.id)
    assert [e.epoch for e in epochs] == [1, 2]
    assert epochs[-1].test_acc > 0.4  # chance is 0.1
    assert run.final_test_acc == epochs[-1].test_acc
    assert run.train_seconds == pytest.approx(sum(e.epoch_seconds for e in epochs))
    assert store.path(run.checkpoint_final).exists() and store.path(run.checkpoint_last).exists()
    if method in ("sam", "multistep-sam"):
        assert epochs[-1].rho is not None


def test_run_records_environment_and_config(store, tiny_cfg, data_dir):
    cfg = tiny_cfg(epochs=1, name="my run")
    run = execute(store, create_run(store, cfg, data_dir).id)
    assert run.name == "my run" and run.config["method"] == "standard" and run.config["epochs"] == 1
    assert run.torch_version == torch.__version__ and run.nawt_version
    from nawt_core.device import device_name

    assert run.device == device_name(torch.device("cpu")) and run.host and run.pid == os.getpid()
    assert run.precision in ("fp32", "bf16") and run.precision_reason.startswith("auto: ")
    assert run.started_at <= run.finished_at and run.best_test_acc >= run.final_test_acc
    assert run.batches == 512 // 64 and run.images_per_sec > 0
    # each epoch records its wall time (training + evaluation) and how loaded the machine was
    (e,) = store.epochs(run.id)
    assert e.wall_seconds >= e.epoch_seconds + e.eval_seconds > 0
    assert e.load_avg is not None and e.load_avg >= 0
    assert e.cpu_util is None or 0 <= e.cpu_util <= 1
    assert e.gpu_util is None  # a CPU run


def test_checkpoint_loads_with_weights_only(store, tiny_cfg, data_dir):
    run = execute(store, create_run(store, tiny_cfg(epochs=1), data_dir).id)
    state = torch.load(store.path(run.checkpoint_final), weights_only=True)
    assert state["epoch"] == 1 and "optimizer" in state and "rng" in state


def test_lr_schedules():
    from nawt_core.config import TrainConfig

    c = TrainConfig(epochs=4, lr=0.1)
    assert lr_at(c, 0, 10) == pytest.approx(0.1) and lr_at(c, 20, 10) == pytest.approx(0.05)
    s = TrainConfig(epochs=200, lr=0.1, schedule="step")
    assert [round(lr_at(s, e * 10, 10), 6) for e in (0, 99, 100, 149, 150, 199)] == [0.1, 0.1, 0.01, 0.01, 0.001, 0.001]


def test_diverging_loss_marks_the_run_failed(store, tiny_cfg, data_dir):
    run = execute(store, create_run(store, tiny_cfg(lr=1e6, epochs=2), data_dir).id)
    assert run.status == "failed" and ("nan" in run.error.lower() or "inf" in run.error.lower())


def _final_weights(path):
    return torch.load(path, weights_only=True)["model"]


@pytest.mark.parametrize("every", [1, 2])
def test_sigkill_mid_epoch_then_resume_equals_uninterrupted(store, tiny_cfg, data_dir, every):
    """Killed in epoch 2: it resumes from epoch 1's checkpoint, or (--checkpoint-every 2: none
    written yet) from scratch, and ends with the weights of an uninterrupted run."""
    kw = dict(method="sam", epochs=3, train_subset=640, deterministic=True, checkpoint_every=every)
    ref = execute(store, create_run(store, tiny_cfg(**kw), data_dir).id)
    run = create_run(store, tiny_cfg(**kw), data_dir)
    proc = subprocess.Popen([sys.executable, "-m", "nawt_cli", "train", "--start", str(run.id),
                             "--db", store.url, "--data-dir", str(data_dir)], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and store.get_run(run.id).epoch < 1:
        assert proc.poll() is None, "training ended before it could be killed"
        time.sleep(0.05)
    time.sleep(0.3)  # well inside epoch 2
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed = store.get_run(run.id)
    assert killed.status == "running" and killed.epoch == 1
    assert (store.folder(killed) / "last.pt").exists() == (every == 1)
    assert effective_status(killed) == "stale"
    resumed = execute(store, run.id)
    assert resumed.status == "completed" and [e.epoch for e in store.epochs(run.id)] == [1, 2, 3]
    a, b = _final_weights(store.path(ref.checkpoint_final)), _final_weights(store.path(resumed.checkpoint_final))
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_sigterm_stops_at_a_safe_point_and_the_run_resumes(store, tiny_cfg, data_dir):
    run = create_run(store, tiny_cfg(epochs=30, train_subset=1024), data_dir)
    proc = subprocess.Popen([sys.executable, "-m", "nawt_cli", "train", "--start", str(run.id),
                             "--db", store.url, "--data-dir", str(data_dir)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and store.get_run(run.id).epoch < 1:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert f"nawt train --resume {run.id}" in err
    stopped = store.get_run(run.id)
    assert stopped.status == "interrupted" and stopped.epoch >= 1
    store.update_run(run.id, config={**stopped.config, "epochs": stopped.epoch + 1})  # finish quickly
    store.update_run(run.id, epochs=stopped.epoch + 1)
    done = execute(store, run.id)
    assert done.status == "completed" and len(store.epochs(run.id)) == stopped.epoch + 1


def test_a_new_database_never_adopts_an_old_run_folder(tmp_path, tiny_cfg, data_dir):
    from nawt_core.store import Store

    first = Store(f"sqlite:///{tmp_path / 'a.db'}")
    old = execute(first, create_run(first, tiny_cfg(epochs=1), data_dir).id)
    second = Store(f"sqlite:///{tmp_path / 'b.db'}")
    new = create_run(second, tiny_cfg(epochs=2), data_dir)
    assert new.id == old.id and second.folder(new) != first.folder(old)
    done = execute(second, new.id)
    assert done.status == "completed" and len(second.epochs(new.id)) == 2 and done.train_seconds > 0


def test_a_checkpoint_of_another_run_is_refused(store, tiny_cfg, data_dir):
    import shutil

    from nawt_core.errors import NawtError

    a = execute(store, create_run(store, tiny_cfg(epochs=1), data_dir).id)
    b = create_run(store, tiny_cfg(epochs=2), data_dir)
    shutil.copy(store.folder(a) / "last.pt", store.folder(b) / "last.pt")
    with pytest.raises(NawtError, match="belongs to another run"):
        execute(store, b.id)
    assert store.get_run(b.id).status == "queued"


def test_a_runs_img_per_s_is_its_average_not_its_last_epochs(store, tiny_cfg, data_dir):
    """The run's images_per_sec (TUI header, diff, runs, CSV) is every image over its training
    seconds: an epoch slowed down (a busy machine) counts, the fast last epoch does not decide it."""
    from nawt_core.records import Reporter

    class SlowFirstEpoch(Reporter):
        done = 0

        def batch(self, batch):
            if self.done == 0:
                time.sleep(0.3)  # inside the timed steps of epoch 1 only: 2.4 s over its 8 batches

        def epoch(self, row):
            self.done += 1

    run = execute(store, create_run(store, tiny_cfg(epochs=2), data_dir).id, SlowFirstEpoch())
    assert run.status == "completed", run.error
    eps = store.epochs(run.id)
    images = sum(e.images_per_sec * e.epoch_seconds for e in eps)  # 2 x 512 images
    assert images == pytest.approx(1024, rel=1e-6)
    assert run.images_per_sec == pytest.approx(images / run.train_seconds, rel=1e-6)
    assert run.images_per_sec < 0.95 * eps[-1].images_per_sec  # the last epoch's rate would overstate it


def _count_evaluations(monkeypatch) -> list[int]:
    import nawt_core.runner as runner_mod

    calls = []
    real = runner_mod.evaluate

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(runner_mod, "evaluate", counted)
    return calls


def _final_pt_accuracy(store, run, cfg):
    """The test accuracy of the weights final.pt holds, evaluated again here (the run records
    its checkpoints relative to the data dir)."""
    from nawt_core.data import load_arrays, DeviceData
    from nawt_core.evaluate import evaluate
    from nawt_core.models import build_model

    model = build_model(cfg.arch)
    model.load_state_dict(torch.load(store.path(run.checkpoint_final), weights_only=True)["model"])
    data = DeviceData(load_arrays(cfg.dataset, cfg.data_dir, train_subset=cfg.train_subset,
                                  test_subset=cfg.test_subset), torch.device("cpu"))
    return evaluate(model, data.x_test, data.y_test, autocast_dtype=None)


@pytest.mark.parametrize("last", [True, False])
def test_naive_noise_records_the_trained_and_the_noised_accuracy(last, store, tiny_cfg, data_dir, monkeypatch):
    calls = _count_evaluations(monkeypatch)
    cfg = tiny_cfg(method="naive-noise", epochs=3, noise_sigma=0.05, noise_last_epoch=last, precision="fp32")
    run = execute(store, create_run(store, cfg, data_dir).id)
    assert run.status == "completed", run.error
    epochs = store.epochs(run.id)
    # noise after an epoch: two evaluations (the trained weights, then the noised ones); none after the
    # last one with --no-noise-last-epoch: one evaluation gives both numbers
    assert len(calls) == 6 if last else len(calls) == 5
    for e in epochs[:-1]:
        assert e.trained_test_loss != e.test_loss  # the noise moved the weights between the two
    end = epochs[-1]
    if last:
        assert end.trained_test_loss != end.test_loss
    else:
        assert (end.trained_test_loss, end.trained_test_acc) == (end.test_loss, end.test_acc)
    assert run.final_test_acc == end.test_acc and run.final_trained_test_acc == end.trained_test_acc
    # final.pt holds the weights test_acc measures: after the last noise, or the trained ones without it
    loss, acc = _final_pt_accuracy(store, run, cfg)
    assert acc == run.final_test_acc and loss == pytest.approx(end.test_loss, rel=1e-5)


def test_a_method_without_an_end_change_evaluates_once_per_epoch(store, tiny_cfg, data_dir, monkeypatch):
    calls = _count_evaluations(monkeypatch)
    run = execute(store, create_run(store, tiny_cfg(method="standard", epochs=2), data_dir).id)
    assert run.status == "completed", run.error
    assert len(calls) == 2
    for e in store.epochs(run.id):
        assert (e.trained_test_loss, e.trained_test_acc) == (e.test_loss, e.test_acc) != (None, None)
    assert run.final_trained_test_acc == run.final_test_acc


def test_epochs_record_weight_stats_and_cost_class(store, tiny_cfg, data_dir):
    from nawt_core.models import build_model, weight_params

    cfg = tiny_cfg(method="multistep-sam", epochs=3, rho_stages=[0.0, 0.0, 0.05], eval_every=2)
    run = execute(store, create_run(store, cfg, data_dir).id)
    assert run.status == "completed", run.error
    epochs = store.epochs(run.id)
    assert [e.cost_class for e in epochs] == ["1 pass", "1 pass", "2 passes"]
    assert epochs[0].test_acc is None and epochs[0].trained_test_acc is None  # --eval-every 2: not evaluated
    names = [n.removesuffix(".weight") for n, _ in weight_params(build_model("resnet20"))]
    assert all(list(e.weight_stats) == names for e in epochs)
    assert epochs[0].weight_stats != epochs[-1].weight_stats
    state = torch.load(store.path(run.checkpoint_final), weights_only=True)["model"]
    for name, got in epochs[-1].weight_stats.items():  # the weights final.pt holds, by hand
        w = state[f"{name}.weight"].float()
        want = {"l2": w.pow(2).sum().sqrt().item(), "max": w.abs().max().item(), "std": w.std().item()}
        assert got == pytest.approx(want, rel=1e-5)
