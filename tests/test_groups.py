"""Runs with different settings are never averaged together: compare, export
and the figures show one row per method and comparable settings (issue 8)."""

from __future__ import annotations

import csv
import io
import json
import struct

import pytest

from helpers import run_cli
from nawt_core.config import TrainConfig
from nawt_core.errors import NawtError
from nawt_core.store import Store

CPU = "cpu (2 threads, AVX2)"


def add(store, method, acc, *, train_subset=8000, test_subset=1000, epoch_secs=(10.0, 10.0), load=0.5, seed=0,
        rob=None, sweep=None, study="smoke", status="completed"):
    """A completed run as training records it: config, epochs with times and load, a robustness sweep."""
    cfg = TrainConfig(method=method, epochs=len(epoch_secs), train_subset=train_subset, test_subset=test_subset,
                      seed=seed, study=study, name=f"{method}-{train_subset}-{test_subset}-s{seed}")
    r = store.create_run(method=method, status=status, config=cfg.to_dict(), config_key=cfg.key(), seed=seed,
                         dataset="cifar10", device=CPU, epochs=cfg.epochs, study=study,
                         final_test_acc=acc, train_seconds=sum(epoch_secs))
    for i, s in enumerate(epoch_secs, 1):
        store.add_epoch(r.id, epoch=i, train_loss=1.0, train_acc=0.5, test_acc=acc, epoch_seconds=s,
                        wall_seconds=s + 1, load_avg=load)
    if rob:
        sw = {"mode": "absolute", "strengths": sorted(rob), "trials": len(next(iter(rob.values()))),
              "targets": "weights", "test_images": test_subset, "dataset": "cifar10", **(sweep or {})}
        ev = store.create_evaluation(run_id=r.id, kind="robustness", config=sw, status="completed", clean_acc=acc)
        store.add_points(ev.id, [{"param": s, "trial": t, "accuracy": a} for s, accs in rob.items()
                                 for t, a in enumerate(accs)])
    return r


@pytest.fixture
def mixed(tmp_path):
    """The issue's database: a smoke study (subset 8000) and, later, two sam runs
    on 4000 images (one tested on 1000 images, one on 10000)."""
    s = Store(f"sqlite:///{tmp_path / 'n.db'}")
    ids = {
        "std": add(s, "standard", 0.40, epoch_secs=(20.0, 22.0, 21.0), rob={0.0: [0.4, 0.4], 0.1: [0.2, 0.22]}).id,
        "sam": add(s, "sam", 0.42, epoch_secs=(180.0, 26.0, 128.0), load=6.0,
                   rob={0.0: [0.42, 0.42], 0.1: [0.3, 0.32]}).id,
    }
    s.upsert_study("smoke", config={"run_ids": [ids["std"], ids["sam"]]}, out_dir=str(tmp_path / "smoke"))
    (tmp_path / "smoke").mkdir()
    ids["sam4k"] = add(s, "sam", 0.30, train_subset=4000, epoch_secs=(9.0, 9.0, 9.0), study=None,
                       rob={0.0: [0.3] * 4, 0.05: [0.25] * 4}, sweep={"trials": 4}).id
    ids["sam4k10k"] = add(s, "sam", 0.07, train_subset=4000, test_subset=10000, epoch_secs=(9.0, 9.0, 9.0),
                          study=None, rob={0.0: [0.1, 0.1], 0.1: [0.05, 0.05]}).id
    ids["running"] = add(s, "sam", None, status="running", study=None).id
    return s, ids, tmp_path


def test_mixed_runs_are_separate_groups_with_what_sets_them_apart(mixed):
    from nawt_core.compare import compare

    s, ids, _ = mixed
    c = compare(s, all_runs=True)
    assert c.mixed and any("groups" in n for n in c.notes) and any("not completed" in n for n in c.notes)
    assert ids["running"] not in [r.id for r in c.completed]
    acc = {(a["method"], a["group"]): a for a in c.accuracy}
    assert set(acc) == {("standard", "subset 8000, test 1000"), ("sam", "subset 8000, test 1000"),
                        ("sam", "subset 4000, test 1000"), ("sam", "subset 4000, test 10000")}
    assert all(a["n"] == 1 for a in acc.values())  # nothing pooled across settings
    assert acc[("sam", "subset 4000, test 10000")]["mean"] == pytest.approx(0.07)
    # time: the ratio only within the same settings; median epoch x epochs next to the total
    t = {(r["method"], r["group"]): r for r in c.timing}
    sam = t[("sam", "subset 8000, test 1000")]
    assert sam["epoch_median"] == 128.0 and (sam["epoch_min"], sam["epoch_max"]) == (26.0, 180.0)
    assert sam["median_time"] == 3 * 128.0 and sam["train_seconds"] == 334.0
    assert sam["ratio"] == pytest.approx(128.0 / 21.0)
    assert sam["load_flag"] and "load differed" in sam["ratio_note"]  # load 6.0 against 0.5
    assert t[("sam", "subset 4000, test 1000")]["ratio"] is None
    assert "no standard run" in t[("sam", "subset 4000, test 1000")]["ratio_note"]
    # robustness: rows per group and sweep settings; the 4-trial sweep says so
    rob = {(r["method"], r["group"]): r for r in c.robustness}
    assert ("sam", "subset 4000, test 1000, trials 4") in rob
    assert rob[("sam", "subset 8000, test 1000, trials 2")]["points"][0.1]["mean"] == pytest.approx(0.31)
    assert 0.05 not in rob[("sam", "subset 8000, test 1000, trials 2")]["points"]


def test_default_scope_is_the_latest_study_and_unmixed(mixed):
    from nawt_core.compare import compare

    s, ids, _ = mixed
    c = compare(s)
    assert c.study == "smoke" and "latest" in c.scope
    assert sorted(r.id for r in c.runs) == sorted([ids["std"], ids["sam"]])
    assert not c.mixed and [a["group"] for a in c.accuracy] == ["", ""]
    assert {r["method"]: r["ratio"] for r in c.timing}["sam"] == pytest.approx(128.0 / 21.0)


def test_points_not_every_run_has_are_marked_and_left_out_of_figures(tmp_path):
    pytest.importorskip("matplotlib")
    from nawt_core import plots
    from nawt_core.compare import compare

    s = Store(f"sqlite:///{tmp_path / 'n.db'}")
    add(s, "standard", 0.5, seed=0, rob={0.0: [0.5], 0.1: [0.3]}, sweep={"strengths": None})
    add(s, "standard", 0.6, seed=1, rob={0.0: [0.6], 0.1: [0.4], 0.2: [0.1]}, sweep={"strengths": None})
    c = compare(s, all_runs=True)
    (row,) = c.robustness
    assert row["runs"] == 2 and row["points"][0.1] == {"mean": pytest.approx(0.35), "std": pytest.approx(0.0707107),
                                                        "min": 0.3, "n": 2, "runs": 2, "partial": False}
    assert row["points"][0.2]["partial"] and row["points"][0.2]["runs"] == 1
    assert any("only some runs" in n for n in c.notes)
    fig = plots.figure(c, "robustness")
    (line,) = [ln for ln in fig.axes[0].get_lines() if ln.get_label().startswith("standard")]
    assert list(line.get_xdata()) == [0.0, 0.1] and list(line.get_ydata()) == pytest.approx([55.0, 35.0])


def test_export_and_figures_show_the_same_groups(mixed, tmp_path):
    pytest.importorskip("matplotlib")
    from nawt_core import plots
    from nawt_core.compare import compare
    from nawt_core.export import export

    s, _, _ = mixed
    c = compare(s, all_runs=True)
    accuracy = list(csv.DictReader(io.StringIO(export(s, "accuracy", all_runs=True))))
    assert [(r["method"], r["group"]) for r in accuracy] == [(a["method"], a["group"]) for a in c.accuracy]
    assert all("train_subset=" in r["settings"] for r in accuracy)
    timing = list(csv.DictReader(io.StringIO(export(s, "timing", all_runs=True))))
    assert len(timing) == 4 and {r["load_flag"] for r in timing} == {"True", "False"}
    assert [r["ratio"] for r in timing if r["group"] == "subset 4000, test 1000"] == [""]
    rob = list(csv.DictReader(io.StringIO(export(s, "robustness", all_runs=True))))
    pairs = {(r["method"], r["group"]) for r in rob}
    assert pairs == {(r["method"], r["group"]) for r in c.robustness} and len(pairs) == 4
    assert export(s, "accuracy").count("\n") == 3  # default: the latest study, header + 2 rows
    fig = plots.figure(c, "robustness")
    rows = [ln for ln in fig.axes[0].get_lines() if ln.get_label() != plots.CHANCE_LABEL]
    labels = [ln.get_label() for ln in rows]
    assert len(labels) == 4 and all(any(r["group"] in lb for lb in labels) for r in c.robustness)
    sam = [ln for ln in rows if ln.get_label().startswith("sam")]
    # one colour, marker and line style for the method; its three groups differ by marker fill
    assert len({(ln.get_color(), ln.get_marker(), ln.get_linestyle()) for ln in sam}) == 1
    assert len({ln.get_fillstyle() for ln in sam}) == 3
    caption = fig.texts[-1].get_text()
    assert "cifar10" in caption and "subsets per row (see legend)" in caption and "all runs" in caption
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any(t.startswith("band: mean ± std") for t in legend)
    for ax in fig.axes:
        assert "%" in ax.get_ylabel()


def _png_width(path) -> int:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">I", head[16:20])[0]


def test_plot_command_writes_into_the_study_folder_and_refuses_empty_figures(mixed):
    pytest.importorskip("matplotlib")
    s, ids, d = mixed
    opts = ["--db", f"sqlite:///{d / 'n.db'}", "--data-dir", str(d)]
    r = run_cli("plot", "curves", *opts)
    assert r.returncode == 0, r.stderr
    assert _png_width(d / "smoke" / "curves.png") >= 1600
    r = run_cli("plot", "robustness", "--all", "-o", str(d / "rob.svg"), *opts)
    assert r.returncode == 0 and (d / "rob.svg").read_text().lstrip().startswith("<?xml")
    r = run_cli("plot", "robustness", "--all", *opts)  # not one study: where to write must be said
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "-o" in r.stderr
    r = run_cli("plot", "quantization", "-o", str(d / "q.png"), *opts)  # no quantization sweep
    assert r.returncode == 2 and "nothing to plot" in r.stderr and not (d / "q.png").exists()
    r = run_cli("compare", "--all", "--json", *opts)
    groups = json.loads(r.stdout)["groups"]
    assert len(groups) == 4 and {g["label"] for g in groups if g["method"] == "sam"} == {
        "subset 8000, test 1000", "subset 4000, test 1000", "subset 4000, test 10000"}
    r = run_cli("compare", "--all", *opts)
    assert "mixed settings" in r.stdout and "6.10!" in r.stdout and "subset 4000, test 10000" in r.stdout


def test_a_study_without_cifar10_refuses_before_training(tmp_path):
    from nawt_core.study import run_study

    empty = tmp_path / "nothing-here"
    empty.mkdir()
    env = {"NAWT_OFFLINE": "1"}
    r = run_cli("study", "--data-dir", str(empty), "-m", "standard", env=env)
    assert r.returncode == 2 and r.stderr.startswith("error:") and r.stderr.count("\n") == 1
    assert str(empty) in r.stderr and "--cifar-dir" in r.stderr and "--dataset synthetic" in r.stderr
    assert list(empty.iterdir()) == []  # no database, no run folder, no study folder
    other = tmp_path / "cifar-not-here"
    r = run_cli("study", "--data-dir", str(empty), "--cifar-dir", str(other), env=env)
    assert r.returncode == 2 and str(other) in r.stderr and "--cifar-dir" not in r.stderr
    store = Store(f"sqlite:///{tmp_path / 'n.db'}")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NAWT_OFFLINE", "1")
        with pytest.raises(NawtError, match="CIFAR-10 is not in"):
            run_study(store, data_dir=empty, methods=["standard"])
    assert store.list_runs() == [] and store.list_studies() == []
