"""The assessment side in law (issue 14; chained after 0007_clock_results): evidence for an exemption's conditions, re-assessments and
tribunal orders on assessment rows.

``exception_from`` / ``exception_to`` are the dates of the circumstance behind the row's exemptions
(reg 8(2), reg 10(4)(c)-(d)); ``assessment_type`` marks a re-assessment (regs 24-27);
``tribunal_order`` and ``tribunal_order_date`` a First-tier Tribunal order (reg 44(2)(b)-(c)). All
optional: stored rows keep them blank.

Revision ID: 0008_assessment_law
Revises: 0007_clock_results
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_assessment_law"
down_revision = "0007_clock_results"
branch_labels = None
depends_on = None

NEW_COLUMNS = (("exception_from", sa.Date), ("exception_to", sa.Date), ("assessment_type", lambda: sa.String(40)),
               ("tribunal_order", lambda: sa.String(40)), ("tribunal_order_date", sa.Date))


def upgrade() -> None:
    with op.batch_alter_table("assessment") as batch:
        for name, kind in NEW_COLUMNS:
            batch.add_column(sa.Column(name, kind(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("assessment") as batch:
        for name, _ in reversed(NEW_COLUMNS):
            batch.drop_column(name)
