"""Compact stored clocks (issue 17): seven rows a case, so every byte of a row counts.

0007's ``clock_result`` held each rule's texts (rule version, reference, basis) and ISO dates on every
row: 262 bytes a row, 190 MB for 100,000 requests, and the write of them doubled a first import. Here
a row holds day numbers (days since 1970-01-01), a kind code and the id of a ``clock_rule`` row that
holds what every row of the same rule shares; ``clock_state`` gains ``settled_through`` (the latest
``settled_from``, kept by the writer) in place of an index on every row's ``settled_from``.

The stored clocks are derived data: the tables are made again, empty, and the fingerprint with them,
so the next ``ehcp init``, ``ehcp evaluate`` or import works every clock out again (until then every
command evaluates in memory, as before 0007, and says so). Nothing entered by a person is touched.

Revision ID: 0010_compact_clocks
Revises: 0009_review_tribunal_order
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_compact_clocks"
down_revision = "0009_review_tribunal_order"
branch_labels = None
depends_on = None


def _state(settled: bool) -> None:
    op.create_table(
        "clock_state",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("fingerprint", sa.String(100), nullable=False),
        sa.Column("evaluated_at", sa.DateTime, nullable=False),
        sa.Column("clocks", sa.Integer, nullable=False),
        *([sa.Column("settled_through", sa.Integer)] if settled else []),
    )


def _drop_0007() -> None:
    op.drop_table("clock_state")
    op.drop_index("ix_clock_result_settled", "clock_result")
    op.drop_index("ix_clock_result_case", "clock_result")
    op.drop_table("clock_result")


def upgrade() -> None:
    _drop_0007()
    op.create_table(
        "clock_rule",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("clock", sa.String(64), nullable=False),
        sa.Column("statutory", sa.String(20)),
        sa.Column("rule_version", sa.Text),
        sa.Column("reference", sa.Text),
        sa.Column("warning_days", sa.Integer, nullable=False),
    )
    op.create_table(
        "clock_result",
        sa.Column("kind", sa.SmallInteger, nullable=False),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("rule", sa.Integer, nullable=False),
        sa.Column("started", sa.Integer),
        sa.Column("due", sa.Integer),
        sa.Column("stop_event", sa.Integer),
        sa.Column("closure", sa.Integer),
        sa.Column("overtaken", sa.Integer),
        sa.Column("exception", sa.String(40)),
        sa.Column("transfer_type", sa.String(40)),
        sa.Column("settled_from", sa.Integer),
        sa.Column("stable_from", sa.Integer),
    )
    op.create_index("ix_clock_result_case", "clock_result", ["kind", "case_id"])
    _state(settled=True)


def downgrade() -> None:
    """Back to 0007's shape, empty (derived data: 0007's code works it out again)."""
    op.drop_table("clock_state")
    op.drop_index("ix_clock_result_case", "clock_result")
    op.drop_table("clock_result")
    op.drop_table("clock_rule")
    op.create_table(
        "clock_result",
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("clock", sa.String(64), nullable=False),
        *(sa.Column(name, sa.Date) for name in ("started", "due", "stop_event", "closure", "overtaken")),
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
    _state(settled=False)
