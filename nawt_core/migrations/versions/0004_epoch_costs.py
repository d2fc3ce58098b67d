"""epoch costs: run.compile_seconds (--compile warm-up) and epoch.checkpoint_seconds

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("run") as batch:
        batch.add_column(sa.Column("compile_seconds", sa.Float, nullable=True))
    with op.batch_alter_table("epoch") as batch:
        batch.add_column(sa.Column("checkpoint_seconds", sa.Float, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("epoch") as batch:
        batch.drop_column("checkpoint_seconds")
    with op.batch_alter_table("run") as batch:
        batch.drop_column("compile_seconds")
