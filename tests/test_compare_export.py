"""compare() and export on a store filled by hand (torch-free, fast)."""

from __future__ import annotations

import csv
import io
import json
import os
import sys

import pytest

from nawt_core.errors import NawtError
from nawt_core.store import Store


def add_run(store, method, acc, secs, *, device="cpu", epochs=2, seed=0, status="completed", name="", notes="",
            rob=None, quant=None, study=None):
    r = store.create_run(method=method, status=status, final_test_acc=acc, train_seconds=secs, device=device,
                         epochs=epochs, seed=seed, name=name or f"{method}-{seed}", notes=notes, study=study,
                         config={"arch": "resnet20"})
    for mode, pts in (rob or {}).items():
        ev = store.create_evaluation(run_id=r.id, kind="robustness", config={"mode": mode}, status="completed",
                                     clean_acc=acc)
        store.add_points(ev.id, [{"param": s, "trial": t, "accuracy": a} for s, accs in pts.items()
                                 for t, a in enumerate(accs)])
    if quant:
        ev = store.create_evaluation(run_id=r.id, kind="quantization", config={}, status="completed", clean_acc=acc)
        store.add_points(ev.id, [{"param": float(b), "trial": 0, "accuracy": a} for b, a in quant.items()])
    store.add_epoch(r.id, epoch=1, train_loss=1.0, train_acc=0.5, test_acc=acc)
    return r


@pytest.fixture
def filled(db_url):
    s = Store(db_url)  # once on SQLite, once on PostgreSQL
    ids = {}
    ids["sam0"] = add_run(s, "sam", 0.90, 30.0, seed=0, rob={"absolute": {0.0: [0.9], 0.1: [0.5, 0.7]}},
                          quant={8: 0.9, 2: 0.3}, study="st").id
    ids["std0"] = add_run(s, "standard", 0.80, 10.0, seed=0, name="=HYPERLINK(\"x\")", notes="+1 cmd",
                          rob={"absolute": {0.0: [0.8], 0.1: [0.2, 0.4]}, "relative": {0.05: [0.77]}},
                          quant={8: 0.8, 4: 0.6, 2: 0.1}, study="st").id
    ids["std1"] = add_run(s, "standard", 0.84, 14.0, seed=1, study="st").id
    ids["naive"] = add_run(s, "naive-noise", 0.5, 11.0, device="cuda", study="st").id
    ids["running"] = add_run(s, "multistep-sam", None, 0.0, status="running", study="st").id
    # a failed, older robustness evaluation must be ignored
    bad = s.create_evaluation(run_id=ids["sam0"], kind="robustness", config={"mode": "absolute"}, status="failed")
    s.add_points(bad.id, [{"param": 0.1, "trial": 0, "accuracy": 0.0}])
    return s, ids


def test_compare_tables(filled):
    from nawt_core.compare import compare

    s, ids = filled
    c = compare(s)
    assert [a["method"] for a in c.accuracy] == ["standard", "naive-noise", "sam"]  # METHODS order
    std = c.accuracy[0]
    assert std["n"] == 2 and std["mean"] == pytest.approx(0.82) and std["best"] == 0.84
    assert std["std"] == pytest.approx(0.028284, rel=1e-4)
    assert sorted(std["run_ids"]) == [ids["std0"], ids["std1"]]
    timing = {t["method"]: t for t in c.timing}
    assert timing["standard"]["ratio"] == pytest.approx(1.0)
    assert timing["sam"]["ratio"] == pytest.approx(30.0 / 12.0)
    assert timing["naive-noise"]["ratio"] is None  # no standard run on that device
    assert c.robustness_mode == "absolute" and c.strengths == [0.0, 0.1]
    rob = {r["method"]: r["points"] for r in c.robustness}
    assert rob["standard"][0.1] == {"mean": pytest.approx(0.3), "std": pytest.approx(0.141421, rel=1e-4),
                                    "min": 0.2, "n": 2, "runs": 1, "partial": False}
    assert rob["sam"][0.1]["min"] == 0.5  # the failed evaluation is not used
    assert c.bits == [8, 4, 2]
    q = {r["method"]: r for r in c.quantization}
    assert q["standard"]["fp"] == pytest.approx(0.8) and q["standard"]["points"][4]["mean"] == 0.6
    assert 4 not in q["sam"]["points"]
    rel = compare(s, mode="relative")
    assert rel.strengths == [0.05] and [r["method"] for r in rel.robustness] == ["standard"]
    assert json.loads(json.dumps(c.to_dict(), default=str))["timing"][0]["method"] == "standard"


def test_compare_selection_and_errors(filled):
    from nawt_core.compare import compare

    s, ids = filled
    c = compare(s, run_ids=[ids["std0"], ids["sam0"]])
    assert {r.id for r in c.runs} == {ids["std0"], ids["sam0"]}
    assert compare(s, study="st").runs and len(compare(s, study="st").runs) == 5
    with pytest.raises(NawtError, match="no run with id 999"):
        compare(s, run_ids=[999])
    with pytest.raises(NawtError, match="no study"):
        compare(s, study="nope")
    with pytest.raises(NawtError, match="mode"):
        compare(s, mode="loud")


def test_compare_module_is_torch_free():
    import subprocess

    code = "import sys, nawt_core.compare, nawt_core.export; assert 'torch' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code], cwd=os.path.dirname(os.path.dirname(__file__))).returncode == 0


@pytest.mark.parametrize("table", ["runs", "epochs", "accuracy", "timing", "robustness", "quantization", "points"])
def test_export_csv_parses_back_with_documented_columns(filled, table):
    from nawt_core.export import COLUMNS, export

    s, _ = filled
    text = export(s, table)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0].keys()) == COLUMNS[table]
    assert rows
    data = json.loads(export(s, table, fmt="json"))
    assert len(data) == len(rows) and list(data[0]) == COLUMNS[table]


def test_export_values_and_formula_safety(filled, tmp_path):
    from nawt_core.export import export

    s, ids = filled
    rows = list(csv.DictReader(io.StringIO(export(s, "runs"))))
    std0 = next(r for r in rows if r["id"] == str(ids["std0"]))
    assert std0["name"] == "'=HYPERLINK(\"x\")" and std0["notes"] == "'+1 cmd"
    assert std0["final_test_acc"] == "0.8"
    timing = list(csv.DictReader(io.StringIO(export(s, "timing"))))
    sam = next(r for r in timing if r["method"] == "sam")
    assert float(sam["ratio"]) == pytest.approx(2.5)
    assert next(r for r in timing if r["method"] == "naive-noise")["ratio"] == ""
    out = tmp_path / "rob.json"
    export(s, "robustness", out)
    assert {r["strength"] for r in json.loads(out.read_text())} == {0.0, 0.1}
    # json keeps the user's text as typed
    raw = json.loads(export(s, "runs", fmt="json"))
    assert any(r["name"] == "=HYPERLINK(\"x\")" for r in raw)


def test_export_bad_input_writes_nothing(filled, tmp_path):
    from nawt_core.export import export

    s, _ = filled
    with pytest.raises(NawtError, match="unknown table"):
        export(s, "bogus", tmp_path / "x.csv")
    with pytest.raises(NawtError, match="does not exist"):
        export(s, "runs", tmp_path / "missing" / "x.csv")
    with pytest.raises(NawtError, match="directory"):
        export(s, "runs", tmp_path)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if not os.access(ro, os.W_OK):  # root can write anyway
            with pytest.raises(NawtError, match="permission"):
                export(s, "runs", ro / "x.csv")
    finally:
        ro.chmod(0o700)
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "missing").exists()
    assert not any(p.name.endswith(".csv") for p in tmp_path.rglob("*"))


def test_plots_write_figures_and_explain_a_missing_matplotlib(filled, tmp_path, monkeypatch):
    from nawt_core import plots
    from nawt_core.compare import compare

    s, _ = filled
    c = compare(s)
    for kind, name in (("all", "a.png"), ("robustness", "r.svg"), ("curves", "c.png")):
        p = plots.save(c, tmp_path / name, kind, s)
        assert p.stat().st_size > 1000
    with pytest.raises(NawtError, match="format"):
        plots.save(c, tmp_path / "x.txt", "all", s)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(NawtError, match="matplotlib"):
        plots.save(c, tmp_path / "m.png", "all", s)


def test_compare_names_the_runs_it_leaves_out_and_why(tmp_path):
    """`nawt compare 7 8`: a run without sweeps or not completed is named in a note, never dropped silently."""
    from helpers import run_cli
    from nawt_core.compare import compare

    s = Store(f"sqlite:///{tmp_path / 'nawt.db'}")
    a = add_run(s, "standard", 0.8, 10.0, rob={"absolute": {0.0: [0.8], 0.1: [0.4]}}, quant={8: 0.8}).id
    b = add_run(s, "sam", 0.85, 20.0).id  # completed, never swept
    c = add_run(s, "sam", None, 0.0, seed=1, status="running").id
    notes = compare(s, [a, b, c]).notes
    assert f"run {c} (running) not completed: left out of every table" in notes, notes
    assert any(n.startswith(f"run {b}: no robustness sweep (absolute), so not in the robustness table") and
               f"nawt eval robustness {b}" in n for n in notes), notes
    assert any(n.startswith(f"run {b}: no quantization sweep") for n in notes), notes
    assert not any(f"run {a}" in n for n in notes)  # run a is in every table
    out = run_cli("compare", str(a), str(b), "--data-dir", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert f"note: run {b}: no robustness sweep" in out.stdout.replace("\n", " ").replace("  ", " "), out.stdout


def _timed_run(s, method, loads, device="AMD EPYC · 2 threads · avx2", secs=10.0, gpu_others=None):
    r = s.create_run(method=method, status="completed", final_test_acc=0.8, train_seconds=secs * len(loads),
                     device=device, epochs=len(loads), name=method, config={"arch": "resnet20"})
    for i, load in enumerate(loads, 1):
        s.add_epoch(r.id, epoch=i, train_loss=1.0, train_acc=0.5, test_acc=0.8, epoch_seconds=secs, load_avg=load,
                    gpu_others=gpu_others)
    return r


def test_timing_flags_a_machine_busy_for_every_run(tmp_path):
    """Load 8 on runs given 2 threads: every row is flagged although the loads are alike (the old
    flag only compared rows); idle runs and GPU runs (no thread count) are not; the report shows load."""
    from nawt_core import report
    from nawt_core.busy import label_threads
    from nawt_core.compare import compare

    s = Store(f"sqlite:///{tmp_path / 'nawt.db'}")
    busy = [_timed_run(s, "standard", [7.9, 8.1]).id, _timed_run(s, "sam", [8.2, 7.8], secs=72.0).id]
    c = compare(s, busy)
    assert [(t["method"], t["busy"], t["load_flag"]) for t in c.timing] == [
        ("standard", "load 8.0 on 2 threads", True), ("sam", "load 8.0 on 2 threads", True)]
    assert "busy machine: load 8.0 on 2 threads" in c.timing[1]["ratio_note"]
    retime = [n for n in c.notes if "busy machine" in n]
    assert len(retime) == 1 and "--restart" in retime[0] and "nawt bench" in retime[0], c.notes
    assert not any("differ over" in n for n in c.notes)  # the loads are alike: only the busy note
    md = tmp_path / "r.md"
    report.write(s, c, md, figures=False)
    text = md.read_text()
    assert "| total s | load | ratio |" in text, text
    assert "8.0 on 2 thr, busy" in text and "7.20 (busy machine)" in text, text

    idle = [_timed_run(s, "standard", [1.2, 0.8]).id, _timed_run(s, "sam", [1.9, 2.0], secs=18.7).id]
    c = compare(s, idle)
    assert [t["busy"] for t in c.timing] == ["", ""] and not any("busy" in n for n in c.notes)
    # a run's own 2 threads read about 2.0 (the cpu study's idle runs: 2.01-2.06): not busy; 2.6 is
    own = [_timed_run(s, "standard", [2.01, 2.06]).id, _timed_run(s, "sam", [2.6, 2.6], secs=20.0).id]
    assert [t["busy"] for t in compare(s, own).timing] == ["", "load 2.6 on 2 threads"]
    gpu = _timed_run(s, "standard", [30.0], device="NVIDIA H100 · sm_90 · cuda:0").id
    assert compare(s, [gpu]).timing[0]["busy"] == ""  # alone on its GPU (or unknown): not flagged
    shared = _timed_run(s, "standard", [30.0, 30.0], device="NVIDIA H100 · sm_90 · cuda:0", gpu_others=1).id
    c = compare(s, [shared])
    assert c.timing[0]["busy"] == "GPU shared with 1 other process (mean per epoch)", c.timing[0]
    assert any("shared their GPU" in n for n in c.notes)
    from nawt_core import export

    rows = list(csv.DictReader(io.StringIO(export.render("timing", export.rows(s, "timing", [shared])))))
    assert rows[0]["busy"].startswith("GPU shared with 1") and float(rows[0]["gpu_others"]) == 1.0
    assert label_threads("AMD EPYC · 1 thread") == 1 and label_threads("cpu (2 threads, AVX512)") is None


def test_a_smoke_study_is_labelled_as_not_comparable_with_the_poster(tmp_path):
    from nawt_core import report
    from nawt_core.compare import compare
    from nawt_core.study import plan

    _, sweeps = plan("smoke", dataset="synthetic")  # what a smoke study evaluates (the grids are the specs')
    assert 5 in sweeps["quantization"]["bits"]  # the README's headline finding is at 5 bits
    s = Store(f"sqlite:///{tmp_path / 'nawt.db'}")

    def run(method, **cfg):
        config = {"arch": "resnet20", "dataset": "cifar10", "epochs": 3, "train_subset": 8000, "test_subset": 1000,
                  **cfg}
        return s.create_run(method=method, status="completed", final_test_acc=0.4, train_seconds=60.0,
                            device="cpu", epochs=config["epochs"], name=method, config=config, dataset="cifar10").id

    smoke = [run("standard"), run("sam")]
    c = compare(s, smoke)
    assert c.notes[0] == (
        "smoke test, not comparable with the poster: these runs trained 3 epochs on 8,000 training and 1,000 test "
        "images of CIFAR-10; the poster column is of ResNet-20 trained on all of CIFAR-10 (50,000 / 10,000 images), "
        "as nawt's paper preset does (200 epochs); only runs like those are comparable with it"), c.notes
    md = tmp_path / "r.md"
    report.write(s, c, md, figures=False)
    text = md.read_text()
    assert text.splitlines()[0].endswith("(smoke test: not comparable with the poster)"), text[:200]
    acc = text.split("## Clean test accuracy")[1].split("##")[0]
    assert "Smoke test, not comparable with the poster" in acc and "8,000 training" in acc
    full = [run("standard", epochs=200, train_subset=None, test_subset=None)]
    c = compare(s, full)
    assert not any("poster" in n for n in c.notes), c.notes
