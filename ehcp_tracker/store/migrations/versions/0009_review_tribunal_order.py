"""A First-tier Tribunal order to amend a plan, on review rows (issue 14; reg 44(2)(e)-(f)).

``tribunal_order`` (``amend`` | ``amend_placement``), ``tribunal_order_date`` and
``tribunal_amended_plan_issued``, the amended plan the order requires. All optional: stored rows
keep them blank.

Revision ID: 0009_review_tribunal_order
Revises: 0008_assessment_law
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_review_tribunal_order"
down_revision = "0008_assessment_law"
branch_labels = None
depends_on = None

NEW_COLUMNS = (("tribunal_order", lambda: sa.String(40)), ("tribunal_order_date", sa.Date),
               ("tribunal_amended_plan_issued", sa.Date))


def upgrade() -> None:
    with op.batch_alter_table("review") as batch:
        for name, kind in NEW_COLUMNS:
            batch.add_column(sa.Column(name, kind(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("review") as batch:
        for name, _ in reversed(NEW_COLUMNS):
            batch.drop_column(name)
