"""`nawt db current`, `nawt db upgrade`, `nawt db history`: the store's schema revision.

Opening a database upgrades it anyway (with a one-line notice); these say
where it stands, or upgrade it on purpose, e.g. before starting workers.
"""

from __future__ import annotations

import typer

from .app import DataDirOpt, DbOpt, JsonOpt, app, console, open_store, print_json

db_app = typer.Typer(help="The store's schema: its revision, and upgrading it (Alembic).", no_args_is_help=True)
app.add_typer(db_app, name="db")


def _migrate():
    """nawt_core.migrate, imported when a db command runs: it brings Alembic, SQLAlchemy and
    SQLModel, which `nawt --help` must not load."""
    from nawt_core import migrate

    return migrate


def _where(store):
    with store.engine.connect() as conn:
        return _migrate().where(conn)


@db_app.command()
def current(json_out: JsonOpt = False, db: DbOpt = None, data_dir: DataDirOpt = "data") -> None:
    """The database's schema revision and this nawt's newest (head); nothing is changed."""
    store = open_store(db, data_dir, create=False, upgrade=False)
    w = _where(store)
    known = {rev for rev, _ in _migrate().revisions()}
    state = ("up to date" if w.up_to_date else "made before migrations" if w.current is None and w.has_tables
             else "empty" if w.current is None
             else "newer than this nawt (upgrade nawt to use it)" if w.current not in known
             else "outdated (nawt db upgrade)")
    if json_out:
        print_json({"current": w.current, "head": w.head, "up_to_date": w.up_to_date, "state": state})
        return
    console.print(f"revision {w.current or 'none'} (head {w.head}): {state}", markup=False, highlight=False, soft_wrap=True)


@db_app.command()
def upgrade(db: DbOpt = None, data_dir: DataDirOpt = "data") -> None:
    """Upgrade the database to this nawt's newest schema (opening it does too)."""
    store = open_store(db, data_dir, create=False, upgrade=False)
    notice = _migrate().upgrade(store.engine)
    console.print(notice or f"already at revision {_migrate().head()}", markup=False, highlight=False, soft_wrap=True)


@db_app.command()
def history() -> None:
    """Every schema revision, oldest first, and what it adds."""
    for rev, msg in _migrate().revisions():
        console.print(f"{rev}  {msg}", markup=False, highlight=False, soft_wrap=True)
