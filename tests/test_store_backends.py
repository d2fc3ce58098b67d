"""The store and the reading commands behave the same on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import socket
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from nawt_core.errors import NawtError
from nawt_core.status import Status
from nawt_core.store import Store, effective_status, utcnow


def test_store_round_trip(db_url):
    store = Store(db_url)
    run = store.create_run(method="sam", config={"lr": 0.1, "rho_stages": [0.0, 0.05]}, tags=["a"], name="x" * 300)
    assert store.get_run(run.id).config == {"lr": 0.1, "rho_stages": [0.0, 0.05]}  # JSON back as it went in
    assert store.get_run(run.id).name == "x" * 300  # no length limit on either backend
    store.add_epoch(run.id, {"epoch": 1}, epoch=1, train_loss=2.0, train_acc=0.1)
    store.add_epoch(run.id, {"epoch": 1}, epoch=1, train_loss=1.5, train_acc=0.2)  # a redone epoch replaces
    store.add_epoch(run.id, {"epoch": 2}, epoch=2, train_loss=1.0, train_acc=0.4)
    assert [(e.epoch, e.train_loss) for e in store.epochs(run.id)] == [(1, 1.5), (2, 1.0)]
    store.truncate_epochs(run.id, 1)
    assert [e.epoch for e in store.epochs(run.id)] == [1]
    ev = store.create_evaluation(run_id=run.id, kind="quantization", status=Status.COMPLETED)
    store.add_points(ev.id, [{"param": 8.0, "accuracy": 0.9}, {"param": 2.0, "accuracy": 0.1}])
    assert [p.param for p in store.points(ev.id)] == [2.0, 8.0]
    # times come back aware and in UTC on both, so ages and staleness compute alike
    beat = utcnow() - timedelta(hours=1)
    store.update_run(run.id, status=Status.RUNNING, host="elsewhere", pid=1, heartbeat_at=beat)
    back = store.get_run(run.id)
    assert back.heartbeat_at.utcoffset() == timedelta(0) and abs((back.heartbeat_at - beat).total_seconds()) < 1e-3
    assert effective_status(back, host=socket.gethostname()) == Status.STALE
    assert [r.id for r in store.list_runs(status=Status.RUNNING, method="sam")] == [run.id]
    store.upsert_study("s", preset="smoke", config={"methods": ["sam"]})
    assert store.get_study("s").config == {"methods": ["sam"]}
    store.delete_run(run.id)
    assert store.list_runs() == [] and store.evaluations() == []
    with pytest.raises(NawtError, match="no run with id"):
        store.get_run(run.id)


def _cli(*args: str) -> str:
    import nawt_cli.main  # noqa: F401  (registers the commands)
    from nawt_cli.app import app

    res = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    return res.stdout


def test_reading_commands_print_the_same_on_both(pg_url, tmp_path):
    """The demo store on SQLite and on PostgreSQL: runs, show, compare and export agree to the character."""
    from tui_demo import fill_demo

    urls = [f"sqlite:///{tmp_path / 'n.db'}", pg_url]
    for url in urls:
        fill_demo(url, run_dirs=str(tmp_path / "runs"))
    outputs = []
    for url in urls:
        db = ["--db", url]
        outputs.append([_cli("runs", "--json", *db), _cli("runs", *db),
                        _cli("show", "3", "--json", *db), _cli("compare", "--all", "--json", *db),
                        _cli("export", "runs", "--all", "-f", "csv", *db),
                        _cli("export", "robustness", "--all", "-f", "json", *db)])
    for a, b in zip(*outputs):
        assert a == b
    assert len(json.loads(outputs[1][0])) == 8
