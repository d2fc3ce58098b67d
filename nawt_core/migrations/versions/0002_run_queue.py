"""run queue: run.queue_pos/worker_id/claimed_at/attempts and the worker table

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

When = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("run") as batch:
        batch.add_column(sa.Column("queue_pos", sa.Float, nullable=True))
        batch.add_column(sa.Column("worker_id", sa.String, nullable=True))
        batch.add_column(sa.Column("claimed_at", When, nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer, nullable=False, server_default="0"))
        batch.create_index("ix_run_queue_pos", ["queue_pos"])
    op.create_table(
        "worker",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("host", sa.String, nullable=False),
        sa.Column("pid", sa.Integer, nullable=True),
        sa.Column("device", sa.String, nullable=False),
        sa.Column("threads", sa.Integer, nullable=True),
        sa.Column("started_at", When, nullable=False),
        sa.Column("heartbeat_at", When, nullable=True),
        sa.Column("run_id", sa.Integer, nullable=True),
        sa.Column("status", sa.String, nullable=False),
        sa.Column("runs_done", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("worker")
    with op.batch_alter_table("run") as batch:
        batch.drop_index("ix_run_queue_pos")
        for col in ("attempts", "claimed_at", "worker_id", "queue_pos"):
            batch.drop_column(col)
