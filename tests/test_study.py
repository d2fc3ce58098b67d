"""`run_study`: trains, sweeps and writes; skips finished work; resumes after an interruption."""

from __future__ import annotations

import csv
import os
import signal
import statistics

import pytest

from nawt_core.errors import NawtError
from nawt_core.records import Reporter
from nawt_core.store import Store

TINY = {"epochs": 2, "train_subset": 256, "test_subset": 100, "batch_size": 64, "lr": 0.05}
SWEEPS = {"robustness": {"strengths": [0.0, 0.1], "trials": 2}, "quantization": {"bits": [8, 2]}}


class CtrlCAfterFirstEpoch(Reporter):
    """Presses Ctrl-C (SIGINT to this process) when the first epoch ends."""

    def epoch(self, row):
        if row["epoch"] == 1:
            os.kill(os.getpid(), signal.SIGINT)


def test_study_trains_sweeps_writes_and_resumes_after_interruption(tmp_path):
    from nawt_core.study import run_study

    data = tmp_path / "data"
    store = Store(f"sqlite:///{data / 'nawt.db'}")
    kw = dict(preset="smoke", name="t1", methods=["sam", "standard"], data_dir=data, device="cpu",
              dataset="synthetic", overrides=TINY, sweeps=SWEEPS)

    # first call: standard completes, sam is interrupted after one epoch; the call says so (no exception)
    factory = lambda cfg: CtrlCAfterFirstEpoch() if cfg.method == "sam" else None  # noqa: E731
    first = run_study(store, reporter_factory=factory, **kw)
    assert store.get_study("t1").status == "interrupted"
    assert not first.finished and first.status == "interrupted" and first.comparison is None
    runs = {r.method: r for r in store.list_runs(study="t1")}
    assert first.unfinished == [runs["sam"].id] and store.evaluations() == []  # no sweep before training ends
    assert runs["standard"].status == "completed"
    assert runs["sam"].status == "interrupted" and runs["sam"].epoch == 1

    # the same call again: standard is reused, sam resumes (same run id), sweeps and files follow
    res = run_study(store, **kw)
    assert res.skipped == [runs["standard"].id]
    assert res.trained == [runs["sam"].id]
    sam = store.get_run(runs["sam"].id)
    assert sam.status == "completed" and [e.epoch for e in store.epochs(sam.id)] == [1, 2]
    assert len(store.list_runs()) == 2  # nothing trained twice
    assert store.get_study("t1").status == "completed"
    assert store.get_study("t1").config["run_ids"] == [runs["standard"].id, runs["sam"].id]

    c = res.comparison
    assert [a["method"] for a in c.accuracy] == ["standard", "sam"]
    assert next(t for t in c.timing if t["method"] == "standard")["ratio"] == pytest.approx(1.0)
    # the ratio is median epoch time x epochs against standard's, from the stored epochs (wall time on a
    # shared machine says nothing reliable about which is faster: that is the benchmark's job)
    std_t, sam_t = (next(t for t in c.timing if t["method"] == m) for m in ("standard", "sam"))
    sam_secs = sorted(e.epoch_seconds for e in store.epochs(sam.id))
    assert sam_t["epoch_median"] == pytest.approx(statistics.median(sam_secs))
    assert sam_t["ratio"] == pytest.approx(sam_t["median_time"] / std_t["median_time"])
    assert c.strengths == [0.0, 0.1] and c.bits == [8, 2]
    out = data / "studies" / "t1"
    assert res.out_dir == out
    for name in ("runs.csv", "accuracy.csv", "timing.csv", "robustness.csv", "quantization.csv", "epochs.csv",
                 "robustness.png", "quantization.png", "curves.png", "report.html", "report.md",
                 "report-robustness.png"):
        assert (out / name).stat().st_size > 0, name
    page = (out / "report.md").read_text()  # the study's report: its runs, numbers from the comparison
    assert "study t1" in page and f"{100 * c.accuracy[0]['mean']:.2f} (1 seed)" in page
    rob = list(csv.DictReader((out / "robustness.csv").open()))
    assert {(r["method"], r["strength"]) for r in rob} == {(m, s) for m in ("standard", "sam") for s in ("0.0", "0.1")}

    # a third call does no work: no new runs, no new evaluations
    n_evals = len(store.evaluations())
    res3 = run_study(store, **kw)
    assert res3.trained == [] and len(res3.skipped) == 2
    assert len(store.evaluations()) == n_evals


def test_study_bad_input(tmp_path):
    from nawt_core.study import plan, run_study

    store = Store(f"sqlite:///{tmp_path / 'n.db'}")
    with pytest.raises(NawtError, match="unknown preset"):
        plan("huge")
    with pytest.raises(NawtError, match="unknown method"):
        plan("smoke", methods=["adam"])
    with pytest.raises(NawtError, match="seeds"):
        plan("smoke", seeds=0)
    with pytest.raises(NawtError, match="study name"):
        run_study(store, name="../evil", data_dir=tmp_path)
    assert store.list_runs() == [] and store.list_studies() == []


def test_presets_and_smoke_dataset_choice(tmp_path):
    from nawt_core.study import PRESETS, plan

    cfgs, sw = plan("paper", data_dir=tmp_path)
    assert {c.method for c in cfgs} == {"standard", "naive-noise", "noise-injection", "sam", "multistep-sam"}
    assert all(c.epochs == 200 and c.train_subset is None for c in cfgs)
    assert 0.1 in sw["robustness"]["strengths"] and sw["robustness"]["trials"] == 10
    smoke, _ = plan("smoke", data_dir=tmp_path)  # every preset trains on CIFAR-10 unless told otherwise
    assert all(c.dataset == "cifar10" for c in smoke)
    assert PRESETS["smoke"]["train"]["epochs"] <= 3
