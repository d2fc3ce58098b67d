"""The training-cost estimate (nawt_core/cost.py) on synthetic epoch times: right for staged
methods on a quiet machine, not pulled by load spikes, and for rows older than the cost class."""

from __future__ import annotations

import random
import statistics
from types import SimpleNamespace

import pytest

from nawt_core import cost
from nawt_core.config import TrainConfig


def _staged(epochs=30, rho_stages=(0.0, 0.025, 0.05), one=10.0, two=18.0, jitter=0.01, seed=0):
    """A multi-step SAM run's schedule and epoch times on a quiet machine (±1 % jitter)."""
    cfg = TrainConfig(method="multistep-sam", epochs=epochs, rho_stages=list(rho_stages))
    plan = cost.schedule("multistep-sam", cfg.to_dict(), epochs)
    rnd = random.Random(seed)
    base = {"1 pass": one, "2 passes": two}
    times = [base[c] * (1 + rnd.uniform(-jitter, jitter)) for c in plan]
    return cfg, plan, times


@pytest.mark.parametrize("epochs,stages,cheap", [(30, (0.0, 0.025, 0.05), 10), (10, (0.0, 0.025, 0.05), 4),
                                                 (200, (0.0, 0.0, 0.05), 134)])
def test_a_staged_run_on_a_quiet_machine_gives_its_summed_time(epochs, stages, cheap):
    _cfg, plan, times = _staged(epochs, stages)
    assert plan.count("1 pass") == cheap  # the rho = 0 stages take one-pass steps
    est = cost.estimate(zip(plan, times), plan)
    assert est.seconds == pytest.approx(sum(times), rel=0.02)
    # median x epochs, what the timing table did, counts every epoch as the median one's class
    assert abs(statistics.median(times) * epochs - sum(times)) > 0.1 * sum(times)


def test_two_load_spiked_epochs_do_not_pull_the_estimate():
    _cfg, plan, quiet = _staged(30)
    spiked = list(quiet)
    spiked[3] *= 3.0  # another job on the machine during a one-pass epoch
    spiked[25] *= 2.5  # and during a SAM epoch
    est = cost.estimate(zip(plan, spiked), plan)
    assert est.seconds == pytest.approx(sum(quiet), rel=0.02)
    assert sum(spiked) > 1.1 * sum(quiet)  # the plain sum is pulled
    by = {c.name: c for c in est.classes}
    assert by["1 pass"].rule == by["2 passes"].rule == "median"
    assert (by["1 pass"].epochs, by["2 passes"].epochs) == (10, 20)


def test_any_two_spiked_epochs_of_a_short_staged_run_do_not_pull_it():
    """The cpu preset's 10-epoch multi-step SAM run: 4 one-pass and 6 SAM epochs; every pair spiked."""
    _cfg, plan, quiet = _staged(10)
    for i in range(10):
        for j in range(i + 1, 10):
            spiked = [t * (3.0 if k in (i, j) else 1.0) for k, t in enumerate(quiet)]
            assert cost.estimate(zip(plan, spiked), plan).seconds == pytest.approx(sum(quiet), rel=0.02), (i, j)


def test_one_class_methods_keep_median_times_epochs():
    times = [10.0, 10.2, 9.9, 30.0, 10.1]
    plan = cost.schedule("standard", TrainConfig().to_dict(), 5)
    assert set(plan) == {"1 pass"}
    assert cost.estimate(zip(plan, times), plan).seconds == pytest.approx(statistics.median(times) * 5)
    # an even count: the lower middle time (load only slows an epoch), 10.0 here rather than 10.05
    assert cost.estimate(zip(plan, times[:4]), plan[:4]).seconds == pytest.approx(10.0 * 4)


def test_a_tiny_class_counts_at_its_epoch_or_the_faster_of_two():
    plan = ["1 pass"] + ["2 passes"] * 9
    times = [7.0] + [20.0, 20.0, 21.0, 19.0, 20.0, 20.0, 20.0, 20.0, 60.0]
    est = cost.estimate(zip(plan, times), plan)
    by = {c.name: c for c in est.classes}
    assert (by["1 pass"].rule, by["1 pass"].per_epoch) == ("few", 7.0)
    assert est.seconds == pytest.approx(7.0 + 9 * 20.0)  # hand computation: 187
    two = cost.estimate([("x", 4.0), ("x", 12.0)], ["x", "x"])  # one of two spiked: the faster counts
    assert (two.seconds, two.classes[0].rule) == (8.0, "few")


def test_seeds_pool_per_class_and_the_schedule_sets_the_counts():
    _cfg, plan, a = _staged(10, seed=1)
    _cfg, _plan, b = _staged(10, seed=2)
    est = cost.estimate(list(zip(plan, a)) + list(zip(plan, b)), plan)
    assert [(c.name, c.epochs, c.samples) for c in est.classes] == [("1 pass", 4, 8), ("2 passes", 6, 12)]
    assert est.seconds == pytest.approx((sum(a) + sum(b)) / 2, rel=0.02)


def _rows(times, classes=None):
    return [SimpleNamespace(epoch=i + 1, epoch_seconds=t, cost_class=None if classes is None else classes[i])
            for i, t in enumerate(times)]


def test_old_rows_without_the_column_get_their_class_from_the_config():
    cfg, plan, times = _staged(30)
    old = cost.epoch_times("multistep-sam", cfg.to_dict(), 30, _rows(times))  # no cost_class recorded
    new = cost.epoch_times("multistep-sam", cfg.to_dict(), 30, _rows(times, plan))
    assert old == new == list(zip(plan, times))
    # a config stored before ascent_steps / rho_stages existed reads with their defaults: 0 -> rho in 3 stages
    legacy = {"method": "multistep-sam", "epochs": 9, "rho": 0.05, "stages": 3}
    assert cost.schedule("multistep-sam", legacy, 9) == ["1 pass"] * 3 + ["2 passes"] * 6


def test_an_unknown_method_falls_back_to_one_class():
    rows = _rows([5.0, 5.0, 50.0, 5.0])
    times = cost.epoch_times("gone-plugin", {}, 4, rows)
    assert times == [(None, 5.0), (None, 5.0), (None, 50.0), (None, 5.0)]
    est = cost.estimate(times, cost.schedule("gone-plugin", {}, 4))
    assert est.seconds == 20.0 and est.note == ""
    # classes in the schedule that no measured epoch has: one class, said so
    est = cost.estimate([("1 pass", 5.0)] * 3, ["1 pass", "2 passes"])
    assert est.seconds == 10.0 and "no epoch time of class 2 passes" in est.note
    assert cost.estimate([], ["1 pass"]) is None and cost.estimate([("a", 0.0)], ["a"]) is None


def _stored(store, method, secs, *, seed=0, classes=None, **cfg):
    c = TrainConfig(method=method, epochs=len(secs), seed=seed, **cfg)
    r = store.create_run(method=method, status="completed", config=c.to_dict(), config_key=c.key(), seed=seed,
                         dataset="cifar10", device="cpu", epochs=c.epochs, final_test_acc=0.5,
                         train_seconds=sum(secs))
    for i, s in enumerate(secs, 1):
        store.add_epoch(r.id, epoch=i, train_loss=1.0, train_acc=0.5, test_acc=0.5, epoch_seconds=s,
                        cost_class=None if classes is None else classes[i - 1])
    return r


def test_the_timing_table_uses_the_estimate_for_staged_runs_old_and_new(store):
    from nawt_core.compare import compare

    std = _stored(store, "standard", [10.0] * 9)
    cheap, sam = [10.0, 10.2, 9.8], [18.0, 18.4, 17.6, 18.2, 17.8, 18.0]  # 3 one-pass + 6 SAM epochs
    plan = ["1 pass"] * 3 + ["2 passes"] * 6
    new = _stored(store, "multistep-sam", cheap + sam, classes=plan, rho=0.05, stages=3)
    old = _stored(store, "multistep-sam", cheap + sam, seed=1, rho=0.05, stages=3)  # rows without the class
    t = {r["method"]: r for r in compare(store, run_ids=[std.id, new.id, old.id]).timing}
    ms = t["multistep-sam"]
    assert ms["n"] == 2 and ms["median_time"] == pytest.approx(3 * 10.0 + 6 * 18.0)  # hand: 138
    assert ms["ratio"] == pytest.approx(138.0 / 90.0)  # 1.53; median x epochs said 18 x 9 / 90 = 1.8
    assert ms["epoch_median"] == 17.8  # the median of all 18 epochs is still shown as it is
    assert [(c["class"], c["epochs"], c["samples"]) for c in ms["cost"]["classes"]] == [
        ("1 pass", 3, 6), ("2 passes", 6, 12)]
    assert t["standard"]["median_time"] == 90.0
