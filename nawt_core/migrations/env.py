"""Runs the revisions on the connection ``nawt_core.migrate`` passes in."""

from alembic import context
from sqlmodel import SQLModel

from nawt_core import store  # noqa: F401  (registers the tables on SQLModel.metadata)

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=True,  # SQLite alters a table by copying it
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
