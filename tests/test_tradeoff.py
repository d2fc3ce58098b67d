"""#23: studies that vary a method's strength, and the accuracy–robustness trade-off."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest

from helpers import run_cli
from nawt_core.errors import NawtError
from nawt_core.store import Store

from test_study import SWEEPS, TINY, CtrlCAfterFirstEpoch  # the tiny study settings and its Ctrl-C


# ------------------------------------------------------------------ the study's rows
def test_vary_makes_one_row_per_setting_and_combines_two_options(tmp_path):
    from nawt_core.study import plan

    cfgs, _ = plan("smoke", methods=["standard", "sam"], varies=["sam.rho=0.02,0.1", "all.weight-decay=1e-4,5e-4"],
                   data_dir=tmp_path)
    got = sorted((c.method, c.rho if c.method == "sam" else None, c.weight_decay) for c in cfgs)
    assert got == sorted([("standard", None, 1e-4), ("standard", None, 5e-4)]
                         + [("sam", r, wd) for r in (0.02, 0.1) for wd in (1e-4, 5e-4)])
    assert len({c.key() for c in cfgs}) == 6 and len({c.name for c in cfgs}) == 6
    assert any(c.name.endswith("-rho0.1-weight-decay0.0001-s0") for c in cfgs)


def test_tradeoff_presets_vary_their_methods_and_a_given_vary_replaces_the_presets(tmp_path):
    from nawt_core.study import PRESETS, plan

    cfgs, sw = plan("tradeoff-cpu", data_dir=tmp_path)
    sigmas = sorted(c.noise_sigma for c in cfgs if c.method == "naive-noise" and c.seed == 0)
    assert sigmas == [0.005, 0.01, 0.02, 0.05] and {c.seed for c in cfgs} == {0, 1, 2}
    assert {c.method for c in cfgs} == set(PRESETS["tradeoff-cpu"]["methods"])
    assert set(sw) == {"robustness", "quantization"}  # the trade-off's axes only
    cfgs, _ = plan("tradeoff-cpu", varies=["sam.rho=0.3"], seeds=1, data_dir=tmp_path)
    assert [c.rho for c in cfgs if c.method == "sam"] == [0.3]
    cfgs, _ = plan("tradeoff-cpu", methods=["standard", "sam"], seeds=1, data_dir=tmp_path)  # the preset's
    assert len(cfgs) == 3  # standard and sam at rho 0.05 and 0.1; naive noise's vary is not asked for


@pytest.mark.parametrize("vary, why", [
    ("adam.rho=0.1", "unknown method"),
    ("sam.sigma=0.1", "sam has no option 'sigma'"),
    ("sam.rho=-1", "rho"),
    ("sam.rho=x", "rho takes numbers"),
    ("naive-noise.noise-sigma=0.01", "not one of the study's methods"),
    ("all.epochs=3", "all.OPTION varies one of"),
    ("sam.rho", "expected METHOD.OPTION"),
])
def test_bad_vary_is_one_line_exit_2_and_nothing_queued(tmp_path, vary, why):
    db = tmp_path / "data" / "nawt.db"
    r = run_cli("study", "--dataset", "synthetic", "-m", "standard,sam", "--vary", vary, "--queue-only",
                "--data-dir", str(tmp_path / "data"))
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and why in lines[0], lines
    assert "Traceback" not in r.stderr
    assert not db.exists() or (Store(f"sqlite:///{db}").list_runs() == [])


# ------------------------------------------------------------------ the trade-off of hand-made runs
def _run(store, method, seed, acc, curve, rho=None):
    cfg = {"arch": "resnet20", "dataset": "synthetic", "epochs": 2, **({"rho": rho} if rho is not None else {})}
    r = store.create_run(method=method, status="completed", final_test_acc=acc, train_seconds=10.0, device="cpu",
                         epochs=2, seed=seed, name=f"{method}-{rho}-{seed}", study="t", config=cfg,
                         dataset="synthetic")
    ev = store.create_evaluation(run_id=r.id, kind="robustness", status="completed", clean_acc=acc,
                                 config={"mode": "absolute", "strengths": [0.0, 0.05, 0.1], "trials": 1})
    store.add_points(ev.id, [{"param": s, "trial": 0, "accuracy": a} for s, a in zip((0.0, 0.05, 0.1), curve)])
    for e in (1, 2):
        store.add_epoch(r.id, epoch=e, train_loss=1.0, train_acc=0.5, test_acc=acc, epoch_seconds=5.0 if
                        method == "standard" else 9.0)
    return r


@pytest.fixture
def tradeoff_store(tmp_path):
    """standard and SAM at rho 0.02, 0.1, 0.2, 3 seeds each: rho 0.1 is more robust than standard at
    a lower accuracy (on the front), rho 0.02 is dominated by standard, rho 0.2 by rho 0.1."""
    s = Store(f"sqlite:///{tmp_path / 'data' / 'nawt.db'}")
    s.upsert_study("t", preset="smoke", out_dir=str(tmp_path / "out"), status="completed", config={"run_ids": []})
    ids = []
    table = {None: (0.85, 0.50), 0.02: (0.84, 0.48), 0.1: (0.83, 0.60), 0.2: (0.80, 0.55)}
    for rho, (acc, mid) in table.items():
        for seed in range(3):
            d = 0.01 * (seed - 1)
            ids.append(_run(s, "standard" if rho is None else "sam", seed, acc + d, [acc + d, mid + d, 0.1], rho).id)
    s.upsert_study("t", config={"run_ids": ids})
    return s


def test_tradeoff_points_front_and_intervals_by_hand(tradeoff_store):
    from nawt_core.compare import compare

    c = compare(tradeoff_store, study="t")
    assert [(a.method, a.group) for a in c.accuracy] == [("standard", ""), ("sam", "rho 0.02"), ("sam", "rho 0.1"),
                                                           ("sam", "rho 0.2")]
    tr = c.tradeoff()
    pts = {p.label: p for p in tr.points}
    # AUC above chance of (acc, mid, 0.1) at 0, 0.05, 0.1: ((acc-0.1) + 2 (mid-0.1) + 0) / 4; seeds shift by ±0.01
    for label, (acc, mid) in (("standard", (0.85, 0.50)), ("sam (rho 0.1)", (0.83, 0.60))):
        p = pts[label]
        assert p.accuracy["mean"] == pytest.approx(acc) and p.robustness["mean"] == pytest.approx(
            ((acc - 0.1) + 2 * (mid - 0.1)) / 4)
        # three seeds at -0.01, 0, +0.01: sd 0.01, half-width t(0.975, 2) * 0.01 / sqrt(3)
        half = 4.302652729749462 * 0.01 / math.sqrt(3)
        assert p.accuracy["low"] == pytest.approx(acc - half) and p.accuracy["high"] == pytest.approx(acc + half)
    assert [p.label for p in tr.points if p.on_front] == ["standard", "sam (rho 0.1)"]  # along the front
    assert pts["sam (rho 0.02)"].dominated_by == ["standard"]
    assert pts["sam (rho 0.2)"].dominated_by == ["sam (rho 0.1)"]
    assert pts["sam (rho 0.1)"].cost == pytest.approx(9.0 / 5.0)  # median epoch x epochs against standard's
    # the accuracy at one strength instead: rho 0.1 keeps 60 % at 0.05, standard 50 %
    tr = compare(tradeoff_store, study="t", measure="robustness@0.05").tradeoff()
    assert {p.label: p.robustness["mean"] for p in tr.points}["sam (rho 0.1)"] == pytest.approx(0.60)


def test_tradeoff_in_compare_json_export_and_report(tradeoff_store, tmp_path):
    db = f"sqlite:///{tmp_path / 'data' / 'nawt.db'}"
    j = json.loads(run_cli("compare", "--study", "t", "--json", "--db", db).stdout)
    fr = j["tradeoff"]
    assert fr["measure"] == "robustness.auc" and len(fr["points"]) == 4
    assert [p["label"] for p in fr["points"] if p["on_front"]] == ["standard", "sam (rho 0.1)"]
    assert all(p["accuracy_ci_low"] <= p["accuracy"] <= p["accuracy_ci_high"] for p in fr["points"])
    out = run_cli("compare", "--study", "t", "--db", db, env={"COLUMNS": "120"}).stdout
    assert "Trade-off" in out and "○ by standard" in out  # a varied study shows the trade-off table
    acc = list(csv.DictReader(io.StringIO(run_cli("export", "accuracy", "--study", "t", "--db", db).stdout)))
    assert sorted(r["group"] for r in acc) == ["", "rho 0.02", "rho 0.1", "rho 0.2"]  # one row per setting
    page = tmp_path / "r.md"
    r = run_cli("report", "t", "--db", db, "-o", str(page))
    assert r.returncode == 0, r.stderr
    md = page.read_text()
    assert "## Accuracy–robustness trade-off" in md and "sam | rho 0.2 |" in md
    assert "](r-tradeoff.png)" in md and (tmp_path / "r-tradeoff.png").stat().st_size > 0
    fig = tmp_path / "t.png"
    r = run_cli("plot", "tradeoff", "--study", "t", "--db", db, "--measure", "robustness@0.05", "-o", str(fig))
    assert r.returncode == 0, r.stderr
    width = int.from_bytes(fig.read_bytes()[16:20], "big")  # the PNG header's width
    assert width >= 1600
    bad = run_cli("compare", "--study", "t", "--db", db, "--measure", "robustness@x")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1


# ------------------------------------------------------------------ a varied study, interrupted and resumed
def test_varied_study_resumes_after_ctrl_c_and_reuses_finished_runs(tmp_path):
    from nawt_core.study import run_study

    data = tmp_path / "data"
    store = Store(f"sqlite:///{data / 'nawt.db'}")
    kw = dict(preset="smoke", name="v", methods=["standard", "sam"], varies=["sam.rho=0.02,0.1"], data_dir=data,
              device="cpu", dataset="synthetic", overrides=TINY, sweeps=SWEEPS)
    stop = lambda cfg: CtrlCAfterFirstEpoch() if cfg.method == "sam" and cfg.rho == 0.02 else None  # noqa: E731
    first = run_study(store, reporter_factory=stop, **kw)
    assert not first.finished
    done = [r.id for r in store.list_runs() if r.status == "completed"]
    assert len(done) == 1  # standard; sam rho 0.02 interrupted, rho 0.1 not started
    res = run_study(store, **kw)
    assert res.finished and res.skipped == done and len(res.trained) == 2
    assert len(store.list_runs()) == 3  # nothing trained twice
    rows = [(a.method, a.group) for a in res.comparison.accuracy]
    assert rows == [("standard", ""), ("sam", "rho 0.02"), ("sam", "rho 0.1")]
    assert [r.group for r in res.comparison.robustness] == ["", "rho 0.02", "rho 0.1"]
    assert len(res.comparison.tradeoff().points) == 3
    with pytest.raises(NawtError, match="not one of the study's methods"):
        run_study(store, **{**kw, "varies": ["naive-noise.noise-sigma=0.01"]})
    assert len(store.list_runs()) == 3


# ------------------------------------------------------------------ the TUI's compare screen
def test_tui_compare_shows_the_tradeoff_tab_for_a_varied_study(tradeoff_store, tmp_path):
    import asyncio

    from nawt_tui.screens.compare import CompareScreen
    from test_tui import make_app, wait_for

    async def go():
        app = make_app(f"sqlite:///{tmp_path / 'data' / 'nawt.db'}", data_dir=str(tmp_path / "data"))
        async with app.run_test(size=(100, 30)) as pilot:
            screen = CompareScreen(study="t")
            await app.push_screen(screen)
            await wait_for(pilot, lambda: screen.comparison is not None)
            await pilot.pause()
            table = screen.query_one("#trade-table")
            assert table.row_count == 4
            first = [str(table.get_row_at(i)[0]) + " " + str(table.get_row_at(i)[1]) for i in range(2)]
            assert first == ["standard —", "sam rho 0.1"]  # the front, by clean accuracy
            assert str(table.get_cell("sam|rho 0.02", "front")) == "○ standard"
            # three seeds per row: the robustness tab adds the AUC over seeds and its paired difference
            rob = screen.query_one("#rob-table")
            o = next(r for r in screen.comparison.robustness if r.group == "rho 0.1").over_seeds["auc"]
            assert str(rob.get_cell("sam|rho 0.1", "ci-auc")) == (
                f"{100 * o['mean']:.2f} [{100 * o['low']:.2f}, {100 * o['high']:.2f}]")
            d = o["vs_standard"]
            assert str(rob.get_cell("sam|rho 0.1", "diff-auc")).startswith(f"{100 * d['diff']:+.2f} [")
            assert len(screen.tabs()) <= 10  # the trade-off tab is last and has a key (1-9, then 0)
            await pilot.press(str(len(screen.tabs()) % 10))
            await pilot.pause()
            assert screen.query_one("TabbedContent").active == "trade"

    asyncio.run(go())


def test_tui_new_study_can_vary_a_strength_and_refuses_a_bad_vary(tmp_path, monkeypatch):
    import asyncio

    from test_tui import _capture_launches, make_app, runs_screen, wait_for
    from tui_demo import fill_demo, FIXED_NOW

    monkeypatch.chdir(tmp_path)
    url = "sqlite:///nawt.db"
    fill_demo(url, now=FIXED_NOW, run_dirs="runs")
    _, spawned = _capture_launches(monkeypatch, "ok", 9)

    async def go():
        app = make_app(url)
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: runs_screen(app).table.row_count == 8)
            await pilot.press("S")
            await pilot.pause()
            app.screen.query_one("#study-name").value = "tr"
            app.screen.query_one("#study-vary").value = "sam.rho=0.02,0.1; adam.lr=1"
            app.screen.query_one("#study-name").focus()
            await pilot.press("enter")
            await pilot.pause()
            assert "unknown method" in str(app.screen.query_one("#study-error").render())  # stays open
            app.screen.query_one("#study-vary").value = "sam.rho=0.02,0.1; all.weight-decay=1e-4,5e-4"
            await pilot.press("enter")
            await wait_for(pilot, lambda: spawned)

    asyncio.run(go())
    args = spawned[0]
    assert args[:5] == ["study", "--preset", "smoke", "--name", "tr"]
    i = args.index("--vary")
    assert args[i:i + 4] == ["--vary", "sam.rho=0.02,0.1", "--vary", "all.weight-decay=1e-4,5e-4"]


def test_a_point_takes_both_numbers_from_the_same_runs(tradeoff_store):
    """A standard run without the robustness sweep counts in the accuracy table, not in the trade-off
    point, whose robustness it has no part in; a note says so."""
    from nawt_core.compare import compare

    r = tradeoff_store.create_run(method="standard", status="completed", final_test_acc=0.50, train_seconds=10.0,
                                  device="cpu", epochs=2, seed=3, name="std-3", study="t", dataset="synthetic",
                                  config={"arch": "resnet20", "dataset": "synthetic", "epochs": 2})
    ids = tradeoff_store.get_study("t").config["run_ids"] + [r.id]
    tradeoff_store.upsert_study("t", config={"run_ids": ids})
    c = compare(tradeoff_store, study="t")
    std = next(a for a in c.accuracy if a.method == "standard")
    assert std.n == 4 and std.mean == pytest.approx((0.84 + 0.85 + 0.86 + 0.50) / 4)
    tr = c.tradeoff()
    p = next(p for p in tr.points if p.method == "standard")
    assert p.accuracy["mean"] == pytest.approx(0.85) and r.id not in p.run_ids and p.seeds == 3
    assert any("only the runs with the robustness sweep" in n for n in tr.notes)


def test_two_runs_of_one_seed_give_their_mean_or_a_reason_never_one_of_them_picked():
    """A seed with two runs: numbers are averaged; a number beside a reason ("beyond 0.1") is
    neither averaged nor one of them shown, but a reason, so the seed has no mean."""
    from types import SimpleNamespace

    from nawt_core.tradeoff import _run_values, parse_measure

    row = SimpleNamespace(per_run={1: {"seed": 0, "halving": 0.04}, 2: {"seed": 0, "halving": 0.06},
                                   3: {"seed": 1, "halving": "beyond 0.1"}, 4: {"seed": 1, "halving": 0.05},
                                   5: {"seed": 2, "halving": "near chance"}, 6: {"seed": 2, "halving": "near chance"}},
                          run_points={})
    m = parse_measure("robustness.halving")
    assert m.metric == "halving"
    got = _run_values(row, m)
    assert got[0] == pytest.approx(0.05)
    assert got[1] == "runs of one seed disagree"
    assert got[2] == "near chance"
