"""claims: run.claim (the token of the one process that may train a run) and the study's holder

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

When = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("run") as batch:
        batch.add_column(sa.Column("claim", sa.String, nullable=True))
    with op.batch_alter_table("study") as batch:
        batch.add_column(sa.Column("holder", sa.String, nullable=True))
        batch.add_column(sa.Column("holder_host", sa.String, nullable=True))
        batch.add_column(sa.Column("holder_pid", sa.Integer, nullable=True))
        batch.add_column(sa.Column("heartbeat_at", When, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("study") as batch:
        for col in ("heartbeat_at", "holder_pid", "holder_host", "holder"):
            batch.drop_column(col)
    with op.batch_alter_table("run") as batch:
        batch.drop_column("claim")
