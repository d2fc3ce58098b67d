"""Schema migrations (Alembic): old databases open with the new code, on SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from helpers import run_cli
from sqlmodel import SQLModel

from nawt_core import migrate
from nawt_core.errors import NawtError
from nawt_core.store import Store

OLD_DB = Path(__file__).parent / "data" / "nawt-pre-alembic.db"  # made by nawt 0.1.0: one run, 2 epochs, 1 evaluation


def _revision(engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _check_old_data(store: Store) -> None:
    [run] = store.list_runs()
    assert (run.id, run.name, run.status, run.tags, run.notes) == (1, "legacy", "completed", ["old"],
                                                                   "made by the pre-alembic schema")
    assert [e.epoch for e in store.epochs(1)] == [1, 2]
    [ev] = store.evaluations(1)
    assert ev.kind == "quantization" and sorted(p.param for p in store.points(ev.id)) == [4.0, 8.0]
    # the columns and tables added since exist and read their defaults
    assert (run.queue_pos, run.worker_id, run.attempts) == (None, None, 0)
    assert store.update_run(1, attempts=2).attempts == 2
    assert "worker" in sa.inspect(store.engine).get_table_names()


def test_pre_migration_sqlite_file_is_upgraded(tmp_path, caplog):
    db = tmp_path / "old.db"
    shutil.copy(OLD_DB, db)
    with caplog.at_level("INFO", logger="nawt.store"):
        store = Store(f"sqlite:///{db}", create=False)
    assert f"upgraded the database schema unversioned → {migrate.head()}: baseline" in caplog.text
    assert _revision(store.engine) == migrate.head()
    _check_old_data(store)
    caplog.clear()
    with caplog.at_level("INFO", logger="nawt.store"):
        Store(f"sqlite:///{db}", create=False)
    assert "upgraded" not in caplog.text  # once only


def _copy_rows(src_url: str, dst) -> None:
    src = sa.create_engine(src_url)
    meta = sa.MetaData()
    meta.reflect(src)
    with src.connect() as s, dst.begin() as d:
        for table in meta.sorted_tables:
            rows = [dict(r._mapping) for r in s.execute(table.select())]
            if rows:
                d.execute(sa.Table(table.name, sa.MetaData(), autoload_with=d).insert(), rows)
        if d.dialect.name == "postgresql":  # the copied ids must not be handed out again
            for name in ("run", "epoch", "evaluation", "evalpoint"):
                d.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))"))
    src.dispose()


def test_pre_migration_postgresql_database_is_upgraded(pg_url, tmp_path, caplog):
    # today's schema on PostgreSQL, with the old file's rows, and no alembic_version
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        command.upgrade(migrate._config(conn), "0001")
        conn.execute(sa.text("DROP TABLE alembic_version"))
    _copy_rows(f"sqlite:///{OLD_DB}", engine)
    engine.dispose()
    with caplog.at_level("INFO", logger="nawt.store"):
        store = Store(pg_url)
    assert f"unversioned → {migrate.head()}: baseline" in caplog.text
    assert _revision(store.engine) == migrate.head()
    _check_old_data(store)
    assert store.create_run(method="sam").id == 2


def test_baseline_is_the_schema_of_the_pre_migration_file(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'b.db'}")
    with engine.begin() as conn:
        command.upgrade(migrate._config(conn), "0001")
    old = sa.create_engine(f"sqlite:///{OLD_DB}")

    def shape(e):
        insp = sa.inspect(e)
        return {t: ({(c["name"], c["nullable"], str(c["type"])) for c in insp.get_columns(t)},
                    {i["name"] for i in insp.get_indexes(t)})
                for t in insp.get_table_names() if t != "alembic_version"}

    assert shape(engine) == shape(old)


def test_revisions_end_at_the_models_schema(db_url):
    """Every column a model has is added by some revision (a new column needs a new revision)."""
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        command.upgrade(migrate._config(conn), "head")
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata)
    assert diff == []
    engine.dispose()


def test_new_database_is_created_at_head(db_url):
    store = Store(db_url)
    assert _revision(store.engine) == migrate.head()
    assert store.create_run(method="standard").attempts == 0


def test_older_database_fills_in_columns_it_lacks(tmp_path, caplog):
    """A database from before migrations that lacks baseline columns gets them (the old additive upgrade)."""
    db = tmp_path / "old.db"
    shutil.copy(OLD_DB, db)
    con = sqlite3.connect(db)
    con.execute("alter table run drop column notes")
    con.execute("alter table evaluation drop column pid")
    con.execute("drop index ix_run_study")
    con.execute("alter table run drop column study")
    con.commit()
    con.close()
    with caplog.at_level("INFO", logger="nawt.store"):
        store = Store(f"sqlite:///{db}", create=False)
    assert "baseline (added run.study, run.notes, evaluation.pid)" in caplog.text
    [run] = store.list_runs()
    assert (run.notes, run.study) == ("", None)
    assert store.list_runs(study="x") == []
    con = sqlite3.connect(db)
    assert "ix_run_study" in {r[0] for r in con.execute("select name from sqlite_master where type='index'")}
    con.close()


def test_database_from_a_newer_nawt_is_refused(tmp_path):
    db = tmp_path / "n.db"
    Store(f"sqlite:///{db}")
    con = sqlite3.connect(db)
    con.execute("update alembic_version set version_num = '9999'")
    con.commit()
    con.close()
    with pytest.raises(NawtError, match="revision 9999.*newer nawt"):
        Store(f"sqlite:///{db}")
    proc = run_cli("runs", "--db", f"sqlite:///{db}")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "newer nawt" in proc.stderr
    con = sqlite3.connect(db)
    assert con.execute("select version_num from alembic_version").fetchall() == [("9999",)]


def test_db_current_and_upgrade_commands(tmp_path):
    from typer.testing import CliRunner

    import nawt_cli.main  # noqa: F401  (registers the commands)
    from nawt_cli.app import app

    def cli(*args):
        res = CliRunner().invoke(app, list(args))
        assert res.exit_code == 0, res.output
        return res.stdout

    db = tmp_path / "old.db"
    shutil.copy(OLD_DB, db)
    url = f"sqlite:///{db}"
    assert cli("db", "current", "--db", url) == f"revision none (head {migrate.head()}): made before migrations\n"
    assert cli("db", "current", "--db", url).startswith("revision none")  # looking does not upgrade
    assert f"unversioned → {migrate.head()}: baseline" in cli("db", "upgrade", "--db", url)
    assert cli("db", "current", "--db", url) == f"revision {migrate.head()} (head {migrate.head()}): up to date\n"
    assert cli("db", "upgrade", "--db", url) == f"already at revision {migrate.head()}\n"
    hist = cli("db", "history")
    assert [line.split()[0] for line in hist.splitlines()] == [r for r, _ in migrate.revisions()]
