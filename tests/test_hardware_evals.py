"""Issue 22: bit flips, PCM, stuck-at faults and sharpness as registered evaluations: `nawt eval`,
bad input refused with nothing recorded, final.pt untouched, and compare / export show them."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sqlite3
from pathlib import Path
from types import SimpleNamespace

import pytest

from helpers import run_cli
from nawt_core import evalspec


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from nawt_core.config import TrainConfig
    from nawt_core.records import create_run
    from nawt_core.runner import execute
    from nawt_core.store import Store

    d = tmp_path_factory.mktemp("hw")
    store = Store(f"sqlite:///{d / 'nawt.db'}", home=d)
    cfg = TrainConfig(dataset="synthetic", train_subset=256, test_subset=100, epochs=1, batch_size=64, lr=0.05,
                      device="cpu", data_dir=str(d))
    run = execute(store, create_run(store, cfg, d).id, data_dir=d)
    return store, run, ["--db", f"sqlite:///{d / 'nawt.db'}", "--data-dir", str(d), "--device", "cpu"], d


def test_the_four_are_registered_with_a_grid_for_every_preset():
    for name in ("bitflip", "pcm", "stuck", "sharpness"):
        s = evalspec.evaluation(name)
        assert set(s.presets) == {"paper", "cpu", "quick", "smoke"}, name
        s.checked(dict(s.presets["cpu"]))  # every preset grid passes its own checks


@pytest.mark.parametrize("args,words", [
    (["bitflip", "--rates", "0,1.5"], "bit-flip rates must be probabilities in [0, 1]"),
    (["bitflip", "--bits", "17"], "bits"),
    (["bitflip", "--target", "lsb"], "target"),
    (["pcm", "--times", "-1"], "cannot be negative"),
    (["pcm", "--drift", "none"], "drift"),
    (["stuck", "--fractions", "0,1.01"], "stuck-at fractions must be in [0, 1]"),
    (["stuck", "--value", "one"], "value"),
    (["sharpness", "--probes", "0"], "probes"),
    *[([k, "--recalibrate-bn", n], "BatchNorm recalibration needs a whole number of batches from 0 to 10000")
      for k in ("bitflip", "pcm", "stuck", "robustness", "quantization") for n in ("-1", "10001")],
])
def test_bad_input_is_one_line_exit_2_and_records_nothing(trained, args, words):
    store, run, opts, _ = trained
    n = len(store.evaluations())
    out = run_cli("eval", args[0], str(run.id), *args[1:], *opts)
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 1 and words in lines[0], out.stderr
    assert len(store.evaluations()) == n


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("args,params", [
    (["bitflip", "--rates", "0,0.01", "--trials", "2"], {"0.0": 1, "0.01": 2}),
    (["pcm", "--times", "0,31536000", "--trials", "2"], {"0.0": 2, "31536000.0": 2}),
    (["stuck", "--fractions", "0,0.05", "--trials", "2", "--value", "both"], {"0.0": 1, "0.05": 2}),
])
def test_each_stress_runs_from_the_cli_stores_its_points_and_leaves_final_pt(trained, args, params):
    store, run, opts, _ = trained
    final = store.path(run.checkpoint_final)
    before = _digest(final)
    r = run_cli("eval", *args[:1], str(run.id), *args[1:], "--json", *opts)
    assert r.returncode == 0, r.stderr
    (out,) = json.loads(r.stdout)
    assert {k: v["n"] for k, v in out["points"].items()} == params
    assert _digest(final) == before  # the stress worked on a copy


def test_a_seeded_stress_run_twice_gives_the_same_points(trained):
    store, run, opts, _ = trained
    a = run_cli("eval", "stuck", str(run.id), "--fractions", "0.2", "--trials", "3", "--seed", "5", "--json", *opts)
    b = run_cli("eval", "stuck", str(run.id), "--fractions", "0.2", "--trials", "3", "--seed", "5", "--json", *opts)
    assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
    ea, eb = (json.loads(x.stdout)[0]["evaluation_id"] for x in (a, b))
    assert ea != eb  # measured twice, not found again
    per_trial = [sorted((p.trial, p.accuracy) for p in store.points(e)) for e in (ea, eb)]
    assert per_trial[0] == per_trial[1]  # the same faults, drawn again


def test_sharpness_stores_trace_and_top_eigenvalue(trained):
    store, run, opts, _ = trained
    r = run_cli("eval", "sharpness", str(run.id), "--samples", "64", "--probes", "4", "--iters", "3", "--json", *opts)
    assert r.returncode == 0, r.stderr
    (out,) = json.loads(r.stdout)
    pts = store.points(out["evaluation_id"])
    trace = [p.accuracy for p in pts if p.param == 0.0]
    eig = [p.accuracy for p in pts if p.param == 1.0]
    assert len(trace) == 4 and len(eig) == 1 and eig[0] > 0
    # shown in their own units, not as percentages: compare, the report and the TUI's cells
    (loss,) = [p.accuracy for p in pts if p.param == 2.0]
    text = run_cli("compare", str(run.id), *opts[:4]).stdout
    assert f"{eig[0]:.2f}" in text and f"{loss:.2f}" in text and f"{100 * loss:.2f}" not in text
    report = opts[3] + "/r.md"
    assert run_cli("report", str(run.id), "-o", report, *opts[:4]).returncode == 0
    md = Path(report).read_text()
    assert f"| {eig[0]:.2f} | {loss:.2f} |" in md
    from nawt_tui.widgets.compare_tables import _pm

    spec = evalspec.evaluation("sharpness")
    assert spec.point_scale("loss") == 1.0 and evalspec.evaluation("robustness").point_scale(0.02) == 100.0
    point = SimpleNamespace(mean=loss, std=0.0, partial=False)
    assert _pm(point, 2, spec.point_scale("loss")).plain == f"{loss:.2f}"


def test_compare_and_export_show_a_hardware_stress(trained):
    store, run, opts, _ = trained
    assert run_cli("eval", "bitflip", str(run.id), "--rates", "0,0.001,0.01", "--trials", "2", *opts).returncode == 0
    comp = json.loads(run_cli("compare", "--json", str(run.id), *opts[:4]).stdout)
    (row,) = comp["bitflip"]
    assert set(row["points"]) == {"0.0", "0.001", "0.01"}
    text = " ".join(run_cli("compare", str(run.id), *opts[:4]).stdout.split())
    assert "bit flips" in text and "p=0.001" in text
    rows = list(csv.DictReader(io.StringIO(run_cli("export", "bitflip", "--runs", str(run.id), *opts[:4]).stdout)))
    assert sorted(r["rate"] for r in rows) == ["0.0", "0.001", "0.01"]


def test_pcm_without_compensation_is_its_own_variant(trained):
    store, run, opts, _ = trained
    r = run_cli("eval", "pcm", str(run.id), "--times", "86400", "--trials", "1", "--drift", "raw", "--json", *opts)
    assert r.returncode == 0, r.stderr
    (out,) = json.loads(r.stdout)
    assert out["config"]["drift"] == "raw"
    comp = json.loads(run_cli("compare", "--json", str(run.id), "--variant", "pcm=raw", *opts[:4]).stdout)
    assert comp["pcm_drift"] == "raw" and [r["sweep"]["drift"] for r in comp["pcm"]] == ["raw"]  # never pooled
    assert comp["pcm"][0]["points"]["86400.0"]["n"] == 1


def test_compare_says_when_only_another_variant_is_stored(trained, tmp_path):
    """Only --target msb bit flips stored: the default table (every bit) is empty, and a note says
    how to show the stored ones; --variant shows them in compare, export and the report."""
    store, run, opts, d = trained
    db = tmp_path / "only-msb.db"
    with sqlite3.connect(d / "nawt.db") as src, sqlite3.connect(db) as dst:
        src.backup(dst)  # WAL: a file copy could miss what is not checkpointed yet
    view = ["--db", str(db), "--data-dir", str(d)]  # a plain path to a SQLite file is a --db too
    from nawt_core.store import Store

    copy = Store(str(db), home=d)
    for ev in copy.evaluations(run.id, "bitflip"):
        copy.update_evaluation(ev.id, status="failed")  # hide what other tests stored
    r = run_cli("eval", "bitflip", str(run.id), "--rates", "0,0.01", "--trials", "1", "--target", "msb", *view,
                "--device", "cpu")
    assert r.returncode == 0, r.stderr
    plain = json.loads(run_cli("compare", "--json", str(run.id), *view).stdout)
    assert plain["bitflip"] == [] and plain["bitflip_target"] is None
    assert "bitflip: no target all sweeps; msb ones are stored (show them with --variant bitflip=msb)" in plain["notes"]
    assert not any(n.startswith("no ") and "bitflip" in n for n in plain["notes"])  # not also 'no bitflip sweeps'
    msb = json.loads(run_cli("compare", "--json", str(run.id), "--variant", "bitflip=msb", *view).stdout)
    assert msb["bitflip_target"] == "msb" and [r["sweep"]["target"] for r in msb["bitflip"]] == ["msb"]
    rows = list(csv.DictReader(io.StringIO(run_cli("export", "bitflip", "--runs", str(run.id), "--variant",
                                                   "bitflip=msb", *view).stdout)))
    assert sorted(r["rate"] for r in rows) == ["0.0", "0.01"]
    # a study that ran sign-bit flips shows them by default; --variant still chooses
    copy.upsert_study("msb-study", config={"sweeps": {"bitflip": {"rates": [0.0, 0.01], "target": "msb"}},
                                           "run_ids": [run.id]})
    study = json.loads(run_cli("compare", "--json", "--study", "msb-study", *view).stdout)
    assert study["bitflip_target"] == "msb" and len(study["bitflip"]) == 1
    every = json.loads(run_cli("compare", "--json", "--study", "msb-study", "--variant", "bitflip=all", *view).stdout)
    assert every["bitflip"] == [] and any("--variant bitflip=msb" in n for n in every["notes"])


@pytest.mark.parametrize("variant,words", [
    ("pcm", "--variant takes EVAL=VALUE"), ("pcm=nope", "unknown drift 'nope'"),
    ("sharpness=x", "evaluation 'sharpness' has no variant"), ("pcm=raw,pcm=compensated", "names pcm twice"),
])
def test_a_bad_variant_is_one_line_exit_2(trained, tmp_path, variant, words):
    store, run, opts, _ = trained
    for cmd in (["compare", str(run.id)], ["export", "pcm"], ["plot", "pcm", "-o", str(tmp_path / "f.png")],
                ["report", str(run.id), "-o", str(tmp_path / "r.md")]):
        r = run_cli(*cmd, "--variant", variant, *opts[:4])
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines) == 1 and words in lines[0], (cmd, r.stderr)
    assert list(tmp_path.iterdir()) == []


def test_batchnorm_recalibration_after_each_stress(trained):
    store, run, opts, _ = trained
    final = store.path(run.checkpoint_final)
    before = _digest(final)
    n = len(store.evaluations())
    too_many = run_cli("eval", "stuck", str(run.id), "--fractions", "0.1", "--trials", "1", "--recalibrate-bn", "3",
                       *opts)  # the run trained on 256 images: 2 batches of 128
    # it depends on the run's data, so it is found once the evaluation started: recorded as failed, exit 1
    assert too_many.returncode == 1 and too_many.stderr.strip().splitlines() == [
        "error: --recalibrate-bn 3: the run's training set has only 256 images (2 batches of 128)"], too_many.stderr
    failed = store.evaluations()[n:]
    assert [(e.kind, e.status) for e in failed] == [("stuck", "failed")] and "only 256 images" in failed[0].error
    plain, recal = (json.loads(run_cli("eval", "stuck", str(run.id), "--fractions", "0,0.1", "--trials", "2",
                                       "--value", "max", "--recalibrate-bn", k, "--json", *opts).stdout)[0]
                    for k in ("0", "2"))
    assert recal["config"]["recalibrate_bn"] == 2 and plain["config"]["recalibrate_bn"] == 0
    assert recal["evaluation_id"] != plain["evaluation_id"]  # a different setting, stored apart
    assert recal["points"]["0.1"]["mean"] != plain["points"]["0.1"]["mean"]  # the statistics were re-estimated
    assert recal["clean_acc"] == plain["clean_acc"]  # the clean model keeps its own statistics
    assert _digest(final) == before


def test_batchnorm_recalibration_on_gaussian_noise_and_quantization(trained):
    """The Gaussian sweep and quantization take --recalibrate-bn too; older sweeps (stored without the
    option) count as not recalibrated, and --fold-bn with it is refused before anything is recorded."""
    store, run, opts, _ = trained
    final = store.path(run.checkpoint_final)
    before = _digest(final)
    for args in (["robustness", "--strengths", "0,0.1", "--trials", "2"], ["quantization", "--bits", "8,2"]):
        plain, recal = (json.loads(run_cli("eval", args[0], str(run.id), *args[1:], "--recalibrate-bn", k,
                                           "--json", *opts).stdout)[0] for k in ("0", "2"))
        assert recal["config"]["recalibrate_bn"] == 2 and plain["config"]["recalibrate_bn"] == 0
        means = [{k: p["mean"] for k, p in x["points"].items()} for x in (plain, recal)]
        assert means[0] != means[1], args[0]  # the statistics were re-estimated after each stress
        assert recal["clean_acc"] == plain["clean_acc"]
    n = len(store.evaluations())
    out = run_cli("eval", "quantization", str(run.id), "--fold-bn", "--recalibrate-bn", "2", *opts)
    assert out.returncode == 2 and out.stderr.strip().splitlines() == [
        "error: --recalibrate-bn with --fold-bn: a folded model has no BatchNorm left to recalibrate"]
    assert len(store.evaluations()) == n and _digest(final) == before
    # a sweep stored before the option existed is the same sweep as recalibrate_bn = 0
    from nawt_core.sweeps import find_evaluation

    ev = next(e for e in store.evaluations(run.id, "quantization", completed_only=True)
              if e.config.get("recalibrate_bn") == 0 and e.config["bits"] == [8, 2])
    store.update_evaluation(ev.id, config={k: v for k, v in ev.config.items() if k != "recalibrate_bn"})
    spec = evalspec.evaluation("quantization")
    key = {**spec.checked({"bits": [8, 2]}), "precision": ev.config.get("precision", "fp32")}
    found = find_evaluation(store, run.id, "quantization", key)
    assert found is not None and found.id == ev.id and "recalibrate_bn" not in found.config
