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


def test_a_piped_study_says_its_device_and_precision_and_each_epoch(tmp_path):
    """Piped (as into a log): one line with what the study resolved, a line per epoch with the ETAs
    of the run and the study, and the sweeps' progress, each prefixed by the run id."""
    from helpers import run_cli

    res = run_cli("study", "--data-dir", str(tmp_path), "--dataset", "synthetic", "--device", "cpu", "-m",
                  "standard", "--seeds", "2", "--epochs", "2", "--train-subset", "128", "--test-subset", "64",
                  "--name", "w", "--precision", "fp32")
    assert res.returncode == 0, res.stderr[-2000:]
    lines = res.stderr.splitlines()
    assert lines[0].startswith("study w: device ") and "precision fp32 (fp32 as asked)" in lines[0], lines[0]
    assert any(ln.startswith("[run 1] standard seed 0, starting: 2 epochs on ") and "precision fp32" in ln
               for ln in lines), lines
    ep = [ln for ln in lines if ln.startswith("[run 1] epoch ")]
    assert [ln.split()[3] for ln in ep] == ["1/2", "2/2"], lines
    assert "loss " in ep[0] and "acc " in ep[0] and " test " in ep[0] and "eta " in ep[0]
    assert all(", study ≈" in ln for ln in ep), ep
    last = [ln for ln in lines if ln.startswith("[run 2] epoch 2/2")]
    assert len(last) == 1 and last[0].endswith("eta 0s, study ≈0s"), lines  # nothing left
    assert any(ln.startswith("[run 1] robustness sweep: ") and ln.endswith("done") for ln in lines), lines
    assert any(ln.startswith("[run 2] quantization sweep: ") for ln in lines), lines
    # one evaluation for every run before the next: a study stopped part-way has whole tables
    first = {p: next(i for i, ln in enumerate(lines) if ln.startswith(p))
             for p in ("[run 2] robustness sweep", "[run 1] quantization sweep")}
    assert first["[run 2] robustness sweep"] < first["[run 1] quantization sweep"], lines


def test_an_in_process_studys_eta_counts_the_runs_not_yet_created(store, data_dir):
    """run_study creates its runs one after another: the study ETA counts the planned epochs."""
    from nawt_core.study import plan, run_study
    from nawt_core.watch import LineReporter, planned_left

    over = {"epochs": 2, "train_subset": 128, "test_subset": 64}
    cfgs, _ = plan("smoke", methods=["standard"], seeds=2, data_dir=data_dir, dataset="synthetic",
                   overrides=over, name="eta", device="cpu")
    seen = []

    class Spy(LineReporter):
        def epoch(self, row):
            seen.append((row["epoch"], planned_left(store, cfgs)[0]))

    run_study(store, preset="smoke", name="eta", methods=["standard"], seeds=2, data_dir=data_dir,
              dataset="synthetic", overrides=over, device="cpu", figures=False,
              sweeps={"robustness": {"strengths": [0.0], "trials": 1}, "quantization": {"bits": [8]}},
              reporter_factory=lambda _cfg: Spy(lambda s: None))
    assert seen == [(1, 3), (2, 2), (1, 1), (2, 0)]


def test_multistep_sam_whose_epochs_all_have_rho_0_says_it_trains_plain_sgd(tmp_path):
    from helpers import run_cli

    base = ["--data-dir", str(tmp_path), "--dataset", "synthetic", "--device", "cpu"]
    res = run_cli("train", "--queue", "--method", "multistep-sam", "--epochs", "1", *base)
    assert res.returncode == 0, res.stderr
    warn = [ln for ln in res.stderr.splitlines() if ln.startswith("warning: ")]
    assert warn == ["warning: multistep-sam: every one of its 1 epoch falls in a stage with rho = 0 (rho per stage "
                    "0, 0.025, 0.05), so it trains plain SGD, like standard; give it at least 2 epochs"], res.stderr
    res = run_cli("train", "--queue", "--method", "multistep-sam", "--epochs", "2", *base)
    assert res.returncode == 0 and "warning" not in res.stderr, res.stderr  # epoch 2 has rho 0.025
    res = run_cli("study", "-m", "standard,multistep-sam", "--seeds", "2", "--epochs", "1", "--queue-only",
                  "--name", "ms", *base)
    assert res.returncode == 0, res.stderr
    assert res.stderr.count("so it trains plain SGD") == 1, res.stderr  # once, not per seed


def test_a_study_can_train_both_naive_noise_variants_as_rows(tmp_path):
    from nawt_core.compare import compare
    from nawt_core.study import plan

    cfgs, _ = plan("smoke", methods=["standard", "naive-noise:noise-last-epoch=false", "naive-noise"], seeds=2,
                   data_dir=tmp_path, name="both")
    rows = [(c.method, c.noise_last_epoch, c.seed, c.name) for c in cfgs]
    assert rows == [("standard", True, 0, "both-standard-s0"), ("standard", True, 1, "both-standard-s1"),
                    ("naive-noise", False, 0, "both-naive-noise-no-noise-last-epoch-s0"),
                    ("naive-noise", False, 1, "both-naive-noise-no-noise-last-epoch-s1"),
                    ("naive-noise", True, 0, "both-naive-noise-s0"), ("naive-noise", True, 1, "both-naive-noise-s1")]
    assert len({c.key() for c in cfgs}) == 6
    for bad, why in (("naive-noise:noise-last-epoch=maybe", "must be true or false"),
                     ("standard:noise-last-epoch=false", "one of its options"),
                     ("naive-noise:noise_sigma", "OPTION=VALUE"), ("sam:rho=x", "rho must be float")):
        with pytest.raises(NawtError, match=why):
            plan("smoke", methods=[bad])
    with pytest.raises(NawtError, match="train the same thing"):
        plan("smoke", methods=["naive-noise", "naive-noise:noise-last-epoch=true"])
    assert [c.rho_stages for c in plan("smoke", methods=["multistep-sam:rho-stages=0/0.05"])[0]] == [[0.0, 0.05]]

    # stored as a study's runs, the two variants are two rows, each labelled, never pooled
    store = Store(f"sqlite:///{tmp_path / 'n.db'}")
    ids = []
    for c in cfgs:
        r = store.create_run(method=c.method, status="completed", config=c.to_dict(), config_key=c.key(),
                             seed=c.seed, dataset="cifar10", device="cpu", epochs=c.epochs, study="both",
                             final_test_acc=0.5 if c.noise_last_epoch else 0.6, train_seconds=3.0)
        store.add_epoch(r.id, epoch=1, train_loss=1.0, train_acc=0.5, epoch_seconds=1.0)
        ids.append(r.id)
    old = {k: v for k, v in cfgs[-1].to_dict().items() if k != "noise_last_epoch"}  # stored before the option
    ids.append(store.create_run(method="naive-noise", status="completed", config={**old, "seed": 2}, seed=2,
                                config_key=cfgs[-1].key(), dataset="cifar10", device="cpu", epochs=3,
                                final_test_acc=0.5, train_seconds=3.0).id)
    store.upsert_study("both", config={"run_ids": ids})
    acc = {(a["method"], a["group"]): a for a in compare(store, study="both").accuracy}
    assert set(acc) == {("standard", ""), ("naive-noise", "no noise last epoch"), ("naive-noise", "noise last epoch")}
    assert acc[("naive-noise", "no noise last epoch")]["mean"] == 0.6
    assert acc[("naive-noise", "noise last epoch")]["seeds"] == [0, 1, 2]  # the old run pools with the default
