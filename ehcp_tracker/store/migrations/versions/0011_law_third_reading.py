"""The law, third reading (issue 24): reg 15(4), regs 44-45 on both kinds of case.

On ``assessment``: ``tribunal_route`` (``order`` | ``unopposed``: a reg 44 order, or the LA's
notification that it will not oppose the appeal, reg 45(1)), ``tribunal_exception`` (reg 44(3); reg
45's list) and ``tribunal_notice_sent`` (the 2-week notice that it will assess, reg 44(2)(b) / reg
45(3)). On ``review``: ``transfer_notice_sent`` (the new council's notice within 6 weeks of a
transfer in, reg 15(4)), ``tribunal_route`` and ``tribunal_exception``. All optional: stored rows keep
them blank.

Revision ID: 0011_law_third_reading
Revises: 0014_sen2 (chained after the head of main when it landed; the number is the one given to issue 24)
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_law_third_reading"
down_revision = "0014_sen2"
branch_labels = None
depends_on = None

NEW_COLUMNS = {
    "assessment": (("tribunal_route", lambda: sa.String(40)), ("tribunal_exception", lambda: sa.String(40)),
                   ("tribunal_notice_sent", sa.Date)),
    "review": (("transfer_notice_sent", sa.Date), ("tribunal_route", lambda: sa.String(40)),
               ("tribunal_exception", lambda: sa.String(40))),
}


def upgrade() -> None:
    for table, columns in NEW_COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            for name, kind in columns:
                batch.add_column(sa.Column(name, kind(), nullable=True))


def downgrade() -> None:
    for table, columns in NEW_COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            for name, _ in reversed(columns):
                batch.drop_column(name)
