"""trained weights: epoch.trained_test_acc/trained_test_loss, epoch.cost_class, epoch.weight_stats, run.final_trained_test_acc

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("run") as batch:
        batch.add_column(sa.Column("final_trained_test_acc", sa.Float, nullable=True))
    with op.batch_alter_table("epoch") as batch:
        batch.add_column(sa.Column("trained_test_loss", sa.Float, nullable=True))
        batch.add_column(sa.Column("trained_test_acc", sa.Float, nullable=True))
        batch.add_column(sa.Column("cost_class", sa.String, nullable=True))
        batch.add_column(sa.Column("weight_stats", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("epoch") as batch:
        for name in ("weight_stats", "cost_class", "trained_test_acc", "trained_test_loss"):
            batch.drop_column(name)
    with op.batch_alter_table("run") as batch:
        batch.drop_column("final_trained_test_acc")
