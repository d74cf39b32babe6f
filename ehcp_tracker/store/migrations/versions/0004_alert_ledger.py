"""Breach alerts: each alerts run, and the ledger of every alert a server accepted (sent exactly once).

Revision ID: 0004_alert_ledger
Revises: 0003_import_batch
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_alert_ledger"
down_revision = "0003_import_batch"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_run",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("delivery", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("messages_sent", sa.Integer(), nullable=True),
        sa.Column("messages_failed", sa.Integer(), nullable=True),
        sa.Column("alerts_sent", sa.Integer(), nullable=True),
        sa.Column("last_import_run_id", sa.Integer(), nullable=True),
    )
    op.create_table(
        "alert_ledger",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("alert_run.id"), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("clock", sa.String(64), nullable=False),
        sa.Column("event", sa.String(20), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("recipient", sa.String(200), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("kind", "case_id", "clock", "event", "due", "recipient", name="uq_alert_ledger_once"),
    )
    op.create_index("ix_alert_ledger_run", "alert_ledger", ["run_id"])


def downgrade() -> None:
    op.drop_table("alert_ledger")
    op.drop_table("alert_run")
