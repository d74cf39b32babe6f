"""The legal review (issue 13): review columns for reg 15, the review procedure of regs 20/21 and the
academic year a stored ``ncy`` is for.

``ncy`` used to mean the year group in the academic year containing the review's due date; from
December 2026 it is the year group in the academic year of the import (``ncy_academic_year``).
Rows stored before keep the year they were imported under: their ``ncy_academic_year`` is filled
with the academic year (the calendar year it starts) containing their review's due date, the last
day of the 12 months starting with the later of ``plan_issued`` and ``last_review``.

Revision ID: 0006_legal
Revises: 0005_row_digest
"""

import calendar
import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0006_legal"
down_revision = "0005_row_digest"
branch_labels = None
depends_on = None

NEW_DATES = ("transferred_in", "meeting_notice_sent", "advice_circulated", "review_report_sent")


def _due(anchor: dt.date) -> dt.date:
    """The day before the corresponding date 12 months on (the month end when there is none)."""
    last = calendar.monthrange(anchor.year + 1, anchor.month)[1]
    if anchor.day > last:
        return dt.date(anchor.year + 1, anchor.month, last)
    return dt.date(anchor.year + 1, anchor.month, anchor.day) - dt.timedelta(days=1)


def _as_date(value):
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def upgrade() -> None:
    with op.batch_alter_table("review") as batch:
        batch.add_column(sa.Column("ncy_academic_year", sa.Integer(), nullable=True))
        for name in NEW_DATES:
            batch.add_column(sa.Column(name, sa.Date(), nullable=True))
    review = sa.table("review", sa.column("review_id", sa.String), sa.column("ncy", sa.Integer),
                      sa.column("plan_issued", sa.Date), sa.column("last_review", sa.Date),
                      sa.column("ncy_academic_year", sa.Integer))
    conn = op.get_bind()
    rows = conn.execute(sa.select(review.c.review_id, review.c.plan_issued, review.c.last_review)
                        .where(review.c.ncy.is_not(None))).all()
    by_year: dict[int, list[str]] = {}
    for review_id, plan, last in rows:
        anchors = [d for d in (_as_date(plan), _as_date(last)) if d is not None]
        if not anchors:
            continue
        due = _due(max(anchors))
        by_year.setdefault(due.year if due.month >= 9 else due.year - 1, []).append(review_id)
    for year, ids in by_year.items():
        for start in range(0, len(ids), 500):
            conn.execute(review.update().where(review.c.review_id.in_(ids[start:start + 500]))
                         .values(ncy_academic_year=year))


def downgrade() -> None:
    with op.batch_alter_table("review") as batch:
        for name in reversed(NEW_DATES):
            batch.drop_column(name)
        batch.drop_column("ncy_academic_year")
