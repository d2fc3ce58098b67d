"""Stored sweeps on a tiny trained run: points, reproducibility, engines agree,
8-bit is near lossless, the checkpoint is never changed, bad input is refused."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch

from nawt_core.config import TrainConfig
from nawt_core.errors import NawtError
from nawt_core.records import create_run
from nawt_core.runner import execute
from nawt_core.store import Store


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("sweeps")
    store = Store(f"sqlite:///{d / 'nawt.db'}")
    # fp32: the sweeps below must reproduce the training's own test accuracy exactly (bf16 sweeps are in
    # test_precision.py; in bf16 a clean sweep and training's evaluation may break an argmax tie differently)
    cfg = TrainConfig(dataset="synthetic", train_subset=512, test_subset=200, epochs=2, batch_size=64, lr=0.05,
                      device="cpu", data_dir=str(d), precision="fp32")
    run = execute(store, create_run(store, cfg, d).id, data_dir=d)
    assert run.status == "completed"
    return store, run, d


def digest(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_robustness_sweep_stores_every_point_and_reproduces(trained):
    from nawt_core.sweeps import robustness_sweep

    store, run, d = trained
    before = digest(store.path(run.checkpoint_final))
    ev = robustness_sweep(store, run.id, strengths=[0, 0.05, 0.2], trials=3, seed=4, device="cpu", data_dir=d,
                          precision="fp32")
    pts = store.points(ev.id)
    assert ev.status == "completed" and ev.kind == "robustness"
    assert len(pts) == 1 + 2 * 3  # strength 0 is deterministic: one trial
    assert ev.config["test_images"] == 200 and ev.config["mode"] == "absolute"
    assert ev.clean_acc == pytest.approx(run.final_test_acc, abs=1e-9)
    zero = [p for p in pts if p.param == 0]
    assert zero[0].accuracy == pytest.approx(ev.clean_acc)
    strong = [p.accuracy for p in pts if p.param == 0.2]
    strong_loss = [p.loss for p in pts if p.param == 0.2]
    assert min(strong_loss) > zero[0].loss  # strong noise hurts a trained model
    assert len(set(strong)) > 1 or len(set(strong_loss)) == 3  # trials differ
    again = robustness_sweep(store, run.id, strengths=[0, 0.05, 0.2], trials=3, seed=4, device="cpu", data_dir=d,
                             precision="fp32")
    assert [p.accuracy for p in store.points(again.id)] == [p.accuracy for p in pts]
    other = robustness_sweep(store, run.id, strengths=[0.2], trials=3, seed=5, device="cpu", data_dir=d,
                             precision="fp32")
    assert [p.accuracy for p in store.points(other.id)] != strong
    assert digest(store.path(run.checkpoint_final)) == before  # the file on disk is never written


def test_loop_and_batched_engines_agree_and_leave_the_model_alone(trained):
    from nawt_core.sweeps import Perturber, finished_run, load_run_model, load_test_set

    store, run, d = trained
    model, cfg = load_run_model(finished_run(store, run.id), torch.device("cpu"))  # final.pt as found from d
    state = {k: v.clone() for k, v in model.state_dict().items()}
    test = load_test_set(cfg, torch.device("cpu"), d)
    for mode in ("absolute", "relative"):
        p = Perturber(model, test.x, test.y, mode=mode, seed=1)
        jobs = [(0.0, 0), (0.05, 0), (0.05, 1), (0.1, 0), (0.1, 1)]
        loop = p.run(jobs, "loop")
        batched = p.run(jobs, "batched", chunk=3)
        for (ll, la), (bl, ba) in zip(loop, batched):
            assert abs(la - ba) <= 1 / test.n + 1e-9  # at most one argmax tie differs
            assert bl == pytest.approx(ll, rel=1e-3, abs=1e-4)
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k])


def test_quantization_sweep_8_bit_is_nearly_lossless(trained):
    from nawt_core.sweeps import quantization_sweep

    store, run, d = trained
    ev = quantization_sweep(store, run.id, bits=[8, 2], device="cpu", data_dir=d, precision="fp32")
    acc = {int(p.param): p.accuracy for p in store.points(ev.id)}
    assert set(acc) == {8, 2}
    assert abs(acc[8] - ev.clean_acc) <= 0.02
    assert ev.clean_acc == pytest.approx(run.final_test_acc)
    folded = quantization_sweep(store, run.id, bits=[8], fold_bn=True, granularity="tensor", device="cpu", data_dir=d,
                                precision="fp32")
    assert folded.clean_acc == pytest.approx(run.final_test_acc, abs=0.01)  # folding keeps the function
    assert folded.config["fold_bn"] is True


def test_unfinished_run_and_bad_input_are_refused_without_writing(trained):
    from nawt_core.sweeps import quantization_sweep, robustness_sweep

    store, run, d = trained
    queued = store.create_run(method="standard", status="interrupted", config=run.config)
    n = len(store.evaluations())
    with pytest.raises(NawtError, match="has not finished"):
        robustness_sweep(store, queued.id, device="cpu")
    with pytest.raises(NawtError, match="no run with id"):
        quantization_sweep(store, 9999, device="cpu")
    with pytest.raises(NawtError, match="1 to 16"):
        quantization_sweep(store, run.id, bits=[8, 17], device="cpu")
    with pytest.raises(NawtError, match=">= 0"):
        robustness_sweep(store, run.id, strengths=[-0.1], device="cpu")
    with pytest.raises(NawtError, match="at least 1"):
        robustness_sweep(store, run.id, trials=0, device="cpu")
    assert len(store.evaluations()) == n


def test_bench_sweep_reports_a_ratio_against_the_plain_loop():
    from nawt_core.sweeps import bench_sweep

    r = bench_sweep(device="cpu", copies=3, images=64, chunk=3)
    for k in ("sweep_evals_per_s", "reference_evals_per_s", "loop_evals_per_s", "batched_evals_per_s", "ratio"):
        assert r[k] > 0
    assert r["strategy"] in ("loop", "batched")
    assert r["max_acc_diff"] <= 1 / 64 + 1e-9  # the sweep computes the same numbers as the reference
    assert r["ratio"] == pytest.approx(r["sweep_evals_per_s"] / r["reference_evals_per_s"])
