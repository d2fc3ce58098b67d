"""The Textual TUI: live runs, stale detection, compare, new-run form, export, snapshots.

Runs on a temporary SQLite database filled by `tests/tui_demo.py` with a fixed clock.
"""

from __future__ import annotations

import asyncio
import csv
import importlib.util
import os
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from nawt_tui.app import NawtApp
from nawt_tui.data import DataSource, store_datetime
from tui_demo import DEMO_HOST, FIXED_NOW, fill_demo, make_run_dirs

ROOT = Path(__file__).resolve().parents[1]


def run_async(fn):
    """Runs an async test body with asyncio.run (no pytest-asyncio needed)."""
    import functools
    import inspect

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return asyncio.run(fn(*args, **kwargs))

    wrapper.__signature__ = inspect.signature(fn)
    return wrapper


# ------------------------------------------------------------------ fixtures
@pytest.fixture
def demo_db(tmp_path, monkeypatch):
    """A demo database at a stable relative path (snapshots show it), fixed clock."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NAWT_CIFAR_DIR", raising=False)  # the new-run form's default folder shows in snapshots
    url = "sqlite:///nawt.db"
    fill_demo(url, now=FIXED_NOW, run_dirs="runs")
    make_run_dirs("runs")
    return url


def make_app(url: str, interval: float = 0.2, cifar_dir: str | None = None, data_dir: str = "data") -> NawtApp:
    return NawtApp(url, data_dir, cifar_dir=cifar_dir, now=lambda: FIXED_NOW, refresh_interval=interval,
                   host="test-host")


async def wait_for(pilot, cond, timeout: float = 8.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        if loop.time() > end:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.05)


def runs_screen(app):
    from nawt_tui.screens.runs import RunsScreen

    return next(s for s in app.screen_stack if isinstance(s, RunsScreen))


def rich_text(renderable, width: int = 100) -> str:
    from rich.console import Console

    con = Console(width=width, record=True, file=open(os.devnull, "w"))
    con.print(renderable)
    return con.export_text()


def cell(app, run_id: int, col: str) -> str:
    return str(runs_screen(app).table.get_cell(str(run_id), col))


# ------------------------------------------------------------------ runs screen
@run_async
async def test_runs_appear_with_stale_and_running(demo_db):
    app = make_app(demo_db)
    async with app.run_test(size=(200, 60)) as pilot:  # wide: every column shows
        await wait_for(pilot, lambda: runs_screen(app).table.row_count == 8)
        assert cell(app, 4, "status") == "running"
        assert cell(app, 5, "status") == "stale"  # heartbeat 2 h old on another host
        assert cell(app, 6, "status") == "failed"
        assert cell(app, 1, "acc") == "89.74"  # percent, two decimals, like the CLI
        assert cell(app, 3, "best") == "90.26"
        assert "120/200" in cell(app, 4, "progress")
        assert cell(app, 4, "eta") != "—"


@run_async
async def test_row_written_by_another_store_updates_in_place(demo_db):
    from nawt_core.store import Store

    app = make_app(demo_db, interval=0.2)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = runs_screen(app)
        await wait_for(pilot, lambda: screen.table.row_count == 8)
        screen.move_to_run(3)
        other = Store(demo_db)  # another connection, as a training process would hold
        from nawt_core.store import Run

        hb = store_datetime(FIXED_NOW, Run.__table__.c.heartbeat_at.type)
        await asyncio.to_thread(other.update_run, 4, epoch=121, batch=0, test_acc=0.8811, heartbeat_at=hb)
        await wait_for(pilot, lambda: "121/200" in cell(app, 4, "progress"), timeout=3.0)
        assert cell(app, 4, "acc") == "88.11"
        assert screen.cursor_run_id() == 3  # the cursor stayed on its run
        await asyncio.to_thread(other.create_run, method="sam", name="newcomer", status="queued", epochs=5)
        await wait_for(pilot, lambda: screen.table.row_count == 9, timeout=3.0)
        assert screen.cursor_run_id() == 3
        other.engine.dispose()


def test_stale_detection_rules(demo_db):
    import socket

    from nawt_core.store import Run

    def beat(**kw):
        fields = dict(id=1, method="sam", status="running", host=DEMO_HOST, pid=None,
                      created_at=FIXED_NOW - timedelta(hours=3), started_at=FIXED_NOW - timedelta(hours=3))
        fields.update(kw)
        return Run(**fields)

    src = DataSource(demo_db, "data", now=lambda: FIXED_NOW)
    now = FIXED_NOW
    assert src.status_of(beat(heartbeat_at=now - timedelta(seconds=3)), now) == "running"
    assert src.status_of(beat(heartbeat_at=now - timedelta(hours=1)), now) == "stale"  # other host, long
    here = socket.gethostname()
    dead = beat(host=here, pid=2**22 + 12345, heartbeat_at=now - timedelta(minutes=5))
    assert src.status_of(dead, now) == "stale"  # same host, process gone
    alive = beat(host=here, pid=os.getpid(), heartbeat_at=now - timedelta(minutes=5))
    assert src.status_of(alive, now) == "running"
    assert src.status_of(beat(status="completed", heartbeat_at=now - timedelta(days=1)), now) == "completed"


@run_async
async def test_filters_and_sort_keep_cursor(demo_db):
    app = make_app(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = runs_screen(app)
        await wait_for(pilot, lambda: screen.table.row_count == 8)
        await pilot.press("m")  # method filter: standard
        assert screen.table.row_count == 3
        await pilot.press("escape")
        assert screen.table.row_count == 8
        await pilot.press("f")  # status filter: running
        assert screen.table.row_count == 1
        await pilot.press("escape", "slash", *"poster", "enter")
        assert screen.table.row_count == 4
        await pilot.press("escape")
        screen.move_to_run(2)
        await pilot.press("o", "o", "o")  # sort by method, then status, then progress...
        assert screen.cursor_run_id() == 2


@run_async
async def test_missing_database_shows_a_message(tmp_path):
    app = make_app(f"sqlite:///{tmp_path}/nope/nawt.db")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = runs_screen(app)
        await wait_for(pilot, lambda: screen.error is not None)
        assert "no database" in screen.error
        assert app.is_running


@run_async
async def test_export_writes_a_csv_that_parses_back(demo_db, tmp_path):
    app = make_app(demo_db)
    out = tmp_path / "exports" / "runs.csv"
    async with app.run_test(size=(120, 40)) as pilot:
        screen = runs_screen(app)
        await wait_for(pilot, lambda: screen.table.row_count == 8)
        await pilot.press("w")
        await pilot.pause()
        inp = app.screen.query_one("#prompt-input")
        inp.value = str(out)
        await pilot.press("enter")
        await wait_for(pilot, out.exists)
        await app.workers.wait_for_complete()
    rows = list(csv.DictReader(out.open()))
    assert [int(r["id"]) for r in rows] == [8, 7, 6, 5, 4, 3, 2, 1]
    std = next(r for r in rows if r["id"] == "1")
    assert std["method"] == "standard" and float(std["test_acc"]) == pytest.approx(0.8974)
    assert next(r for r in rows if r["id"] == "5")["status"] == "stale"


@run_async
async def test_stop_and_delete_actions(demo_db):
    from nawt_core.store import Store

    app = make_app(demo_db, data_dir=".")  # the demo's run folders are in ./runs: delete removes only those
    async with app.run_test(size=(120, 40)) as pilot:
        screen = runs_screen(app)
        await wait_for(pilot, lambda: screen.table.row_count == 8)
        screen.move_to_run(4)
        await pilot.press("x")
        await pilot.press("y")
        await wait_for(pilot, lambda: Store(demo_db).get_run(4).stop_requested)
        await wait_for(pilot, lambda: cell(app, 4, "status") == "stopping")
        screen.move_to_run(7)
        assert Path("runs/0007-std-seed1").is_dir()
        await pilot.press("d", "y")
        await wait_for(pilot, lambda: screen.table.row_count == 7)
        assert not Path("runs/0007-std-seed1").exists()


async def open_compare(app, pilot, run_ids=(1, 2, 3)):
    """The compare screen of ``run_ids``, pushed once the runs list is loaded, its comparison computed."""
    from nawt_tui.screens.compare import CompareScreen

    await wait_for(pilot, lambda: runs_screen(app).table.row_count == 8)
    screen = CompareScreen(run_ids=list(run_ids))
    await app.push_screen(screen)
    await wait_for(pilot, lambda: screen.comparison is not None)
    return screen


# ------------------------------------------------------------------ compare
@run_async
async def test_compare_shows_the_right_numbers(demo_db):
    app = make_app(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_compare(app, pilot)
        acc = screen.query_one("#acc-table")
        assert acc.row_count == 3
        assert str(acc.get_cell("standard", "mean")) == "89.74"
        assert str(acc.get_cell("sam", "mean")) == "90.26"
        assert str(acc.get_cell("sam", "std")) == "1 seed"  # one run: no spread to show, never ± 0.00
        assert str(acc.get_cell("sam", "ci")) == "1 seed"
        timing = screen.query_one("#time-table")  # its own table: beside accuracy it was cut at 80 columns
        assert str(timing.get_cell("sam", "ratio")) == f"{6241 / 4923:.2f}"
        assert str(timing.get_cell("standard", "ratio")) == "1.00"
        rob = screen.query_one("#rob-table")
        assert rob.row_count == 3 and len(rob.columns) == 1 + 6 + 2  # 6 strengths, AUC and halving strength
        rows = {r.method: r for r in screen.comparison.robustness}
        assert str(rob.get_cell("standard", "sum-auc")) == f"{100 * rows['standard'].auc:.2f}"
        # robustness cells: mean±std in percent points, one decimal so six strengths fit 80 columns
        assert str(rob.get_cell("standard", "s0.02")) == "79.5±0.1"
        quant = screen.query_one("#quant-table")
        assert str(quant.get_cell("standard", "fp")) == "89.74"
        assert str(quant.get_cell("sam", "b4")) == "87.86"
        # w writes the report of what is shown (runs, not a study: under data/reports) and names it
        await pilot.press("w")
        page = Path("data/reports/runs-1-2-3/report.html")
        await wait_for(pilot, lambda: page.exists() and Path("data/reports/runs-1-2-3/report.md").exists(),
                       timeout=30)
        await wait_for(pilot, lambda: any("report written" in n.message for n in app._notifications))
        note = next(n.message for n in app._notifications if "report written" in n.message)
        assert str(page) in note and "89.74" in page.read_text()
        # narrowing the selection recomputes (once the pick list, loaded by its own worker, is there)
        await wait_for(pilot, lambda: screen.query_one("#run-pick").option_count == 8)
        screen.query_one("#run-pick").deselect(2)
        await wait_for(pilot, lambda: screen.comparison is not None and len(screen.comparison.runs) == 2)
        await wait_for(pilot, lambda: screen.query_one("#acc-table").row_count == 2)
        # a study
        await pilot.press("s")
        await wait_for(pilot, lambda: screen.comparison is not None and len(screen.comparison.runs) == 4)


@run_async
async def test_compare_variant_key_and_digit_keys(demo_db):
    """a cycles the variant of the tab shown; a variant with no sweeps keeps its tab (empty, saying
    what is stored) so a brings the stored one back; a tab without variants says so and changes
    nothing; digit keys switch tabs even while a table of the accuracy tab has focus."""
    app = make_app(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_compare(app, pilot)
        tabs = screen.query_one("TabbedContent")
        screen.query_one("#acc-table").focus()
        await pilot.pause()
        await pilot.press("2")
        await wait_for(pilot, lambda: tabs.active == "rob")
        before = dict(screen.variants)
        await pilot.press("a")
        await wait_for(pilot, lambda: screen.comparison.robustness_mode is None
                       and screen.comparison.table("robustness").other_variants == ["absolute"])
        await pilot.pause()
        assert screen.variants["robustness"] == "relative" and "rob" not in screen._hidden and tabs.active == "rob"
        assert "stored: absolute (a: next variant)" in screen.query_one("#plot-rob")._empty
        await pilot.press("a", "a")  # relative -> std -> absolute
        await wait_for(pilot, lambda: screen.comparison.robustness_mode == "absolute")
        assert screen.query_one("#rob-table").row_count == 3
        await pilot.press("1")
        await wait_for(pilot, lambda: tabs.active == "acc")
        await pilot.press("a")
        await pilot.pause()
        assert screen.variants == before
        assert any("this tab has no variants" in n.message for n in app._notifications)


@run_async
async def test_compare_header_is_one_line_at_80(demo_db):
    from nawt_tui.screens.compare import CompareScreen, _id_list

    assert _id_list([1, 2, 3], 20) == "#1 #2 #3"
    cut = _id_list(list(range(1, 41)), 30)
    assert cut.startswith("#1 #2") and cut.endswith("… (40)") and len(cut) <= 30
    app = make_app(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: runs_screen(app).table.row_count == 8)
        screen = CompareScreen(run_ids=list(range(1, 9)))
        await app.push_screen(screen)
        await wait_for(pilot, lambda: screen.comparison is not None)
        await pilot.pause()
        src = screen.query_one("#compare-source")
        assert src.region.height == 1
        assert "3 completed of 8" in str(src.render()) and "absolute" in str(src.render())


@run_async
async def test_compare_follows_runs_as_they_complete(demo_db):
    """The compare screen polls the store: a run of the selection that completes
    appears in the tables; a running run is never counted."""
    from nawt_core.store import Store
    from nawt_tui.screens.compare import CompareScreen

    app = make_app(demo_db, interval=0.2)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: runs_screen(app).table.row_count == 8)
        screen = CompareScreen(run_ids=[1, 2, 3, 4])  # 4: multistep-sam, still running
        await app.push_screen(screen)
        await wait_for(pilot, lambda: screen.comparison is not None)
        acc = screen.query_one("#acc-table")
        assert acc.row_count == 3 and "multistep-sam" not in acc.rows
        assert "3 completed of 4" in str(screen.query_one("#compare-source").render())
        await pilot.pause(0.5)  # the poller has read the store once
        Store(demo_db).update_run(4, status="completed", final_test_acc=0.9123, epoch=200)
        await wait_for(pilot, lambda: acc.row_count == 4)
        assert str(acc.get_cell("multistep-sam", "mean")) == "91.23"
        assert "4 completed" in str(screen.query_one("#compare-source").render())


# ------------------------------------------------------------------ new run form
def test_validate_rejects_bad_values():
    from nawt_tui.screens.new_run import validate

    good = dict(method="sam", dataset="synthetic", device="cpu", arch="resnet32", precision="bf16",
                schedule="step", adaptive=True, name="ok-1", epochs="2", batch_size="64", lr="0.05",
                rho="0.05", stages="", noise_sigma="", noise_eta="", seed="1", train_subset="256",
                test_subset="")
    typed, errors = validate(good)
    assert errors == {} and typed["epochs"] == 2 and typed["rho"] == 0.05 and typed["noise_sigma"] is None
    assert typed["arch"] == "resnet32" and typed["precision"] == "bf16" and typed["schedule"] == "step"
    assert typed["adaptive"] is True and typed["stages"] is None  # stages: multistep-sam only
    for key, bad in [("epochs", "0"), ("epochs", "x"), ("batch_size", "-1"), ("lr", "0"), ("lr", "abc"),
                     ("rho", "-0.1"), ("seed", "-5"), ("train_subset", "0"), ("name", "bad name!"),
                     ("arch", "resnet18"), ("precision", "fp16"), ("schedule", "linear")]:
        _, errors = validate({**good, key: bad})
        assert key in errors, (key, bad)
    assert "method" in validate({**good, "method": "magic"})[1]
    msam = {**good, "method": "multistep-sam", "stages": "4"}
    assert validate(msam)[0]["stages"] == 4
    for bad in ("0", "-2", "1.5", ""):
        assert "stages" in validate({**msam, "stages": bad})[1], bad
    # adaptive is SAM only: dropped (not an error) for other methods
    typed, errors = validate({**good, "method": "standard"})
    assert errors == {} and typed["adaptive"] is False and typed["rho"] is None


def test_train_and_eval_args():
    from nawt_tui.launch import common_args, eval_args, train_args

    args = train_args(dict(method="multistep-sam", arch="resnet56", epochs=3, precision="bf16",
                           schedule="step", stages=4, adaptive=True, rho=0.1, noise_sigma=None, name=None))
    assert args[:3] == ["train", "--method", "multistep-sam"]
    for flag, value in [("--arch", "resnet56"), ("--precision", "bf16"), ("--schedule", "step"),
                        ("--stages", "4"), ("--rho", "0.1"), ("--epochs", "3")]:
        assert args[args.index(flag) + 1] == value
    assert "--adaptive" in args and "--noise-sigma" not in args and "--name" not in args
    assert "--adaptive" not in train_args(dict(method="sam", adaptive=False))
    # an option on by default: unticking it must say so (a missing flag would train the default)
    assert train_args(dict(method="naive-noise", noise_last_epoch=False))[-1] == "--no-noise-last-epoch"
    assert not any("noise-last" in a for a in train_args(dict(method="naive-noise", noise_last_epoch=True)))
    assert not any("noise-last" in a for a in train_args(dict(method="standard", noise_last_epoch=False)))
    assert eval_args("robustness", [3, 4], dict(mode="std", strengths=[0.0, 0.05, 0.1], trials=3)) == [
        "eval", "robustness", "3", "4", "--mode", "std", "--strengths", "0,0.05,0.1", "--trials", "3"]
    assert eval_args("robustness", [3], dict(mode="absolute", strengths=None, trials=10)) == [
        "eval", "robustness", "3", "--mode", "absolute", "--trials", "10"]  # blank strengths: the CLI's
    assert eval_args("quantization", [1], dict(bits=[8, 6, 4], granularity="tensor", fold_bn=True)) == [
        "eval", "quantization", "1", "--bits", "8,6,4", "--granularity", "tensor", "--fold-bn"]
    assert "--fold-bn" not in eval_args("quantization", [1], dict(bits=[8], granularity="channel"))
    assert common_args("sqlite:///x.db", "d") == ["--db", "sqlite:///x.db", "--data-dir", "d"]
    assert common_args("sqlite:///x.db", "d", "/cifar")[-2:] == ["--cifar-dir", "/cifar"]


def test_validate_eval_options():
    from nawt_tui.screens.dialogs import validate_eval

    rob = dict(kind="robustness", mode="relative", strengths="0.1, 0,0.05", trials="5")
    opts, errors = validate_eval(rob)
    assert errors == {} and opts == dict(mode="relative", strengths=[0.0, 0.05, 0.1], trials=5, recalibrate_bn=0,
                                         precision="auto", device=None)  # blank device: the run's own family
    assert validate_eval({**rob, "strengths": " "})[0]["strengths"] is None
    for key, bad in [("strengths", "0,-0.1"), ("strengths", "0,abc"), ("strengths", "inf"),
                     ("strengths", "nan"), ("trials", "0"), ("trials", ""), ("trials", "2.5"),
                     ("mode", "gaussian"), ("device", "gpu"), ("device", "cuda:x")]:
        assert key in validate_eval({**rob, key: bad})[1], (key, bad)
    quant = dict(kind="quantization", bits="8,6 4", granularity="tensor", fold_bn=True)
    opts, errors = validate_eval(quant)
    assert errors == {} and opts == dict(bits=[8, 6, 4], granularity="tensor", fold_bn=True, recalibrate_bn=0,
                                         precision="auto", device=None)
    assert validate_eval({**quant, "device": "cuda:1"})[0]["device"] == "cuda:1"
    for key, bad in [("bits", "8,17"), ("bits", "0"), ("bits", "4.5"), ("bits", ""),
                     ("granularity", "layer")]:
        assert key in validate_eval({**quant, key: bad})[1], (key, bad)


@run_async
async def test_new_run_form_rejects_bad_values_and_launches_good_ones(demo_db, monkeypatch):
    from nawt_tui.launch import LaunchResult
    from nawt_tui import actions

    calls = []

    def fake_launch(args, timeout=120.0):
        calls.append(args)
        return LaunchResult(True, "started run 9", 9)

    monkeypatch.setattr(actions, "run_detached_cli", fake_launch)
    app = make_app(demo_db, cifar_dir="/srv/cifar")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: runs_screen(app).table.row_count == 8)
        await pilot.press("n")
        await pilot.pause()
        form = app.screen
        form.query_one("#f-epochs").value = "-3"
        form.query_one("#f-lr").value = "fast"
        await pilot.press("ctrl+s")
        await pilot.pause()
        text = str(form.query_one("#form-errors").render())
        assert "epochs" in text and "learning rate" in text
        assert calls == [] and app.screen is form
        form.query_one("#f-epochs").value = "2"
        form.query_one("#f-lr").value = "0.05"
        form.query_one("#f-dataset").value = "synthetic"
        form.query_one("#f-adaptive").value = True  # ignored: standard is not SAM
        await pilot.pause()
        assert form.query_one("#f-adaptive").disabled and form.query_one("#f-stages").disabled
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is not form)
    args = calls[0]
    assert args[0] == "train" and args[-1] == "--detach"
    assert args[args.index("--epochs") + 1] == "2" and args[args.index("--dataset") + 1] == "synthetic"
    assert "--rho" not in args and "--adaptive" not in args and "--stages" not in args
    assert args[args.index("--db") + 1] == demo_db
    assert args[args.index("--cifar-dir") + 1] == "/srv/cifar"
    assert args[args.index("--precision") + 1] == "auto" and args[args.index("--arch") + 1] == "resnet20"


@run_async
async def test_new_run_form_sam_options_and_keyboard_launch_at_80x24(demo_db, monkeypatch):
    """multistep-sam with stages and ASAM, bf16, step schedule; Launch reached with Tab alone."""
    from nawt_tui.launch import LaunchResult
    from nawt_tui import actions

    calls = []
    monkeypatch.setattr(actions, "run_detached_cli",
                        lambda args, timeout=120.0: calls.append(args) or LaunchResult(True, "started run 9", 9))
    batches = Path("data/cifar-10-batches-py")  # CIFAR-10 where nawt looks by default (the data dir)
    batches.mkdir(parents=True)
    for name in ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"):
        (batches / name).write_bytes(b"")
    app = make_app(demo_db)  # no --cifar-dir
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: runs_screen(app).table.row_count == 8)
        await pilot.press("n")
        await pilot.pause()
        form = app.screen
        for key, value in [("method", "multistep-sam"), ("arch", "resnet44"), ("precision", "bf16"),
                           ("schedule", "step")]:
            form.query_one(f"#f-{key}").value = value
        await pilot.pause()
        assert not form.query_one("#f-stages").disabled and not form.query_one("#f-adaptive").disabled
        assert form.query_one("#f-noise_sigma").disabled
        form.query_one("#f-stages").value = "0"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "stages" in str(form.query_one("#form-errors").render()) and calls == []
        form.query_one("#f-stages").value = "4"
        form.query_one("#f-adaptive").value = True
        form.query_one("#f-method").focus()
        for _ in range(30):  # Tab through the (scrolling) form to the Launch button
            if app.focused is not None and app.focused.id == "launch":
                break
            await pilot.press("tab")
        assert app.focused.id == "launch"
        assert form.query_one("#launch").region.bottom <= 24  # on screen
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is not form)
    args = calls[0]
    for flag, value in [("--method", "multistep-sam"), ("--arch", "resnet44"), ("--precision", "bf16"),
                        ("--schedule", "step"), ("--stages", "4"), ("--rho", "0.05")]:
        assert args[args.index(flag) + 1] == value, flag
    assert "--adaptive" in args and "--cifar-dir" not in args


@run_async
async def test_new_run_form_says_when_cifar10_is_missing(demo_db, monkeypatch, tmp_path):
    from nawt_tui.launch import LaunchResult
    from nawt_tui import actions

    calls = []
    monkeypatch.setattr(actions, "run_detached_cli",
                        lambda args, timeout=120.0: calls.append(args) or LaunchResult(True, "started run 9", 9))
    monkeypatch.delenv("NAWT_CIFAR_DIR", raising=False)
    app = make_app(demo_db, cifar_dir=str(tmp_path / "nothing-here"))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: runs_screen(app).table.row_count == 8)
        await pilot.press("n")
        await pilot.pause()
        form = app.screen
        folder = form.query_one("#f-cifar_dir")
        assert folder.value == str(tmp_path / "nothing-here")  # the folder the TUI was started with
        assert "no CIFAR-10" in str(form.query_one("#help-cifar_dir").render())
        form.query_one("#f-epochs").value = "2"
        await pilot.press("ctrl+s")
        await pilot.pause()
        text = str(form.query_one("#form-errors").render())
        assert "CIFAR-10 is not in" in text and "nothing-here" in text and calls == []
        # an incomplete folder is named as such; a complete one launches at once, with that folder
        real = tmp_path / "cifar" / "cifar-10-batches-py"
        real.mkdir(parents=True)
        (real / "data_batch_1").write_bytes(b"")
        folder.value = str(tmp_path / "cifar")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "test_batch" in str(form.query_one("#form-errors").render()) and calls == []
        for name in ("data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"):
            (real / name).write_bytes(b"")
        folder.value = str(tmp_path / "cifar") + "/"
        await pilot.pause()
        assert "found" in str(form.query_one("#help-cifar_dir").render())
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: calls)
    assert calls[0][calls[0].index("--cifar-dir") + 1] == str(tmp_path / "cifar") + "/"
    assert calls[0].count("--cifar-dir") == 1


@run_async
async def test_new_run_form_launches_anyway_when_asked_twice(demo_db, monkeypatch):
    from nawt_tui.launch import LaunchResult
    from nawt_tui import actions

    calls = []
    monkeypatch.setattr(actions, "run_detached_cli",
                        lambda args, timeout=120.0: calls.append(args) or LaunchResult(True, "started run 9", 9))
    monkeypatch.setenv("NAWT_CIFAR_DIR", "/no/such/cifar")
    app = make_app(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: runs_screen(app).table.row_count == 8)
        await pilot.press("n")
        await pilot.pause()
        form = app.screen
        assert form.query_one("#f-cifar_dir").value == "/no/such/cifar"  # NAWT_CIFAR_DIR
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert calls == [] and "download" in str(form.query_one("#form-errors").render())
        await pilot.press("ctrl+s")  # asked twice: nawt train will try to download it there
        await wait_for(pilot, lambda: calls)
    assert calls[0][calls[0].index("--cifar-dir") + 1] == "/no/such/cifar"


@pytest.fixture
def sixth_method():
    """A method defined only here, made known through the public hook (no torch class: the TUI needs none)."""
    from nawt_core import spec

    m = spec.register_method(spec.MethodSpec("tiny-noise", "tiny noise", "#8c564b",
                                             "a test method: per-batch noise", options=("noise_eta", "ascent_steps")))
    yield m
    spec.unregister_method(m.name)


@run_async
async def test_a_registered_sixth_method_shows_in_the_new_run_form(demo_db, monkeypatch, sixth_method):
    from textual.widgets import Select

    from nawt_tui import actions
    from nawt_tui.launch import LaunchResult

    calls = []
    monkeypatch.setattr(actions, "run_detached_cli",
                        lambda args, timeout=120.0: calls.append(args) or LaunchResult(True, "started run 9", 9))
    app = make_app(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: runs_screen(app).table.row_count == 8)
        await pilot.press("n")
        await pilot.pause()
        form = app.screen
        method = form.query_one("#f-method", Select)
        assert [v for _l, v in method._options if v != Select.BLANK][-1] == "tiny-noise"
        assert form.query_one("#f-noise_eta").disabled  # standard: its options are off
        method.value = "tiny-noise"
        await pilot.pause()
        assert not form.query_one("#f-noise_eta").disabled and not form.query_one("#f-ascent_steps").disabled
        assert all(form.query_one(f"#f-{k}").disabled for k in ("rho", "stages", "adaptive", "noise_sigma"))
        form.query_one("#f-ascent_steps").value = "0"  # the spec's bound (>= 1) holds for the new method
        form.query_one("#f-dataset").value = "synthetic"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "ascent steps" in str(form.query_one("#form-errors").render()) and calls == []
        form.query_one("#f-ascent_steps").value = "2"
        form.query_one("#f-noise_eta").value = "0.02"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is not form)
    args = calls[0]
    assert args[args.index("--method") + 1] == "tiny-noise"
    assert args[args.index("--noise-eta") + 1] == "0.02" and args[args.index("--ascent-steps") + 1] == "2"
    assert "--rho" not in args and "--noise-sigma" not in args


@run_async
async def test_evaluate_dialog_validates_and_spawns_with_options(demo_db, monkeypatch):
    from nawt_tui.launch import LaunchResult
    from nawt_tui import actions as runs_mod
    from nawt_tui.screens.dialogs import EvalScreen

    calls = []
    monkeypatch.setattr(runs_mod, "spawn_background",
                        lambda args, data_dir, tag, wait=1.5: calls.append(args) or LaunchResult(True, "ok"))
    app = make_app(demo_db, cifar_dir="/srv/cifar")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = runs_screen(app)
        await wait_for(pilot, lambda: screen.table.row_count == 8)
        screen.move_to_run(7)  # interrupted: `nawt eval` refuses it, so the TUI does too
        await pilot.press("e")
        await pilot.pause()
        assert not isinstance(app.screen, EvalScreen)
        screen.move_to_run(3)
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, EvalScreen))
        dlg = app.screen
        assert dlg.query_one("#eval-bits").display is False  # quantization fields hidden
        dlg.query_one("#eval-mode").value = "relative"
        await pilot.pause()
        assert dlg.query_one("#eval-strengths").value == "0,0.01,0.02,0.05,0.1,0.2"  # the mode's default
        dlg.query_one("#eval-strengths").value = "0,-0.05"
        dlg.query_one("#eval-trials").value = "0"
        await pilot.press("ctrl+s")
        await pilot.pause()
        text = str(dlg.query_one("#eval-errors").render())
        assert "strengths" in text and "trials" in text and app.screen is dlg and calls == []
        dlg.query_one("#eval-strengths").value = "0,0.02,0.05,0.1"
        dlg.query_one("#eval-trials").value = "3"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: calls)
        assert calls[0][:calls[0].index("--db")] == [
            "eval", "robustness", "3", "--mode", "relative", "--strengths", "0,0.02,0.05,0.1", "--trials", "3",
            "--recalibrate-bn", "0", "--precision", "auto"]
        assert calls[0][calls[0].index("--cifar-dir") + 1] == "/srv/cifar"
        # quantization
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, EvalScreen))
        dlg = app.screen
        dlg.query_one("#eval-kind").value = "quantization"
        await pilot.pause()
        assert dlg.query_one("#eval-bits").display and not dlg.query_one("#eval-trials").display
        dlg.query_one("#eval-bits").value = "8,17"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "bits" in str(dlg.query_one("#eval-errors").render()) and len(calls) == 1
        dlg.query_one("#eval-bits").value = "8,6,4"
        dlg.query_one("#eval-granularity").value = "tensor"
        dlg.query_one("#eval-fold-bn").value = True
        dlg.query_one("#eval-precision").value = "bf16"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: len(calls) == 2)
        assert calls[1][:calls[1].index("--db")] == [
            "eval", "quantization", "3", "--bits", "8,6,4", "--granularity", "tensor", "--fold-bn",
            "--recalibrate-bn", "0", "--precision", "bf16"]
        assert calls[1][-2:] == ["--cifar-dir", "/srv/cifar"]


@run_async
async def test_started_evaluation_shows_at_once_with_progress_and_log(demo_db):
    from nawt_core.store import Store
    from nawt_tui.messages import ActionDone
    from nawt_tui.screens.detail import DetailScreen

    store = Store(demo_db)
    app = make_app(demo_db, interval=60)  # no polling: the start itself must bring the row
    async with app.run_test(size=(120, 40)) as pilot:
        screen = runs_screen(app)
        await wait_for(pilot, lambda: screen.table.row_count == 8)
        detail = DetailScreen(3)
        await app.push_screen(detail)
        await wait_for(pilot, lambda: detail.detail is not None)
        table = detail.query_one("#eval-table")
        assert table.row_count == 2
        # what `nawt eval` records first thing (nawt_core.recorder), then the TUI's "started" message
        log = Path("runs/0003-poster-sam/eval-3.log")
        log.write_text("evaluation 3: robustness of run 3\n3/10 done\n")
        ev = store.create_evaluation(run_id=3, kind="robustness", status="queued", config={"mode": "relative"},
                                     host="test-host", pid=os.getpid(), log_path=str(log))
        screen.post_message(ActionDone("nawt eval started"))
        await wait_for(pilot, lambda: table.row_count == 3, timeout=4)
        assert str(table.get_cell(str(ev.id), "status")) == "queued"
        store.update_evaluation(ev.id, status="running", progress=0.4)
        await wait_for(pilot, lambda: str(table.get_cell(str(ev.id), "status")) == "running 40%", timeout=6)
        await pilot.press("5")
        await pilot.pause()
        await pilot.pause(0.2)
        lines = [line.text for line in detail.query_one("#log-body").lines]
        assert any(f"evaluation {ev.id} (robustness)" in ln for ln in lines) and lines[-1] == "3/10 done"
        store.update_evaluation(ev.id, pid=2**22 + 4321)  # its process died without a word
        await wait_for(pilot, lambda: str(table.get_cell(str(ev.id), "status")) == "stale", timeout=6)
    store.engine.dispose()


@run_async
async def test_diff_overlay_and_tags_from_the_runs_screen(demo_db):
    from nawt_core.store import Store
    from nawt_tui.screens.diff import DiffScreen
    from nawt_tui.screens.overlay import OverlayScreen

    app = make_app(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = runs_screen(app)
        await wait_for(pilot, lambda: screen.table.row_count == 8)
        assert str(screen.table.get_cell("8", "settings")) == "epochs 2 synthetic cpu seed 2"
        await pilot.press("D")  # nothing marked: a hint, no screen
        assert app.screen is screen
        screen.move_to_run(1)
        await pilot.press("space")
        screen.move_to_run(3)
        await pilot.press("space", "D")
        await wait_for(pilot, lambda: isinstance(app.screen, DiffScreen) and app.screen.runs is not None)
        body = rich_text(app.screen.query_one("#diff-body").content)
        assert "● rho" in body and "0.05" in body and "● seed" in body and "● lr" not in body
        assert "equal settings hidden" in str(app.screen.query_one("#diff-note").render())
        await pilot.press("a")
        assert "  lr" in rich_text(app.screen.query_one("#diff-body").content)
        await pilot.press("escape", "p")
        await wait_for(pilot, lambda: isinstance(app.screen, OverlayScreen) and app.screen.loaded is not None)
        assert [r.id for r, _e in app.screen.loaded] == [1, 3]
        assert [len(e) for _r, e in app.screen.loaded] == [200, 200]
        await pilot.press("escape")
        screen.move_to_run(2)
        await pilot.press("t")
        await pilot.pause()
        app.screen.query_one("#prompt-input").value = "baseline  poster"
        await pilot.press("enter")
        await wait_for(pilot, lambda: Store(demo_db).get_run(2).tags == ["baseline", "poster"])
        await wait_for(pilot, lambda: "baseline" in str(screen.views[2].tags))
        await pilot.press("slash", *"tag:baseline", "enter")
        assert screen.table.row_count == 1
        await pilot.press("escape")
        assert screen.table.row_count == 8
        # the footer keeps Help and Quit at 80 columns
        footer = " ".join(str(w.render()) for w in screen.query("FooterKey"))
        assert "Help" in footer and "Quit" in footer


def _capture_launches(monkeypatch, message: str, run_id: int) -> tuple[list, list]:
    """The TUI's `nawt train` (detached) and background `nawt study` calls, recorded instead of run."""
    from nawt_tui import actions as runs_mod
    from nawt_tui.launch import LaunchResult

    launched, spawned = [], []
    monkeypatch.setattr(runs_mod, "run_detached_cli",
                        lambda args, timeout=120.0: launched.append(args) or LaunchResult(True, message, run_id))
    monkeypatch.setattr(runs_mod, "spawn_background",
                        lambda args, data_dir, tag, wait=1.5: spawned.append(args) or LaunchResult(True, "ok"))
    return launched, spawned


@run_async
async def test_resume_and_study_pass_the_cifar_dir(demo_db, monkeypatch):
    resumed, spawned = _capture_launches(monkeypatch, "ok", 7)
    app = make_app(demo_db, cifar_dir="/srv/cifar")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = runs_screen(app)
        await wait_for(pilot, lambda: screen.table.row_count == 8)
        screen.move_to_run(7)
        await pilot.press("r")
        await wait_for(pilot, lambda: resumed)
        await pilot.press("S")
        await pilot.pause()
        name = app.screen.query_one("#study-name")
        name.value = "s1"
        name.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: spawned)
    assert resumed[0][:3] == ["train", "--resume", "7"] and resumed[0][-1] == "--detach"
    assert resumed[0][resumed[0].index("--cifar-dir") + 1] == "/srv/cifar"
    assert spawned[0][:5] == ["study", "--preset", "smoke", "--name", "s1"]
    assert spawned[0][spawned[0].index("--cifar-dir") + 1] == "/srv/cifar"


def _queue_and_workers(url: str) -> None:
    """Runs 8 and 7 queued (in that order), run 4 claimed by a worker, and three workers, one silent."""
    from nawt_core import queue
    from nawt_core.store import Store, Worker

    store = Store(url)
    queue.enqueue(store, 8)
    queue.enqueue(store, 7)
    store.update_run(4, worker_id=f"{DEMO_HOST}-40004-a1b2c3")
    now = store_datetime(FIXED_NOW, Worker.__table__.c.heartbeat_at.type)
    with store._session() as s:
        s.add(Worker(id=f"{DEMO_HOST}-40004-a1b2c3", host=DEMO_HOST, pid=40004, device="cuda:0", threads=4,
                     started_at=now, heartbeat_at=now - timedelta(seconds=3), run_id=4, status="running"))
        s.add(Worker(id="node-2-777-0c0c0c", host="node-2", pid=777, device="cuda:1", started_at=now,
                     heartbeat_at=now - timedelta(minutes=20), run_id=5, status="running"))
        s.add(Worker(id="node-3-9-dddddd", host="node-3", pid=9, device="cpu", started_at=now,
                     heartbeat_at=now - timedelta(minutes=20), status="stopped", runs_done=3))
        s.commit()


@run_async
async def test_queue_places_worker_column_and_workers_view(demo_db):
    _queue_and_workers(demo_db)
    app = make_app(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = runs_screen(app)
        await wait_for(pilot, lambda: screen.table.row_count == 8 and cell(app, 7, "status") == "queued #2")
        assert cell(app, 8, "status") == "queued #1"
        assert cell(app, 4, "where") == f"cuda:0 {DEMO_HOST} w:a1b2c3"  # device, host, worker
        assert cell(app, 1, "where") == "—"
        await pilot.press("W")
        await wait_for(pilot, lambda: app.screen.id == "workers-screen"
                       and app.screen.query_one("#workers-table").row_count == 3)
        table = app.screen.query_one("#workers-table")
        rows = {str(table.get_row_at(i)[0]): [str(c) for c in table.get_row_at(i)] for i in range(3)}
        assert rows[f"{DEMO_HOST}-40004-a1b2c3"][1:] == [DEMO_HOST, "cuda:0 · 4 thr", "running", "4", "0", "3s ago"]
        assert rows["node-2-777-0c0c0c"][3:5] == ["stale ⚠", "5"]  # silent for 20 minutes
        assert rows["node-3-9-dddddd"][3] == "stopped"  # stopped is not stale
        assert "1 stale" in str(app.screen.query_one("#workers-note").render())
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)


@run_async
async def test_new_run_and_study_can_queue(demo_db, monkeypatch):
    launched, spawned = _capture_launches(monkeypatch, "queued", 9)
    app = make_app(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = runs_screen(app)
        await wait_for(pilot, lambda: screen.table.row_count == 8)
        await pilot.press("n")
        await pilot.pause()
        app.screen.query_one("#f-dataset").value = "synthetic"
        app.screen.query_one("#f-queue").value = True
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: launched)
        await wait_for(pilot, lambda: app.screen is screen)
        for jobs, queue_only in (("3", False), ("2", True)):
            await pilot.press("S")
            await pilot.pause()
            app.screen.query_one("#study-name").value = "s1"
            app.screen.query_one("#study-jobs").value = jobs
            app.screen.query_one("#study-queue").value = queue_only
            app.screen.query_one("#study-name").focus()
            before = len(spawned)
            await pilot.press("enter")
            await wait_for(pilot, lambda n=before: len(spawned) == n + 1)
    assert launched[0][0] == "train" and launched[0][-1] == "--queue" and "--detach" not in launched[0]
    assert spawned[0][:7] == ["study", "--preset", "smoke", "--name", "s1", "--jobs", "3"]
    assert spawned[1][:6] == ["study", "--preset", "smoke", "--name", "s1", "--queue-only"]
    assert "--jobs" not in spawned[1]


def test_run_tui_takes_the_cifar_dir(monkeypatch):
    from nawt_tui import app as app_mod

    seen = {}
    monkeypatch.setattr(app_mod.NawtApp, "run", lambda self: seen.update(cifar=self.source.cifar_dir,
                                                                          args=self.source.cli_args()))
    app_mod.run_tui("sqlite:///x.db", "home", cifar_dir="/srv/cifar")
    assert seen["cifar"] == "/srv/cifar" and seen["args"][-2:] == ["--cifar-dir", "/srv/cifar"]
    app_mod.run_tui("sqlite:///x.db", "home")
    assert "--cifar-dir" not in seen["args"]


def _cli_ready() -> bool:
    try:
        if importlib.util.find_spec("nawt_cli") is None or importlib.util.find_spec("nawt_cli.__main__") is None:
            return False
    except (ImportError, ValueError):
        return False
    r = subprocess.run([sys.executable, "-m", "nawt_cli", "train", "--help"], capture_output=True, text=True,
                       cwd=ROOT, timeout=60)
    return r.returncode == 0 and "--detach" in r.stdout


@run_async
async def test_new_run_form_launches_a_real_tiny_training(tmp_path, monkeypatch):
    if not _cli_ready():
        pytest.skip("nawt_cli with `train --detach` is not available yet")
    url = f"sqlite:///{tmp_path}/nawt.db"
    from nawt_core.store import Store

    Store(url).engine.dispose()
    app = NawtApp(url, str(tmp_path), refresh_interval=0.5)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = runs_screen(app)
        await pilot.press("n")
        await pilot.pause()
        form = app.screen
        vals = {"#f-epochs": "2", "#f-batch_size": "32", "#f-train_subset": "128", "#f-test_subset": "64",
                "#f-name": "tui-smoke"}
        for sel, v in vals.items():
            form.query_one(sel).value = v
        form.query_one("#f-dataset").value = "synthetic"
        form.query_one("#f-device").value = "cpu"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is not form, timeout=60)
        await wait_for(pilot, lambda: screen.table.row_count == 1, timeout=30)
        await wait_for(pilot, lambda: cell(app, screen.cursor_run_id(), "status") in ("running", "completed")
                       and "/2" in cell(app, screen.cursor_run_id(), "progress"), timeout=60)
        await wait_for(pilot, lambda: cell(app, screen.cursor_run_id(), "status") == "completed", timeout=120)
        assert cell(app, screen.cursor_run_id(), "progress").endswith("2/2")


# ------------------------------------------------------------------ no torch, cold start
def test_tui_never_imports_torch_and_starts_fast(tmp_path):
    code = textwrap.dedent(f"""
        import sys, time, asyncio
        t0 = time.perf_counter()
        from nawt_tui.app import NawtApp
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from tui_demo import fill_demo
        t_import = time.perf_counter() - t0
        fill_demo("sqlite:///{tmp_path}/nawt.db")
        async def main():
            app = NawtApp("sqlite:///{tmp_path}/nawt.db", "{tmp_path}", refresh_interval=0.2)
            async with app.run_test(size=(80, 24)) as pilot:
                from nawt_tui.screens.detail import DetailScreen
                from nawt_tui.screens.compare import CompareScreen
                for _ in range(40):
                    await pilot.pause(0.05)
                await app.push_screen(DetailScreen(4))
                await pilot.pause(0.3)
                await app.push_screen(CompareScreen([1, 2, 3]))
                await pilot.pause(0.3)
                await pilot.press("question_mark")
                await pilot.pause(0.1)
        asyncio.run(main())
        print("IMPORT", t_import)
        print("TORCH", "torch" in sys.modules)
    """)
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "TORCH False" in r.stdout
    t_import = float(r.stdout.split("IMPORT")[1].split()[0])
    assert t_import < 1.0


# ------------------------------------------------------------------ snapshots
SIZES = [(80, 24), (120, 40)]


def _runs_ready(app):
    async def run_before(pilot):
        await wait_for(pilot, lambda: runs_screen(app).table.row_count == 8)
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("size", [*SIZES, (200, 60)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_snapshot_runs(demo_db, snap_compare, size):
    app = make_app(demo_db, interval=60)
    assert snap_compare(app, terminal_size=size, run_before=_runs_ready(app))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_snapshot_detail(demo_db, snap_compare, size):
    from nawt_tui.screens.detail import DetailScreen

    app = make_app(demo_db, interval=60)

    async def run_before(pilot):
        await _runs_ready(app)(pilot)
        screen = DetailScreen(4)
        await app.push_screen(screen)
        await wait_for(pilot, lambda: screen.detail is not None)
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_snapshot_detail_evaluations(demo_db, snap_compare, size):
    from nawt_tui.screens.detail import DetailScreen

    app = make_app(demo_db, interval=60)

    async def run_before(pilot):
        await _runs_ready(app)(pilot)
        screen = DetailScreen(3)
        await app.push_screen(screen)
        await wait_for(pilot, lambda: screen.detail is not None)
        await pilot.press("4")
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("tab", ["acc", "rob", "plots"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_snapshot_compare(demo_db, snap_compare, size, tab):
    from nawt_tui.screens.compare import CompareScreen

    app = make_app(demo_db, interval=60)

    async def run_before(pilot):
        await _runs_ready(app)(pilot)
        screen = CompareScreen(run_ids=[1, 2, 3])
        await app.push_screen(screen)
        await wait_for(pilot, lambda: screen.comparison is not None)
        screen.action_tab(tab)
        # a loaded machine can leave the tab switch's refresh (and the scroll bar) half drawn
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_snapshot_new_run(demo_db, snap_compare, size):
    app = make_app(demo_db, interval=60)
    assert snap_compare(app, terminal_size=size, press=["n"], run_before=_runs_ready(app))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_snapshot_help(demo_db, snap_compare, size):
    app = make_app(demo_db, interval=60)
    assert snap_compare(app, terminal_size=size, press=["question_mark"], run_before=_runs_ready(app))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_snapshot_eval_dialog(demo_db, snap_compare, size):
    app = make_app(demo_db, interval=60)

    async def run_before(pilot):
        await _runs_ready(app)(pilot)
        runs_screen(app).move_to_run(3)
        await pilot.press("e")
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_tui_modules_import_one_another_without_a_cycle():
    """Every import between nawt_tui modules, at module level or inside a function, goes one way:
    screens call nawt_tui.actions and post messages; none imports a screen that imports it back."""
    import ast

    root = Path(__file__).resolve().parents[1] / "nawt_tui"
    mods = {".".join(p.relative_to(root.parent).with_suffix("").parts).removesuffix(".__init__"): p
            for p in root.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                    + ([base] if base else []))
                for alias in node.names:
                    target = f"{base}.{alias.name}"
                    deps.add(target if target in mods else base)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names)
        graph[name] = {d for d in deps if d in mods and d != name and not name.startswith(d + ".")
                       and d != "nawt_tui"}
    assert "nawt_tui.actions" in graph["nawt_tui.screens.runs"]  # the guard sees the imports

    def cycle_from(start: str) -> list[str] | None:
        stack = [(start, [start])]
        while stack:
            node, path = stack.pop()
            for dep in graph[node]:
                if dep == start:
                    return [*path, dep]
                if dep not in path:
                    stack.append((dep, [*path, dep]))
        return None

    cycles = [c for m in graph if (c := cycle_from(m))]
    assert not cycles, " -> ".join(cycles[0])


@run_async
async def test_a_plot_legend_goes_under_the_curves_where_it_fits():
    """plotext puts its legend in the top-left corner, over the curves' start (clean accuracy);
    LinePlot writes it under the plot when the width allows, else leaves it to plotext."""
    from textual.app import App

    from nawt_tui.widgets.plots import LinePlot

    series = [(name, [0, 1], [80.0, 10.0], None) for name in ("standard", "sam", "multistep-sam")]

    class Plots(App):
        CSS = "#narrow { width: 30; }"

        def compose(self):
            yield LinePlot("wide", id="wide")
            yield LinePlot("narrow", id="narrow")
            yield LinePlot("one", id="one")

    app = Plots()
    async with app.run_test(size=(80, 30)) as pilot:
        for pid in ("wide", "narrow"):
            app.query_one(f"#{pid}", LinePlot).set_series(series)
        app.query_one("#one", LinePlot).set_series(series[:1])
        await pilot.pause()
        wide, narrow, one = (app.query_one(f"#{p}", LinePlot) for p in ("wide", "narrow", "one"))
        assert wide.has_class("-legend") and "multistep-sam" in str(wide.border_subtitle)
        assert "sam" not in wide.plt.build() and "sam" in narrow.plt.build()  # plotext's legend: narrow only
        assert not narrow.has_class("-legend") and not narrow.border_subtitle
        assert not one.has_class("-legend") and not one.border_subtitle


def _without_log(demo_db, run_id: int = 3) -> None:
    """Run 3 as if trained in a terminal (`nawt train` in the foreground writes no log file)."""
    from pathlib import Path as _P

    from nawt_core.store import Store

    run = Store(demo_db).get_run(run_id)
    Store(demo_db).update_run(run_id, log_path=None)
    (_P(run.run_dir) / "train.log").unlink()


@run_async
async def test_a_finished_foreground_runs_log_tab_shows_its_epochs_whole_at_80_columns(demo_db):
    from nawt_tui.screens.detail import DetailScreen

    from nawt_core.store import Store

    _without_log(demo_db)
    last = Store(demo_db).epochs(3)[-1]
    app = make_app(demo_db, interval=60)
    async with app.run_test(size=(80, 24)) as pilot:
        await _runs_ready(app)(pilot)
        screen = DetailScreen(3)
        await app.push_screen(screen)
        await wait_for(pilot, lambda: screen.detail is not None)
        await pilot.press("5")
        await pilot.pause()
        log = screen.query_one("#log-body")
        text = "\n".join(strip.text for strip in log.lines)
    assert "(no log file yet)" not in text and "its epochs as stored" in text
    assert f"epoch 200/200  train loss {last.train_loss:.4f}" in text
    assert f"lr {last.lr:.4g}" in text  # whole: at 80 columns the line wraps instead of being cut
    assert max(len(strip.text.rstrip()) for strip in log.lines) <= 80


@pytest.mark.parametrize("size", [(80, 24)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_snapshot_log_tab(demo_db, snap_compare, size):
    from nawt_tui.screens.detail import DetailScreen

    _without_log(demo_db)
    app = make_app(demo_db, interval=60)

    async def run_before(pilot):
        await _runs_ready(app)(pilot)
        screen = DetailScreen(3)
        await app.push_screen(screen)
        await wait_for(pilot, lambda: screen.detail is not None)
        await pilot.press("5")
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@run_async
async def test_new_run_form_remembers_the_folder_and_each_methods_last_values(demo_db, monkeypatch, tmp_path):
    """Opened as the README says (the study named --cifar-dir, the TUI not): the folder comes from the
    latest CIFAR-10 run; after a launch the form keeps that method's values for the next time."""
    from nawt_core.store import Store
    from nawt_tui import actions
    from nawt_tui.launch import LaunchResult

    monkeypatch.setattr(actions, "run_detached_cli",
                        lambda args, timeout=120.0: LaunchResult(True, "started run 9", 9))
    monkeypatch.delenv("NAWT_CIFAR_DIR", raising=False)
    s = Store(demo_db)
    s.update_run(8, config={**s.get_run(8).config, "dataset": "cifar10", "data_dir": "../shared/data"})
    app = make_app(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: runs_screen(app).table.row_count == 8)
        await pilot.press("n")
        await pilot.pause()
        form = app.screen
        assert form.query_one("#f-cifar_dir").value == "../shared/data"  # the latest CIFAR-10 run's
        form.query_one("#f-method").value = "sam"
        await pilot.pause()
        form.query_one("#f-epochs").value = "7"
        form.query_one("#f-rho").value = "0.1"
        form.query_one("#f-dataset").value = "synthetic"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is not form)
        await pilot.press("n")  # a new form in the same TUI
        await pilot.pause()
        again = app.screen
        assert again.query_one("#f-method").value == "sam"
        assert (again.query_one("#f-epochs").value, again.query_one("#f-rho").value) == ("7", "0.1")
        assert again.query_one("#f-dataset").value == "synthetic"
        again.query_one("#f-method").value = "standard"  # never launched: the fields stay as they are
        await pilot.pause()
        again.query_one("#f-epochs").value = "3"
        again.query_one("#f-method").value = "sam"  # back: its last values again
        await pilot.pause()
        assert again.query_one("#f-epochs").value == "7"
    # a later TUI (the file in the data dir) starts from them too
    app2 = make_app(demo_db)
    async with app2.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: runs_screen(app2).table.row_count == 8)
        await pilot.press("n")
        await pilot.pause()
        assert app2.screen.query_one("#f-epochs").value == "7"


def _tick_order(plot) -> list[str]:
    """The x tick labels of a drawn plot, left to right."""
    import re as _re

    lines = _re.sub(r"\x1b\[[0-9;]*m", "", plot.plt.build()).splitlines()
    axis = next(i for i in range(len(lines) - 1, -1, -1) if "└" in lines[i])
    return lines[axis + 1].split()


@run_async
async def test_quantization_bits_run_the_same_way_as_in_the_pngs(demo_db):
    """The PNGs put 8 bits on the left and 2 on the right (the harsher stress to the right); so do the
    TUI's quantization plots (compare and a run's Evals tab) and the Evals summary."""
    from nawt_tui.screens.compare import CompareScreen
    from nawt_tui.screens.detail import DetailScreen

    app = make_app(demo_db, interval=60)
    async with app.run_test(size=(120, 40)) as pilot:
        await _runs_ready(app)(pilot)
        screen = CompareScreen(run_ids=[1, 2, 3])
        await app.push_screen(screen)
        await wait_for(pilot, lambda: screen.comparison is not None)
        screen.action_tab("quant")
        await pilot.pause()
        ticks = _tick_order(screen.query_one("#plot-quant"))
        rob = _tick_order(screen.query_one("#plot-rob"))
        app.pop_screen()
        detail = DetailScreen(3)
        await app.push_screen(detail)
        await wait_for(pilot, lambda: detail.detail is not None)
        await pilot.press("4")
        await pilot.pause()
        detail.query_one("#eval-table").move_cursor(row=1)  # the quantization evaluation
        await pilot.pause()
        own = _tick_order(detail.query_one("#plot-eval"))
        summary = str(detail.query_one("#eval-table").get_row_at(1)[4])
    assert ticks[0] == "8" and ticks[-1] == "2", ticks
    assert float(rob[0]) < float(rob[-1])  # strengths still grow to the right
    assert own[0] == "8" and own[-1] == "2", own
    assert summary.index("8:") < summary.index("2:"), summary
