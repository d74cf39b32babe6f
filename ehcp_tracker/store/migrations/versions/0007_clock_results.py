"""Evaluate once per database state (issue 17): the clock results, stored.

``clock_result`` holds one row per (case, clock) with what the engine decides independently of the
day a clock is judged on; ``clock_state`` the fingerprint of the rule book they were worked out
under. Both start empty: the next import, ``ehcp evaluate`` or ``ehcp init`` fills them; until then
every command evaluates in memory, as before, and says so.

Revision ID: 0007_clock_results
Revises: 0006_legal
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_clock_results"
down_revision = "0006_legal"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "clock_result",
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("clock", sa.String(64), nullable=False),
        sa.Column("started", sa.Date),
        sa.Column("due", sa.Date),
        sa.Column("stop_event", sa.Date),
        sa.Column("closure", sa.Date),
        sa.Column("overtaken", sa.Date),
        sa.Column("exception", sa.String(40)),
        sa.Column("statutory", sa.String(20)),
        sa.Column("rule_version", sa.Text),
        sa.Column("reference", sa.Text),
        sa.Column("transfer_type", sa.String(40)),
        sa.Column("warning_days", sa.Integer, nullable=False),
        sa.Column("settled_from", sa.Date),
        sa.Column("stable_from", sa.Date),
    )
    op.create_index("ix_clock_result_case", "clock_result", ["kind", "case_id"])
    op.create_index("ix_clock_result_settled", "clock_result", ["settled_from"])
    op.create_table(
        "clock_state",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("fingerprint", sa.String(100), nullable=False),
        sa.Column("evaluated_at", sa.DateTime, nullable=False),
        sa.Column("clocks", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("clock_state")
    op.drop_index("ix_clock_result_settled", "clock_result")
    op.drop_index("ix_clock_result_case", "clock_result")
    op.drop_table("clock_result")
