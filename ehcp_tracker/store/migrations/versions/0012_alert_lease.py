"""Alerts after a crash (issue 28 point 5): a lease on each run, and the intent to send each digest.

``alert_run`` gains the lease: the owner's host and process id, and a heartbeat the run renews while
it works, so a later run can tell a run that is still sending from one whose process is gone (and
take it over). ``alert_message`` records each digest before it is handed to the server: its stable
Message-ID and its exact bytes, ``sending`` until the server accepts it, then ``sent``; the alerts
it carries point at it from ``alert_ledger.message_id``. A run that dies between the two leaves a
``sending`` row, which the next run resends unchanged (same Message-ID) or, for an outbox, finds
already written.

Revision ID: 0012_alert_lease
Revises: 0013_web_accounts
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_alert_lease"
down_revision = "0013_web_accounts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alert_run") as batch:
        batch.add_column(sa.Column("host", sa.String(255), nullable=True))
        batch.add_column(sa.Column("pid", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime(), nullable=True))
    op.create_table(
        "alert_message",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("alert_run.id"), nullable=False),
        sa.Column("recipient", sa.String(200), nullable=False),
        sa.Column("message_id", sa.String(255), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.UniqueConstraint("message_id", name="uq_alert_message_id"),
    )
    op.create_index("ix_alert_message_state", "alert_message", ["state"])
    with op.batch_alter_table("alert_ledger") as batch:
        batch.add_column(sa.Column("message_id", sa.String(255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alert_ledger") as batch:
        batch.drop_column("message_id")
    op.drop_index("ix_alert_message_state", "alert_message")
    op.drop_table("alert_message")
    with op.batch_alter_table("alert_run") as batch:
        batch.drop_column("heartbeat_at")
        batch.drop_column("pid")
        batch.drop_column("host")
