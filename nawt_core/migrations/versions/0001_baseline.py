"""baseline: the schema of nawt 0.1.0 (before migrations)

Revision ID: 0001
Revises:

A new database gets these tables. A database made before migrations existed
(tables, no alembic_version) keeps its rows and gets the columns and indexes
of this schema it lacks (older releases had fewer): nullable ones as NULL,
others with their default, as the old "add missing columns" upgrade did.
The tables are frozen here, not taken from the models, so later revisions
start from a known schema.
"""

import sqlalchemy as sa
from alembic import context, op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

meta = sa.MetaData()
Str, When = sa.String, sa.DateTime(timezone=True)


def _col(name, type_, *args, null=False, default=None, **kw):
    return sa.Column(name, type_, *args, nullable=null, default=default, **kw)


sa.Table(
    "run", meta,
    _col("id", sa.Integer, primary_key=True),
    _col("name", Str, default=""),
    _col("method", Str, index=True),
    _col("study", Str, null=True, index=True),
    _col("config", sa.JSON, null=True),
    _col("config_key", Str, default="", index=True),
    _col("seed", sa.Integer, default=0),
    _col("status", Str, default="queued", index=True),
    _col("dataset", Str, default=""),
    _col("device", Str, default=""),
    _col("precision", Str, null=True),
    _col("precision_reason", Str, null=True),
    _col("torch_version", Str, default=""),
    _col("nawt_version", Str, default=""),
    _col("git_commit", Str, null=True),
    _col("host", Str, default=""),
    _col("pid", sa.Integer, null=True),
    _col("created_at", When),
    _col("started_at", When, null=True),
    _col("finished_at", When, null=True),
    _col("heartbeat_at", When, null=True),
    _col("stop_requested", sa.Boolean, default=False),
    _col("epoch", sa.Integer, default=0),
    _col("epochs", sa.Integer, default=0),
    _col("batch", sa.Integer, default=0),
    _col("batches", sa.Integer, default=0),
    _col("train_loss", sa.Float, null=True),
    _col("train_acc", sa.Float, null=True),
    _col("test_acc", sa.Float, null=True),
    _col("best_test_acc", sa.Float, null=True),
    _col("final_test_acc", sa.Float, null=True),
    _col("images_per_sec", sa.Float, null=True),
    _col("train_seconds", sa.Float, default=0.0),
    _col("run_dir", Str, default=""),
    _col("checkpoint_last", Str, null=True),
    _col("checkpoint_final", Str, null=True),
    _col("log_path", Str, null=True),
    _col("error", Str, null=True),
    _col("notes", Str, default=""),
    _col("tags", sa.JSON, null=True),
)
sa.Table(
    "study", meta,
    _col("name", Str, primary_key=True),
    _col("preset", Str, default=""),
    _col("config", sa.JSON, null=True),
    _col("out_dir", Str, default=""),
    _col("status", Str, default="running"),
    _col("created_at", When),
    _col("finished_at", When, null=True),
)
sa.Table(
    "epoch", meta,
    _col("id", sa.Integer, primary_key=True),
    _col("run_id", sa.Integer, sa.ForeignKey("run.id"), index=True),
    _col("epoch", sa.Integer),
    _col("train_loss", sa.Float),
    _col("train_acc", sa.Float),
    _col("test_loss", sa.Float, null=True),
    _col("test_acc", sa.Float, null=True),
    _col("lr", sa.Float, default=0.0),
    _col("rho", sa.Float, null=True),
    _col("epoch_seconds", sa.Float, default=0.0),
    _col("eval_seconds", sa.Float, default=0.0),
    _col("images_per_sec", sa.Float, default=0.0),
    _col("wall_seconds", sa.Float, null=True),
    _col("load_avg", sa.Float, null=True),
    _col("cpu_util", sa.Float, null=True),
    _col("gpu_util", sa.Float, null=True),
    _col("created_at", When),
)
sa.Table(
    "evaluation", meta,
    _col("id", sa.Integer, primary_key=True),
    _col("run_id", sa.Integer, sa.ForeignKey("run.id"), index=True),
    _col("kind", Str, index=True),
    _col("config", sa.JSON, null=True),
    _col("seed", sa.Integer, default=0),
    _col("status", Str, default="running"),
    _col("device", Str, default=""),
    _col("host", Str, default=""),
    _col("pid", sa.Integer, null=True),
    _col("clean_acc", sa.Float, null=True),
    _col("seconds", sa.Float, null=True),
    _col("created_at", When),
    _col("finished_at", When, null=True),
    _col("error", Str, null=True),
    _col("progress", sa.Float, null=True),
    _col("log_path", Str, null=True),
)
sa.Table(
    "evalpoint", meta,
    _col("id", sa.Integer, primary_key=True),
    _col("evaluation_id", sa.Integer, sa.ForeignKey("evaluation.id"), index=True),
    _col("param", sa.Float),
    _col("trial", sa.Integer, default=0),
    _col("accuracy", sa.Float),
    _col("loss", sa.Float, null=True),
)


def _default_sql(col, dialect) -> str | None:
    d = col.default
    if d is None:
        return None
    return str(sa.literal(d.arg, col.type).compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def _fill(bind, table) -> list[str]:
    """Adds the columns and indexes of ``table`` an older database lacks."""
    live = {c["name"] for c in sa.inspect(bind).get_columns(table.name)}
    added = []
    for col in table.columns:
        if col.name in live:
            continue
        default = _default_sql(col, bind.dialect)
        if not col.nullable and default is None:
            raise RuntimeError(
                f"the database was made by another version of nawt: column {table.name}.{col.name} is missing "
                "and has no default to fill it; open it with the nawt that made it, or start a new store")
        server_default = None if default is None else sa.text(default)
        op.add_column(table.name, sa.Column(col.name, col.type, nullable=col.nullable, server_default=server_default))
        added.append(f"{table.name}.{col.name}")
    indexes = {i["name"] for i in sa.inspect(bind).get_indexes(table.name)}
    for index in table.indexes:
        if index.name not in indexes:
            index.create(bind)
    return added


def upgrade() -> None:
    bind = op.get_bind()
    added = []
    for table in meta.sorted_tables:
        if sa.inspect(bind).has_table(table.name):
            added += _fill(bind, table)
        else:
            table.create(bind)
    if added:  # nawt_core.migrate says so in its one-line notice
        context.config.attributes.setdefault("notes", []).append("added " + ", ".join(added))


def downgrade() -> None:
    for table in reversed(meta.sorted_tables):
        op.drop_table(table.name)
