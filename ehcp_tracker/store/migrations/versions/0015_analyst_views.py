"""Data for analysts (issue 23, point 7): the views ``analyst_clocks`` and ``analyst_cases``.

One row per stored clock and one per case, in readable columns and real dates, for Power BI,
Excel Power Query or any SQL client, and for ``ehcp export``. Their columns, meanings and SQL are
``store.analyst_views`` (the docs' column dictionary is generated from the same lists). Views hold
no data: upgrading and downgrading touch nothing stored.

Revision ID: 0015_analyst_views
Revises: 0011_law_third_reading
"""

from alembic import op

from ehcp_tracker.store import analyst_views

revision = "0015_analyst_views"
down_revision = "0011_law_third_reading"
branch_labels = None
depends_on = None


def upgrade() -> None:
    analyst_views.drop(op.get_bind())
    analyst_views.create(op.get_bind())


def downgrade() -> None:
    analyst_views.drop(op.get_bind())
