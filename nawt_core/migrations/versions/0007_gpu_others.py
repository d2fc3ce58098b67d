"""gpu sharing: epoch.gpu_others (other processes computing on the run's GPU at the epoch's end)

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("epoch") as batch:
        batch.add_column(sa.Column("gpu_others", sa.Integer, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("epoch") as batch:
        batch.drop_column("gpu_others")
