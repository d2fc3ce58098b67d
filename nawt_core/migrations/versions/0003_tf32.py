"""tf32: run.tf32_conv/tf32_matmul and evaluation.tf32_conv/tf32_matmul (CUDA TF32 math as used)

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("run", "evaluation"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("tf32_conv", sa.Boolean, nullable=True))
            batch.add_column(sa.Column("tf32_matmul", sa.Boolean, nullable=True))


def downgrade() -> None:
    for table in ("evaluation", "run"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("tf32_matmul")
            batch.drop_column("tf32_conv")
