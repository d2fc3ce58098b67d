"""Figures fit for a paper: width (the report's PNGs included), a marker and line style per
method, the chance line, quantization as a drop, value 0 off log axes, plain captions, and
sharpness against robustness with Spearman's rank correlation (checked by hand).

``fill`` builds a study like a small real one (5 methods x 3 seeds, every figure's data);
``python tests/test_figures.py DIR`` writes its figures and report to DIR to look at."""

from __future__ import annotations

import math
import random
import struct
import sys
from pathlib import Path

import pytest

from nawt_core import stats
from nawt_core.errors import NawtError
from nawt_core.store import Store

from helpers import run_cli

METHODS = {  # clean accuracy, accuracy lost per 0.1 strength, sharpness (Hessian trace)
    "standard": (0.897, 0.62, 900.0), "naive-noise": (0.503, 0.30, 300.0), "noise-injection": (0.887, 0.40, 500.0),
    "sam": (0.903, 0.45, 400.0), "multistep-sam": (0.911, 0.42, 350.0)}
STRENGTHS = [0.0, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1]
BITS = [8, 6, 5, 4, 3, 2]
RATES = [0.0, 1e-4, 1e-3, 1e-2]


def _png_width(data: bytes) -> int:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">I", data[16:20])[0]


def fill(store: Store, seeds=(0, 1, 2), study: str = "fig", out: str = "") -> list[int]:
    """A study of every built-in method with robustness, quantization, bitflip and sharpness evaluations."""
    rnd = random.Random(7)
    store.upsert_study(study, preset="smoke", out_dir=out, status="completed", config={"run_ids": []})
    ids = []
    for method, (acc0, loss, trace) in METHODS.items():
        for seed in seeds:
            acc = acc0 + rnd.uniform(-0.01, 0.01)
            r = store.create_run(method=method, status="completed", final_test_acc=acc, train_seconds=100.0 + seed,
                                 device="cpu (test CPU)", epochs=10, seed=seed, name=f"{method}-{seed}", study=study,
                                 config={"arch": "resnet20", "dataset": "synthetic", "epochs": 10},
                                 dataset="synthetic", nawt_version="0.1.0", torch_version="2.x-test")
            ids.append(r.id)
            for e in range(1, 11):
                store.add_epoch(r.id, epoch=e, train_loss=1 / e, train_acc=0.5,
                                test_acc=acc * (1 - math.exp(-e / 2)) + 0.1 * math.exp(-e / 2), epoch_seconds=10.0)
            ev = store.create_evaluation(run_id=r.id, kind="robustness", status="completed", clean_acc=acc, seed=0,
                                         config={"mode": "absolute", "strengths": STRENGTHS, "trials": 3,
                                                 "targets": "weights", "noise": "cpu"})
            store.add_points(ev.id, [{"param": s, "trial": t, "accuracy": max(0.1, acc - loss * s * 10 * (acc - 0.1)
                                                                              + rnd.uniform(-0.02, 0.02))}
                                     for s in STRENGTHS for t in range(3)])
            ev = store.create_evaluation(run_id=r.id, kind="quantization", status="completed", clean_acc=acc,
                                         config={"bits": BITS, "granularity": "channel", "fold_bn": False})
            drop = {8: 0.001, 6: 0.004, 5: 0.01, 4: 0.03, 3: 0.15, 2: acc - 0.1}
            store.add_points(ev.id, [{"param": float(b), "trial": 0,
                                      "accuracy": acc - drop[b] * (1.5 if method == "standard" and b > 2 else 1)}
                                     for b in BITS])
            ev = store.create_evaluation(run_id=r.id, kind="bitflip", status="completed", clean_acc=acc, seed=0,
                                         config={"rates": RATES, "trials": 2, "bits": 8, "target": "all",
                                                 "recalibrate_bn": 0})
            store.add_points(ev.id, [{"param": p, "trial": t, "accuracy": max(0.1, acc - 60 * p * (acc - 0.1)
                                                                              - rnd.uniform(0, 0.01))}
                                     for p in RATES for t in range(2)])
            ev = store.create_evaluation(run_id=r.id, kind="sharpness", status="completed", seed=0,
                                         config={"samples": 64, "probes": 4, "iters": 3})
            t = trace * rnd.uniform(0.8, 1.2)
            store.add_points(ev.id, [{"param": 0.0, "trial": k, "accuracy": t * (1 + d)}
                                     for k, d in enumerate((-0.1, 0.1, -0.05, 0.05))]
                             + [{"param": 1.0, "trial": 0, "accuracy": t / 8}, {"param": 2.0, "trial": 0,
                                                                                 "accuracy": 0.1}])
    store.upsert_study(study, config={"run_ids": ids})
    return ids


@pytest.fixture
def demo(tmp_path):
    pytest.importorskip("matplotlib")
    s = Store(f"sqlite:///{tmp_path / 'data' / 'nawt.db'}")
    (tmp_path / "out").mkdir()
    fill(s, out=str(tmp_path / "out"))
    return s, tmp_path


# ------------------------------------------------------------------ Spearman by hand
def test_spearman_uses_average_ranks_for_ties():
    assert stats.ranks([10, 20, 20, 5]) == [2.0, 3.5, 3.5, 1.0]
    # x ranks 1..5, y = [5, 6, 7, 8, 7] ranks [1, 2, 3.5, 5, 3.5]: deviations from 3 are
    # [-2, -1, 0, 1, 2] and [-2, -1, .5, 2, .5]; r = 8 / sqrt(10 * 9.5)
    assert stats.spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]) == pytest.approx(8 / math.sqrt(95))
    assert stats.spearman([3, 1, 2], [30, 10, 20]) == pytest.approx(1.0)
    assert stats.spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert stats.spearman([1, 2], [2, 1]) is None  # fewer than 3 pairs
    assert stats.spearman([1, 2, 3], [4, 4, 4]) is None  # nothing to rank


# ------------------------------------------------------------------ the report's PNGs
def test_report_pngs_are_at_least_the_minimum_width(demo):
    from nawt_core import plots

    s, tmp = demo
    r = run_cli("report", "fig", "--db", f"sqlite:///{tmp / 'data' / 'nawt.db'}", "--data-dir", str(tmp / "data"))
    assert r.returncode == 0, r.stderr
    pngs = sorted((tmp / "out").glob("report-*.png"))
    for p in pngs:
        assert _png_width(p.read_bytes()) >= plots.MIN_WIDTH_PX, p.name
    assert {p.name for p in pngs} >= {"report-robustness.png", "report-quantization.png", "report-bitflip.png",
                                      "report-curves.png", "report-sharpness.png"}
    html = (tmp / "out" / "report.html").read_text()
    assert "Sharpness against robustness" in html


def test_study_folder_pngs_and_all_are_wide_too(demo):
    from nawt_core import plots
    from nawt_core.compare import compare

    s, tmp = demo
    c = compare(s, study="fig")
    for kind in [k for k in plots.kinds() if k not in ("pcm", "stuck")]:  # the demo has no pcm or stuck sweeps
        fig = plots.figure(c, kind, s)
        assert "{" not in fig.texts[-1].get_text()  # every caption template filled in
        data = plots.render(fig)
        assert _png_width(data) >= plots.MIN_WIDTH_PX, kind


# ------------------------------------------------------------------ looks
def _lines(ax):
    """The rows' lines (not the chance line, nor unlabelled helpers)."""
    return [ln for ln in ax.get_lines() if not ln.get_label().startswith("_") and ln.get_label() != "chance (10 %)"]


def test_each_method_has_its_own_colour_marker_and_line_style(demo):
    from matplotlib.colors import to_hex

    from nawt_core import plots, spec
    from nawt_core.compare import compare

    s, _ = demo
    c = compare(s, study="fig")
    fig = plots.figure(c, "robustness", s)
    lines = _lines(fig.axes[0])
    assert len(lines) == 5
    # the dash pattern as drawn (get_linestyle names any custom pattern "--")
    looks = {(to_hex(ln.get_color()), ln.get_marker(), str(ln._unscaled_dash_pattern)) for ln in lines}
    assert len({lk[0] for lk in looks}) == 5 and len({lk[1] for lk in looks}) == 5
    assert len({lk[2] for lk in looks}) == 5  # line styles per method, not only per group
    okabe_ito = {"#e69f00", "#56b4e9", "#009e73", "#f0e442", "#0072b2", "#d55e00", "#cc79a7", "#000000"}
    assert {spec.colour(m).lower() for m in METHODS} <= okabe_ito
    bands = fig.axes[0].collections
    assert bands and all(b.get_alpha() <= 0.15 and b.get_zorder() < min(ln.get_zorder() for ln in lines)
                         for b in bands)  # a band never hides a line
    # a plugin method without a look of its own gets one from its name, the same every time
    assert plots.method_look("my-plugin") == plots.method_look("my-plugin")
    assert plots.method_look("my-plugin")[1] not in {m for m, _ in plots.METHOD_LOOK.values()}


def test_every_accuracy_axis_has_a_labelled_chance_line(demo):
    from nawt_core import plots
    from nawt_core.compare import compare

    s, _ = demo
    c = compare(s, study="fig")
    fig = plots.figure(c, "all", s)
    acc_axes = [ax for ax in fig.axes if "accuracy (%)" in ax.get_ylabel()]
    assert len(acc_axes) == 4  # robustness, quantization, bitflip, curves
    for ax in acc_axes:
        chance = [ln for ln in ax.get_lines() if ln.get_label() == "chance (10 %)"]
        assert len(chance) == 1 and list(chance[0].get_ydata()) == [10.0, 10.0]
        assert "chance (10 %)" in [t.get_text() for t in ax.get_legend().get_texts()]


# ------------------------------------------------------------------ quantization as a drop
def test_quantization_has_a_drop_panel_from_each_rows_unquantized_accuracy(demo):
    from nawt_core import plots
    from nawt_core.compare import compare

    s, _ = demo
    c = compare(s, study="fig")
    fig = plots.figure(c, "quantization", s)
    acc_ax, drop_ax = fig.axes
    assert "drop" in drop_ax.get_ylabel() and drop_ax.get_yscale() == "symlog"
    for row in c.quantization:
        (bars,) = [e for e in drop_ax.containers if e.get_label().startswith(row.method + ",")]
        line = bars.lines[0]
        # each run's own drop, averaged over the row's runs (every run has 1 trial per bit width)
        evs = [e for rid in row.run_ids for e in s.evaluations(rid, "quantization")]
        by_bits = {b: [100 * (e.clean_acc - p.accuracy) for e in evs for p in s.points(e.id) if p.param == b]
                   for b in BITS}
        want = [sum(by_bits[b]) / len(by_bits[b]) for b in BITS]
        xs = list(line.get_xdata())
        got = [y for _, y in sorted(zip(xs, line.get_ydata()), key=lambda t: -t[0])]
        assert got == pytest.approx(want)
        assert want[0] < 1 < want[4] < 40 < want[5]  # the small drops and the 2-bit collapse on one axis
    # the 5-bit differences (standard drops 1.5 points, the others 1) are a visible distance apart:
    ys = sorted(drop_ax.transData.transform((5, y))[1] for y in (1.0, 1.5))
    assert ys[1] - ys[0] > 0.02 * drop_ax.bbox.height
    assert "symlog" in fig.texts[-1].get_text()


# ------------------------------------------------------------------ value 0 on a log axis (#22)
def test_log_axes_leave_zero_off_and_state_its_accuracy(demo):
    from nawt_core import plots
    from nawt_core.compare import compare

    s, _ = demo
    c = compare(s, study="fig")
    fig = plots.figure(c, "bitflip", s)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    for ln in _lines(ax):
        assert min(ln.get_xdata()) > 0  # no point at (or drawn from) the left edge
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    for row in c.bitflip:
        text = next(t for t in legend if t.startswith(row.method + ","))
        assert f"rate 0: {100 * row.points[0.0].mean:.1f} %" in text
    assert "rate 0 cannot be drawn" in fig.texts[-1].get_text()


# ------------------------------------------------------------------ captions
def test_captions_say_what_bands_error_bars_trials_and_the_chance_line_are(demo):
    from nawt_core import plots
    from nawt_core.compare import compare

    s, _ = demo
    c = compare(s, study="fig")
    text = plots.figure(c, "robustness", s).texts[-1].get_text().replace("\n", " ")
    assert "3 seeds per row" in text and "3 noise trials per strength and run" in text
    assert "band is one standard deviation" in text and "chance, 10 %" in text
    text = plots.figure(c, "quantization", s).texts[-1].get_text().replace("\n", " ")
    assert "error bar one standard deviation over those runs" in text


# ------------------------------------------------------------------ sharpness against robustness (#22)
def test_sharpness_figure_correlates_each_runs_sharpness_with_its_auc_above_chance(demo):
    from nawt_core import plots
    from nawt_core.compare import compare

    s, _ = demo
    c = compare(s, study="fig")
    from nawt_cli.compare_cmds import _kinds

    assert "sharpness" in plots.kinds() and _kinds() == list(plots.kinds())  # `nawt plot --help` lists it
    pts, notes = plots.sharpness_points(c, s)
    assert len(pts) == 15 and notes == []
    # by hand for one run: the mean over its probes; its own AUC above chance of its mean per strength
    p = next(p for p in pts if p["run"].method == "sam" and p["run"].seed == 1)
    ev = s.evaluations(p["run"].id, "sharpness")[0]
    probes = [q.accuracy for q in s.points(ev.id) if q.param == 0.0]
    assert p["trace"] == pytest.approx(sum(probes) / 4)
    ev = s.evaluations(p["run"].id, "robustness")[0]
    per = {x: [q.accuracy for q in s.points(ev.id) if q.param == x] for x in STRENGTHS}
    assert p["auc"] == pytest.approx(stats.auc_above(STRENGTHS, [sum(v) / len(v) for v in per.values()]))
    rho = stats.spearman([q["trace"] for q in pts], [q["auc"] for q in pts])
    fig = plots.figure(c, "sharpness", s)
    assert fig.axes[0].get_xscale() == "log"
    assert f"Spearman ρ = {rho:+.2f} over 15 runs" in fig.axes[0].get_title()
    assert sum(len(ln.get_xdata()) for ln in fig.axes[0].get_lines()) == 15  # one marker per run


def test_sharpness_with_fewer_than_three_runs_says_so(tmp_path):
    pytest.importorskip("matplotlib")
    from nawt_core import plots
    from nawt_core.compare import compare

    s = Store(f"sqlite:///{tmp_path / 'n.db'}")
    ids = fill(s, seeds=(0,))
    fig = plots.figure(compare(s, run_ids=ids[:2]), "sharpness", s)
    for ax in fig.axes[:2]:
        assert "2 runs with both: too few for a rank correlation" in ax.get_title()
        assert "Spearman" not in ax.get_title()


if __name__ == "__main__":  # write the demo's figures and report to look at
    out = Path(sys.argv[1]).resolve()
    out.mkdir(parents=True, exist_ok=True)
    st = Store(f"sqlite:///{out / 'nawt.db'}")
    fill(st, out=str(out))
    from nawt_core import plots, report
    from nawt_core.compare import compare

    comp = compare(st, study="fig")
    for k in plots.kinds():
        try:
            print(plots.save(comp, out / f"{k}.png", k, st))
        except NawtError as e:
            print(f"{k}: {e}")
    print(report.write(st, comp, output=out / "report.html"))
