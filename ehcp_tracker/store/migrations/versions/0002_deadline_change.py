"""What changed: the deadlines each import moved, and how many, so `ehcp changes` can list them later.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deadline_change",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("import_run.id"), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("clock", sa.String(64), nullable=False),
        sa.Column("old_due", sa.Date(), nullable=True),
        sa.Column("new_due", sa.Date(), nullable=True),
        sa.Column("old_status", sa.String(20), nullable=True),
        sa.Column("new_status", sa.String(20), nullable=True),
        sa.Column("why", sa.String(1000), nullable=True),
    )
    op.create_index("ix_deadline_change_run", "deadline_change", ["run_id"])
    op.create_index("ix_deadline_change_case", "deadline_change", ["kind", "case_id"])
    with op.batch_alter_table("import_run") as batch:
        batch.add_column(sa.Column("deadlines_moved", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("import_run") as batch:
        batch.drop_column("deadlines_moved")
    op.drop_table("deadline_change")
