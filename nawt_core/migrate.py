"""Schema migrations: Alembic, configured in code, run when the store opens.

Choice: an outdated database is upgraded automatically when it is opened, with
a one-line notice (``upgraded the database schema 0001 → 0002: …``); upgrades
only add, so older rows stay readable. ``nawt db upgrade`` does the same on
purpose, ``nawt db current`` says where a database stands. A database made by
a newer nawt (a revision this one does not know) is refused with one line.

- a new database: the models' tables are created and stamped at head;
- a database from before migrations (nawt tables, no ``alembic_version``):
  the baseline revision fills in what it lacks, then the rest run;
- one process migrates at a time: SQLite ``BEGIN IMMEDIATE``, PostgreSQL an
  advisory lock, and the revision is read again once the lock is held.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import inspect, text
from sqlmodel import SQLModel

from .errors import NawtError

_PG_LOCK_KEY = 0x6E617774  # "nawt": one advisory lock for schema changes
_NAWT_TABLES = {"run", "epoch", "evaluation", "evalpoint", "study"}


def _config(connection=None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "nawt_core:migrations")
    cfg.attributes["connection"] = connection
    return cfg


@cache
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def head() -> str:
    return _script().get_current_head()


def revisions() -> list[tuple[str, str]]:
    """(revision, first line of its message), oldest first."""
    revs = list(_script().walk_revisions())
    return [(r.revision, (r.doc or "").splitlines()[0] if r.doc else "") for r in reversed(revs)]


@dataclass
class Where:
    current: str | None  # None: no alembic_version (new, or made before migrations)
    head: str
    has_tables: bool

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


def where(connection) -> Where:
    current = MigrationContext.configure(connection).get_current_revision()
    tables = set(inspect(connection).get_table_names()) if current is None else _NAWT_TABLES
    return Where(current, head(), bool(tables & _NAWT_TABLES))


def _lock(connection) -> None:
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    elif connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})


def _check_known(w: Where) -> None:
    if w.current is not None and w.current not in {r for r, _ in revisions()}:
        raise NawtError(f"the database's schema (revision {w.current}) was made by a newer nawt than this one "
                        f"(which knows up to {w.head}); upgrade nawt to open it")


def _check_columns(connection, revision: str) -> None:
    """Every column the models read is there: a database at head that lacks one was changed
    by hand (or a revision is missing) and would fail later with an obscure SQL error."""
    insp = inspect(connection)
    for table in SQLModel.metadata.sorted_tables:
        live = {c["name"] for c in insp.get_columns(table.name)}
        missing = [c.name for c in table.columns if c.name not in live]
        if missing:
            raise NawtError(f"column {table.name}.{missing[0]} is missing from the database (schema revision "
                            f"{revision}): it was changed by hand or by another nawt; open it with the nawt that "
                            "made it, or start a new store (--db or --data-dir)")


def upgrade(engine, read_only: bool = False) -> str | None:
    """Brings the database to head; a one-line notice of what changed, or None
    when nothing did (a new database is not news). A read-only store is only checked."""
    with engine.connect() as conn:
        w = where(conn)
        _check_known(w)
        if w.up_to_date:
            _check_columns(conn, w.current)
            return None
        if read_only:
            raise NawtError(f"the database is read-only and its schema (revision {w.current or 'unversioned'}) is "
                            f"older than this nawt's ({w.head}); open a writable copy to upgrade it")
        conn.rollback()
        _lock(conn)
        w = where(conn)  # another process may have done it meanwhile
        _check_known(w)
        if w.up_to_date:
            conn.commit()
            _check_columns(conn, w.current)
            return None
        if not w.has_tables:
            SQLModel.metadata.create_all(conn)
            MigrationContext.configure(conn).stamp(_script(), "head")
            conn.commit()
            return None
        cfg = _config(conn)
        try:
            command.upgrade(cfg, "head")
        except (CommandError, RuntimeError) as e:
            conn.rollback()
            raise NawtError(f"cannot upgrade the database schema: {e}") from None
        conn.commit()
        _check_columns(conn, w.head)
    start = [r for r, _ in revisions()].index(w.current) + 1 if w.current else 0
    done = [msg.split(":", 1)[0] for r, msg in revisions()[start:]]
    if cfg.attributes.get("notes"):  # the baseline's: what a database older than it lacked
        done[0] += f" ({'; '.join(cfg.attributes['notes'])})"
    return (f"upgraded the database schema {w.current or 'unversioned'} → {w.head}: " + "; ".join(done))
