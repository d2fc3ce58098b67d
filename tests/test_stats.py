"""Bounded intervals over seeds and sweep summaries above chance (nawt_core/stats.py),
each against a hand computation."""

from __future__ import annotations

import math

import pytest

from nawt_core import stats

T2 = 4.3027  # t(0.975, 2), printed tables: three seeds


def test_an_interval_inside_the_bounds_is_the_plain_t_interval():
    ci = stats.bounded_interval([0.80, 0.82, 0.84])
    half = T2 * 0.02 / math.sqrt(3)  # sd 0.02
    assert (ci["mean"], ci["sd"]) == pytest.approx((0.82, 0.02))
    assert (ci["low"], ci["high"]) == pytest.approx((0.82 - half, 0.82 + half), abs=1e-5)
    assert not ci["clipped"] and ci["note"] == ""
    old = stats.interval([0.80, 0.82, 0.84])
    assert (ci["low"], ci["high"]) == pytest.approx((old["low"], old["high"]))


def test_a_wide_interval_is_cut_at_zero_and_says_so():
    # naive noise at chance on two seeds and recovered on one: the plain interval goes below 0 %
    vals = [0.10, 0.12, 0.50]
    sd = math.sqrt((0.14**2 + 0.12**2 + 0.26**2) / 2)  # 0.2254
    half = T2 * sd / math.sqrt(3)  # 0.5599
    assert stats.interval(vals)["low"] == pytest.approx(0.24 - half, abs=1e-4) and 0.24 - half < 0
    ci = stats.bounded_interval(vals)
    assert ci["low"] == 0.0 and ci["high"] == pytest.approx(0.24 + half, abs=1e-4)
    assert ci["clipped"] and "cut at the lower bound" in ci["note"]
    assert ci["half"] == pytest.approx(half, abs=1e-4)  # the uncut half-width stays on record


def test_two_seeds_give_no_interval_but_say_why():
    ci = stats.bounded_interval([0.1409, 0.5031])
    assert ci["low"] is None and ci["high"] is None and ci["mean"] == pytest.approx(0.322)
    assert ci["note"] == "too few seeds for an interval (2; 3 needed)"
    # the old interval for the same seeds: [-18.69 %, 46.87 %]-like, outside [0, 100] %
    assert stats.interval([0.1409, 0.5031])["low"] < 0
    d = stats.paired_difference({0: 0.1409, 1: 0.5031}, {0: 0.90, 1: 0.89})
    assert d["low"] is None and d["diff"] == pytest.approx((0.1409 - 0.90 + 0.5031 - 0.89) / 2)
    assert "too few seeds" in d["note"]


def test_auc_above_chance_by_hand():
    xs = [0.0, 0.05, 0.1]
    # above chance 0.8, 0.4, 0: (0.8 + 0.4) / 2 * 0.05 + 0.4 / 2 * 0.05 = 0.04, over the range 0.1
    assert stats.auc_above(xs, [0.9, 0.5, 0.1]) == pytest.approx(0.4)
    # a segment that crosses chance: 0.3 -> 0.0 crosses at x = 0.1 * 0.2 / 0.3; triangle 0.5 * 0.0667 * 0.2
    assert stats.auc_above([0.0, 0.1], [0.3, 0.0]) == pytest.approx(0.5 * (0.1 * 2 / 3) * 0.2 / 0.1)
    # a model at chance: nothing above it (the plain AUC says 9.8 %, as if it held up)
    assert stats.auc_above(xs, [0.1, 0.1, 0.09]) == 0.0
    assert stats.auc(xs, [0.1, 0.1, 0.09]) == pytest.approx(0.0975)
    assert stats.auc_above([0.0], [0.9]) is None


def test_halving_above_chance_by_hand():
    xs = [0.0, 0.05, 0.1]
    assert stats.halving_above(xs, [0.9, 0.5, 0.1]) == (pytest.approx(0.05), "")
    # above chance 0.8, 0.5, 0.1: 0.4 is reached at 0.05 + 0.05 * (0.5 - 0.4) / (0.5 - 0.1)
    assert stats.halving_above(xs, [0.9, 0.6, 0.2])[0] == pytest.approx(0.0625)
    assert stats.halving(xs, [0.9, 0.6, 0.2], 0.9) == pytest.approx(0.06875)  # not above chance: later
    # a model at chance has nothing to halve (the plain halving says "never": the most robust)
    assert stats.halving_above(xs, [0.105, 0.1, 0.1]) == (None, "near chance")
    assert stats.halving(xs, [0.105, 0.1, 0.1], 0.105) is None
    # the CPU study's naive noise: 14.09 % clean, 4 points above chance, trials spread 2-3 points
    assert stats.halving_above(xs, [0.1409, 0.1292, 0.1108]) == (None, "near chance")
    assert stats.halving_above(xs, [0.9, 0.85, 0.8]) == (None, "beyond 0.1")
    assert stats.halving_above(xs, [0.5, 0.4, 0.3], ref=0.9)[0] == 0.0  # below half already at the start


def test_bit_drops():
    got = stats.bit_drops({8: 0.90, 4: 0.85, 2: 0.10}, 0.91)
    assert list(got) == [8, 4, 2] and got == pytest.approx({8: 0.01, 4: 0.06, 2: 0.81})


def _sweeps(a: float, b: float) -> dict[int, dict]:
    """Three seeds' sweeps at strengths 0 and 0.1: 0.9 clean, a + b * seed at 0.1."""
    return {s: stats.sweep_summary({0.0: 0.9, 0.1: a + b * s}) for s in range(3)}


def test_per_run_auc_over_seeds_and_paired_to_standard_by_hand():
    method, standard = _sweeps(0.5, 0.01), _sweeps(0.3, 0.02)
    # per run, above chance: (0.8 + 0.4 + 0.01 s) / 2 = 0.6, 0.605, 0.61; standard 0.5, 0.51, 0.52
    assert [method[s]["auc"] for s in range(3)] == pytest.approx([0.6, 0.605, 0.61])
    assert [standard[s]["auc"] for s in range(3)] == pytest.approx([0.5, 0.51, 0.52])
    got = stats.summarize(method, standard)
    half = T2 * 0.005 / math.sqrt(3)  # both the AUCs and their paired differences have sd 0.005
    auc = got["auc"]
    assert (auc["mean"], auc["low"], auc["high"]) == pytest.approx((0.605, 0.605 - half, 0.605 + half), abs=1e-5)
    d = auc["vs_standard"]  # per seed 0.1, 0.095, 0.09
    assert (d["diff"], d["low"], d["high"]) == pytest.approx((0.095, 0.095 - half, 0.095 + half), abs=1e-5)
    assert d["seeds"] == [0, 1, 2] and d["note"] == ""
    # halving: seed 0 halves exactly at 0.1, seeds 1 and 2 do not by 0.1: no mean, and why
    assert [method[s]["halving"] for s in range(3)] == [pytest.approx(0.1), "beyond 0.1", "beyond 0.1"]
    assert got["halving"]["mean"] is None and got["halving"]["note"] == "2 of 3 seeds: beyond 0.1"
    assert "seeds 1, 2 left out" in got["halving"]["vs_standard"]["note"]
    # standard halves at 0.1 * 0.4 / (0.6 - 0.02 s)
    halv = stats.summarize(standard)["halving"]
    want = [0.04 / (0.6 - 0.02 * s) for s in range(3)]
    assert halv["mean"] == pytest.approx(sum(want) / 3) and halv["low"] is not None
    assert "vs_standard" not in halv


def test_quantization_drops_over_seeds_and_paired():
    per = {s: {f"drop@{b}": d for b, d in stats.bit_drops({8: 0.90 - s / 100, 4: 0.80}, 0.91).items()}
           for s in range(3)}
    std = {s: {"drop@8": 0.0, "drop@4": 0.2} for s in range(3)}
    got = stats.summarize(per, std)
    assert got["drop@8"]["mean"] == pytest.approx(0.02)
    assert got["drop@4"]["mean"] == pytest.approx(0.11) and got["drop@4"]["sd"] == 0.0
    assert got["drop@4"]["vs_standard"]["diff"] == pytest.approx(-0.09)  # 0.09 points less lost than standard
    # drop@8: 0.01, 0.02, 0.03; sd 0.01
    half = T2 * 0.01 / math.sqrt(3)
    assert (got["drop@8"]["low"], got["drop@8"]["high"]) == pytest.approx((0.02 - half, 0.02 + half), abs=1e-5)


def test_a_group_at_chance_reads_as_no_robustness():
    at_chance = {s: stats.sweep_summary({0.0: 0.1 + s / 200, 0.05: 0.1, 0.1: 0.1}) for s in range(3)}
    got = stats.summarize(at_chance)
    # above chance only at strength 0 of seeds 1, 2: AUCs 0, 0.00125, 0.0025 (0.5 * 0.05 * 0.005 s / 0.1)
    assert [at_chance[s]["auc"] for s in range(3)] == pytest.approx([0.0, 0.00125, 0.0025])
    assert got["auc"]["low"] == 0.0 and got["auc"]["clipped"]  # cut at 0: an AUC above chance is not negative
    assert got["halving"]["mean"] is None and got["halving"]["note"] == "3 of 3 seeds: near chance"
