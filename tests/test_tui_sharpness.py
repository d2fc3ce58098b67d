"""Issue 22: the TUI's compare screen has a sharpness tab: the per-method table in the metrics'
own units, and each run's Hessian trace against its robustness with the rank correlation."""

from __future__ import annotations

import asyncio
import statistics

import pytest

from nawt_core import evalspec, stats
from nawt_core.store import Store
from tui_demo import FIXED_NOW, fill_demo, make_run_dirs

# runs 1-3 of the demo: standard, naive-noise, sam
TRACE = {1: [410.0, 390.0], 2: [700.0, 900.0], 3: [150.0, 250.0]}
TOP_EIG = {1: 35.5, 2: 61.0, 3: 12.3}


@pytest.fixture
def demo_with_sharpness(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NAWT_CIFAR_DIR", raising=False)
    url = "sqlite:///nawt.db"
    fill_demo(url, now=FIXED_NOW, run_dirs="runs")
    make_run_dirs("runs")
    store = Store(url)
    for rid in TRACE:
        ev = store.create_evaluation(run_id=rid, kind="sharpness", status="completed",
                                     clean_acc=store.get_run(rid).final_test_acc,
                                     config={"samples": 1000, "probes": 2, "iters": 20, "dataset": "cifar10",
                                             "precision": "fp32"})
        store.add_points(ev.id, [{"param": 0.0, "trial": t, "accuracy": v} for t, v in enumerate(TRACE[rid])]
                         + [{"param": 1.0, "trial": 0, "accuracy": TOP_EIG[rid]},
                            {"param": 2.0, "trial": 0, "accuracy": 0.05 * rid}])
    return url, store


def _auc(store: Store, run_id: int) -> float:
    """AUC above chance of a run's mean accuracy per strength, from its stored robustness points."""
    (ev,) = store.evaluations(run_id, "robustness")
    per: dict[float, list[float]] = {}
    for p in store.points(ev.id):
        per.setdefault(p.param, []).append(p.accuracy)
    xs = sorted(per)
    return stats.auc_above(xs, [statistics.fmean(per[x]) for x in xs])


def test_compare_has_a_sharpness_tab_with_its_table_and_rank_correlation(demo_with_sharpness):
    from nawt_tui.app import NawtApp

    url, store = demo_with_sharpness
    aucs = {rid: _auc(store, rid) for rid in TRACE}
    traces = {rid: statistics.fmean(v) for rid, v in TRACE.items()}
    # by hand: the ranks of trace and AUC run exactly opposite in this demo, so Spearman's rho is -1
    assert sorted(TRACE, key=traces.get) == sorted(TRACE, key=aucs.get, reverse=True)

    async def body():
        app = NawtApp(url, ".", now=lambda: FIXED_NOW, refresh_interval=60, host="test-host")
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await _open_compare(app, pilot)
            keys = {title: i for i, (_id, title) in enumerate(screen.tabs(), 1)}
            await pilot.press(str(keys["Sharpness"] % 10))
            await pilot.pause()
            table = screen.query_one(f"#{evalspec.evaluation('sharpness').ident}-table")
            cols = [str(c.label) for c in table.columns.values()]
            cells = {str(table.get_row_at(i)[0]): [str(c) for c in table.get_row_at(i)] for i in range(table.row_count)}
            return screen.query_one("#compare-tabs").active, cols, cells, screen.query_one("#plot-sharp").title

    active, cols, cells, title = asyncio.run(body())
    assert active == evalspec.evaluation("sharpness").ident
    trace_col, eig_col = cols.index("Hessian trace"), cols.index("top eigenvalue")
    # in the metrics' own units (not x100): standard's two probes 410 and 390: mean 400, std 14.14
    assert cells["standard"][trace_col] == "400.00±14.14" and cells["sam"][eig_col] == "12.30"
    assert "Spearman ρ = -1.00 over 3 runs" in title and "absolute" in title


async def _open_compare(app, pilot):
    """The compare screen of the demo's three runs, once its comparison has loaded."""
    from nawt_tui.screens.compare import CompareScreen

    screen = CompareScreen(run_ids=[1, 2, 3])
    await app.push_screen(screen)
    for _ in range(200):
        if screen.comparison is not None:
            break
        await pilot.pause(0.05)
    return screen


def test_snapshot_sharpness_tab(demo_with_sharpness, snap_compare):
    from nawt_tui.app import NawtApp
    from nawt_tui.screens.compare import CompareScreen

    url, _store = demo_with_sharpness
    app = NawtApp(url, ".", now=lambda: FIXED_NOW, refresh_interval=60, host="test-host")

    async def run_before(pilot):
        screen = CompareScreen(run_ids=[1, 2, 3])
        await app.push_screen(screen)
        for _ in range(200):
            if screen.comparison is not None and screen.sharp[0]:
                break
            await pilot.pause(0.05)
        keys = {title: i for i, (_id, title) in enumerate(screen.tabs(), 1)}
        await pilot.press(str(keys["Sharpness"] % 10))
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_a_hidden_tabs_key_says_why_instead_of_opening_it(demo_with_sharpness):
    from nawt_tui.app import NawtApp

    url, _store = demo_with_sharpness

    async def body():
        app = NawtApp(url, ".", now=lambda: FIXED_NOW, refresh_interval=60, host="test-host")
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await _open_compare(app, pilot)
            keys = {ident: i for i, (ident, _title) in enumerate(screen.tabs(), 1)}
            await pilot.press(str(keys[evalspec.evaluation("bitflip").ident] % 10))  # the demo has no bit-flip evaluations: a hidden tab
            await pilot.pause()
            return screen.query_one("#compare-tabs").active, [n.message for n in app._notifications]

    active, said = asyncio.run(body())
    assert active == "acc"
    assert any("no bitflip evaluations of these runs" in m for m in said), said
