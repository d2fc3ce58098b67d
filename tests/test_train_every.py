"""Per-epoch host work: --eval-every / --checkpoint-every, their timings, a heartbeat that survives the database."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.exc import OperationalError

from nawt_core import runner as runner_mod
from nawt_core.config import TrainConfig
from nawt_core.errors import NawtError
from nawt_core.records import create_run
from nawt_core.runner import execute


def test_eval_and_checkpoint_every_two_epochs_and_always_the_last(store, tiny_cfg, data_dir):
    cfg = tiny_cfg(epochs=3, eval_every=2, checkpoint_every=2, train_subset=256, test_subset=100)
    run = execute(store, create_run(store, cfg, data_dir).id)
    assert run.status == "completed", run.error
    e1, e2, e3 = store.epochs(run.id)
    assert e1.test_acc is None and e1.eval_seconds == 0 and e1.checkpoint_seconds is None
    assert e2.test_acc is not None and e2.eval_seconds > 0 and e2.checkpoint_seconds > 0
    assert e3.test_acc is not None and e3.checkpoint_seconds > 0  # the last epoch: both
    assert run.final_test_acc == e3.test_acc and run.best_test_acc == max(e2.test_acc, e3.test_acc)
    assert run.train_seconds == pytest.approx(sum(e.epoch_seconds for e in (e1, e2, e3)))
    # they do not change what is trained: same experiment for nawt study
    assert cfg.key() == tiny_cfg(epochs=3, train_subset=256, test_subset=100).key()
    with pytest.raises(NawtError, match="eval every must be a positive"):
        TrainConfig(eval_every=0).validate()


def test_a_heartbeat_that_hits_a_locked_database_is_retried_then_skipped(store, tiny_cfg, data_dir, monkeypatch,
                                                                         caplog):
    monkeypatch.setattr(runner_mod, "HEARTBEAT_S", 0.0)  # a heartbeat after every step
    real = store.update_run
    calls = {"beats": 0}

    def flaky(run_id, **fields):
        if fields.get("batch", 0) > 0:  # the heartbeat's write
            calls["beats"] += 1
            raise OperationalError("UPDATE run", {}, Exception("database is locked"))
        return real(run_id, **fields)

    monkeypatch.setattr(store, "update_run", flaky)
    cfg = tiny_cfg(epochs=1, train_subset=128, test_subset=50)
    with caplog.at_level(logging.WARNING, logger="nawt.runner"):
        run = execute(store, create_run(store, cfg, data_dir).id)
    assert run.status == "completed", run.error
    steps = 128 // 64
    assert calls["beats"] == steps * runner_mod.HEARTBEAT_TRIES  # each retried, none fatal
    warnings = [r for r in caplog.records if "heartbeat" in r.getMessage()]
    assert len(warnings) == steps and "database is locked" in warnings[0].getMessage()
