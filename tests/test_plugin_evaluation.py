"""A third evaluation defined only here, registered through the public hook, works everywhere:
`nawt eval`, a study, compare (and --json), export, a figure, the report and the TUI.

The module doubles as a plugin: ``NAWT_PLUGINS=test_plugin_evaluation:register``
(with this folder on PYTHONPATH) makes the CLI load it. Its stress zeroes a
seeded random fraction of the weights; the sweep engine does the rest.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os

import pytest
import torch

from nawt_core import evalspec, stats
from nawt_core.errors import NawtError
from nawt_core.evalspec import EvalSpec, Metric, Param, Texts
from nawt_core.options import Option
from nawt_core.stress import WeightStress

from helpers import REPO, run_cli

NAME = "dropout"


class Dropout(WeightStress):
    """Zeroes each weight with probability ``value`` (seeded by seed, value and trial)."""

    def perturb(self, weights, value, trial):
        if not value:
            return None
        digest = hashlib.sha256(f"{self.seed}:{value!r}:{trial}".encode()).digest()
        gen = torch.Generator().manual_seed(int.from_bytes(digest[:7], "little"))
        return [w * (torch.rand(w.shape, generator=gen) >= value).to(w.device, w.dtype) for w in weights]


def _auc(points, clean):
    xs = [x for x in sorted(points) if not points[x].partial]
    return {"auc": stats.auc(xs, [points[x].mean for x in xs])}


SPEC = EvalSpec(
    NAME, "dropped weights", "Accuracy with a seeded random fraction of the weights zeroed; stored.",
    options=(Option("drops", list, [0.0, 0.1, 0.5], "fractions of the weights zeroed, e.g. 0,0.1,0.5",
                    low=0, high=1, hint="e.g. 0,0.1,0.5 (0-1)"),
             Option("trials", int, 2, "draws per fraction", low=1, high=100)),
    param=Param("drops", "fraction", "fraction of weights zeroed", short="fraction", header="p={:g}",
                identity=0.0),
    summaries=(Metric("auc", "AUC %", "AUC %"),),
    presets={p: {"drops": [0.0, 0.5], "trials": 1} for p in ("paper", "cpu", "quick", "smoke")},
    seeded=True, batchable=True, order=30, summarize=_auc,
    texts=Texts(section="Robustness to dropped weights", figure="Accuracy with weights dropped",
                panel="Dropped weights", table="Accuracy (%) with a fraction of the weights zeroed; AUC over the range",
                report="Accuracy (%) with a fraction of the weights zeroed, mean ± std over trials and runs",
                tab="Dropout", tui_plot="accuracy % vs dropped weights", choice="dropped weights",
                setting="dropped weights"),
)


def register() -> None:
    evalspec.register_evaluation(SPEC, impl=Dropout)


@pytest.fixture
def plugin():
    register()
    yield evalspec.evaluation(NAME)
    evalspec.unregister_evaluation(NAME)


PLUGIN_ENV = {"NAWT_PLUGINS": "test_plugin_evaluation:register",
              "PYTHONPATH": os.pathsep.join([str(REPO / "tests"), os.environ.get("PYTHONPATH", "")])}


def test_plugin_is_registered_checked_and_forgotten(plugin):
    assert evalspec.names() == ("robustness", "quantization", NAME, "bitflip", "pcm", "stuck", "sharpness")  # by order
    assert plugin.checked({"drops": [0.5, 0.0, 0.5]})["drops"] == [0.0, 0.5]  # sorted, once each
    with pytest.raises(NawtError, match="drops must be at most 1"):
        plugin.checked({"drops": [0.0, 2.0]})
    with pytest.raises(NawtError, match="share `nawt compare --json` keys"):
        evalspec.register_evaluation(EvalSpec("other", "x", "x", options=(Option("bits", list, [8], "b"),),
                                              param=Param("bits", "bits", "bits")))
    evalspec.unregister_evaluation(NAME)
    with pytest.raises(NawtError, match=f"unknown evaluation '{NAME}'"):
        evalspec.evaluation(NAME)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from nawt_core.config import TrainConfig
    from nawt_core.records import create_run
    from nawt_core.runner import execute
    from nawt_core.store import Store

    d = tmp_path_factory.mktemp("plugin")
    store = Store(f"sqlite:///{d / 'nawt.db'}")
    cfg = TrainConfig(dataset="synthetic", train_subset=256, test_subset=100, epochs=1, batch_size=64, lr=0.05,
                      device="cpu", data_dir=str(d))
    run = execute(store, create_run(store, cfg, d).id, data_dir=d)
    return store, run, ["--db", f"sqlite:///{d / 'nawt.db'}", "--data-dir", str(d)], d


def test_plugin_evaluation_from_the_cli_in_compare_export_plot_and_report(trained):
    pytest.importorskip("matplotlib")
    store, run, opts, d = trained
    n = len(store.evaluations())
    bad = run_cli("eval", NAME, str(run.id), "--drops", "0,2", *opts, env=PLUGIN_ENV)
    assert bad.returncode == 2 and bad.stderr.strip() == "error: drops must be at most 1 (got [0.0, 2.0])"
    assert len(store.evaluations()) == n  # refused: nothing recorded
    assert run_cli("eval", NAME, "--help", *opts).returncode == 2  # unknown without the plugin
    r = run_cli("eval", NAME, str(run.id), "--drops", "0,0.3,0.9", "--trials", "2", "--strategy", "batched",
                "--device", "cpu", "--json", *opts, env=PLUGIN_ENV)
    assert r.returncode == 0, r.stderr
    (out,) = json.loads(r.stdout)
    assert out["config"]["drops"] == [0.0, 0.3, 0.9] and out["config"]["strategy"] == "batched"
    assert out["points"]["0.0"]["n"] == 1 and out["points"]["0.9"]["n"] == 2  # fraction 0: one trial
    assert out["points"]["0.0"]["mean"] == pytest.approx(out["clean_acc"])
    pts = store.points(out["evaluation_id"])
    assert {(p.param, p.trial) for p in pts} == {(0.0, 0), (0.3, 0), (0.3, 1), (0.9, 0), (0.9, 1)}
    # the same seed gives the same numbers, on the loop engine too
    again = run_cli("eval", NAME, str(run.id), "--drops", "0.9", "--trials", "2", "--strategy", "loop",
                    "--device", "cpu", "--json", *opts, env=PLUGIN_ENV)
    assert json.loads(again.stdout)[0]["points"]["0.9"]["mean"] == pytest.approx(out["points"]["0.9"]["mean"],
                                                                                  abs=1 / 100 + 1e-9)

    comp = json.loads(run_cli("compare", "--json", str(run.id), *opts, env=PLUGIN_ENV).stdout)
    assert comp["drops"] == [0.9] and comp[NAME][0]["points"]["0.9"]["n"] == 2  # the latest evaluation
    assert comp[NAME][0]["auc"] is None  # one point: no area
    text = run_cli("compare", str(run.id), *opts, env=PLUGIN_ENV).stdout
    assert "Accuracy (%) with a fraction of the weights zeroed" in " ".join(text.split()) and "p=0.9" in text
    rows = list(csv.DictReader(io.StringIO(run_cli("export", NAME, "--runs", str(run.id), *opts,
                                                   env=PLUGIN_ENV).stdout)))
    assert [(r["method"], r["fraction"], r["n"]) for r in rows] == [("standard", "0.9", "2")]
    points = list(csv.DictReader(io.StringIO(run_cli("export", "points", "--runs", str(run.id), *opts,
                                                     env=PLUGIN_ENV).stdout)))
    assert sum(p["kind"] == NAME for p in points) == 7
    png = d / "dropout.png"
    r = run_cli("plot", NAME, str(run.id), "-o", str(png), *opts, env=PLUGIN_ENV)
    assert r.returncode == 0, r.stderr
    assert png.read_bytes()[:4] == b"\x89PNG"
    r = run_cli("report", str(run.id), "-o", str(d / "r.md"), *opts, env=PLUGIN_ENV)
    assert r.returncode == 0, r.stderr
    page = (d / "r.md").read_text()
    assert "## Robustness to dropped weights" in page and "| p=0.9 |" in page
    assert (d / "r-dropout.png").exists() and "![Accuracy with weights dropped](r-dropout.png)" in page


def test_plugin_evaluation_runs_in_a_study(plugin, tmp_path):
    pytest.importorskip("matplotlib")
    from nawt_core.store import Store
    from nawt_core.study import run_study

    data = tmp_path / "data"
    store = Store(f"sqlite:///{data / 'nawt.db'}")
    res = run_study(store, preset="smoke", name="p", methods=["standard"], data_dir=data, device="cpu",
                    dataset="synthetic", overrides={"epochs": 1, "train_subset": 256, "test_subset": 100},
                    sweeps={"robustness": {"strengths": [0.0], "trials": 1}, "quantization": {"bits": [8]}})
    assert res.finished
    (ev,) = store.evaluations(res.run_ids[0], NAME)
    assert ev.config["drops"] == [0.0, 0.5] and ev.log_path.endswith(f"eval-{ev.id}.log")  # the recorder's
    rows = res.comparison.table(NAME).rows
    assert [r.method for r in rows] == ["standard"] and set(rows[0].points) == {0.0, 0.5}
    assert {p.name for p in res.files} >= {"dropout.csv", "dropout.png", "report.md"}
    assert "Robustness to dropped weights" in (res.out_dir / "report.md").read_text()
    again = run_study(store, preset="smoke", name="p", methods=["standard"], data_dir=data, device="cpu",
                      dataset="synthetic", overrides={"epochs": 1, "train_subset": 256, "test_subset": 100},
                      sweeps={"robustness": {"strengths": [0.0], "trials": 1}, "quantization": {"bits": [8]}})
    assert len(store.evaluations(again.run_ids[0], NAME)) == 1  # found, not run again


# ------------------------------------------------------------------ the TUI
@pytest.fixture
def demo_with_dropout(tmp_path, monkeypatch, plugin):
    """The TUI's demo database, runs 1-3 with a stored dropout evaluation each."""
    from nawt_core.store import Store

    from tui_demo import FIXED_NOW, fill_demo, make_run_dirs

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NAWT_CIFAR_DIR", raising=False)
    url = "sqlite:///nawt.db"
    fill_demo(url, now=FIXED_NOW, run_dirs="runs")
    make_run_dirs("runs")
    store = Store(url)
    for rid, drop in ((1, 0.30), (2, 0.05), (3, 0.12)):
        clean = store.get_run(rid).final_test_acc
        ev = store.create_evaluation(run_id=rid, kind=NAME, status="completed", clean_acc=clean,
                                     config={"drops": [0.0, 0.1, 0.5], "trials": 2, "test_images": 10000,
                                             "dataset": "cifar10", "strategy": "loop", "precision": "fp32"})
        store.add_points(ev.id, [{"param": 0.0, "trial": 0, "accuracy": clean}]
                         + [{"param": f, "trial": t, "accuracy": clean * (1 - drop * f * 4) - 0.01 * t}
                            for f in (0.1, 0.5) for t in (0, 1)])
    store.engine.dispose()
    return url


def _app(url):
    from nawt_tui.app import NawtApp
    from tui_demo import FIXED_NOW

    return NawtApp(url, "data", now=lambda: FIXED_NOW, refresh_interval=60, host="test-host")


async def _until(pilot, cond, timeout: float = 8.0):
    import asyncio

    end = asyncio.get_running_loop().time() + timeout
    while not cond():
        assert asyncio.get_running_loop().time() < end, "condition not met in time"
        await pilot.pause(0.05)


def test_plugin_evaluation_in_the_tui_compare_tab(demo_with_dropout, snap_compare):
    from nawt_tui.screens.compare import CompareScreen

    app = _app(demo_with_dropout)

    async def run_before(pilot):
        await _until(pilot, lambda: app.screen.query("#runs-table") and app.screen.query_one("#runs-table").row_count)
        screen = CompareScreen(run_ids=[1, 2, 3])
        await app.push_screen(screen)
        await _until(pilot, lambda: screen.comparison is not None)
        table = screen.query_one("#dropout-table")
        assert table.row_count == 3 and str(table.get_cell("standard", "f0.5")) == "35.40±0.71"  # 0.8974 x 0.4, minus 0.01 in trial 1
        await pilot.press("4")  # the plugin's tab: after accuracy, robustness and quantization
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_plugin_evaluation_in_the_evaluate_dialog_and_run_detail(demo_with_dropout):
    import asyncio

    from nawt_tui.screens.detail import DetailScreen
    from nawt_tui.screens.dialogs import EvalScreen

    async def main():
        app = _app(demo_with_dropout)
        async with app.run_test(size=(120, 40)) as pilot:
            await _until(pilot, lambda: app.screen.query_one("#runs-table").row_count == 8)
            app.screen.move_to_run(3)
            await pilot.press("e")
            await _until(pilot, lambda: isinstance(app.screen, EvalScreen))
            dlg = app.screen
            dlg.query_one("#eval-kind").value = NAME
            await pilot.pause()
            assert dlg.query_one("#eval-drops").display and not dlg.query_one("#eval-bits").display
            assert dlg.query_one("#eval-drops").value == "0,0.1,0.5"  # the spec's default
            dlg.query_one("#eval-drops").value = "0,0.2"
            result = []
            dlg.dismiss = result.append
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert result[0]["args"] == ["eval", NAME, "3", "--drops", "0,0.2", "--trials", "2",
                                         "--precision", "auto"]
            dlg.query_one("#eval-drops").value = "0,1.5"
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert "drops must be at most 1" in str(dlg.query_one("#eval-errors").render())
            app.pop_screen()
            detail = DetailScreen(3)
            await app.push_screen(detail)
            await _until(pilot, lambda: detail.detail is not None)
            ev = next(e for e in detail.detail.evaluations if e.kind == NAME)
            assert detail.detail.curves[ev.id].params == [0.0, 0.1, 0.5]

    asyncio.run(main())


@pytest.mark.parametrize("body, words", [
    ("raise RuntimeError('boom')", "RuntimeError: boom"),
    ("from nawt_core.evalspec import EvalSpec, register_evaluation\n"
     "register_evaluation(EvalSpec('robustness', 'mine', 'mine'))", "evaluation 'robustness' is built into nawt"),
    ("from nawt_core import spec\nspec.register_method(spec.MethodSpec('sam', 'mine', '#000000', 'mine'))",
     "method 'sam' is built into nawt"),
])
def test_a_broken_plugin_is_one_error_line_and_cannot_replace_a_built_in(tmp_path, body, words):
    import os

    (tmp_path / "brokenplug.py").write_text(body + "\n")
    env = {"PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]),
           "NAWT_PLUGINS": "brokenplug"}
    out = run_cli("eval", "--help", env=env)
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 1, out.stderr
    assert lines[0].startswith("error: cannot load plugin 'brokenplug' (NAWT_PLUGINS): ") and words in lines[0]
