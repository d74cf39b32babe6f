"""Files refused and why (issue 25, the Imports page): ``import_run.refusal_reason``, the summary
of a refused file's problems (how many, in how many rows, and by column and kind of problem, with
counts: never a cell's value, so no personal data), and ``import_run.new_queries``, how many
queries the run brought (present after it, not before: ``ingest.new_queries``). Both blank on the
runs stored before.

And two indexes on ``clock_result`` for the team page's counts in SQL (``web.team_figures``): the
running clocks of each case (``ix_clock_result_running``, partial: no stop event, no closure,
nothing overtaking; about a fifth of the rows) and every clock by kind and due day
(``ix_clock_result_due``, with the stop days: the breaches of this month, the late ones picked
out in the index).

Revision ID: 0016_import_refusal_reason
Revises: 0015_analyst_views
"""

import sqlalchemy as sa
from alembic import op

from ehcp_tracker.store import analyst_views

revision = "0016_import_refusal_reason"
down_revision = "0015_analyst_views"
branch_labels = None
depends_on = None


RUNNING = "stop_event IS NULL AND closure IS NULL AND overtaken IS NULL"
# covering: what the counts read, and the stop columns the condition names (always NULL in it)
RUNNING_COLUMNS = ["kind", "case_id", "rule", "due", "exception", "stop_event", "closure", "overtaken"]


def upgrade() -> None:
    with op.batch_alter_table("import_run") as batch:
        batch.add_column(sa.Column("refusal_reason", sa.Text, nullable=True))
        batch.add_column(sa.Column("new_queries", sa.Integer, nullable=True))
    op.create_index("ix_clock_result_running", "clock_result", RUNNING_COLUMNS,
                    sqlite_where=sa.text(RUNNING), postgresql_where=sa.text(RUNNING))
    op.create_index("ix_clock_result_due", "clock_result",
                    ["kind", "due", "stop_event", "closure", "overtaken", "case_id"])


def downgrade() -> None:
    op.drop_index("ix_clock_result_due", "clock_result")
    op.drop_index("ix_clock_result_running", "clock_result")
    # Dropping a column rebuilds import_run on SQLite, which an analysts' view reads: the views go
    # first and come back over the rebuilt table (PostgreSQL's dependent objects alike).
    conn = op.get_bind()
    analyst_views.drop(conn)
    with op.batch_alter_table("import_run") as batch:
        batch.drop_column("new_queries")
        batch.drop_column("refusal_reason")
    analyst_views.create(conn)
