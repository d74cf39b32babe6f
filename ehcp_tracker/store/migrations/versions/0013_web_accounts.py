"""The web work tray: accounts, the access log and the cookie-signing key (store/accounts.py).

Revision ID: 0013_web_accounts
Revises: 0010_compact_clocks
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_web_accounts"
down_revision = "0010_compact_clocks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_user",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("caseworker", sa.String(64), nullable=True),
        sa.Column("team", sa.String(200), nullable=True),
        sa.Column("password_hash", sa.String(200), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("failed_signins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.Column("session_epoch", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("password_changed_at", sa.DateTime(), nullable=True),
    )
    op.create_table(
        "access_log",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=True),
        sa.Column("event", sa.String(30), nullable=False),
        sa.Column("case_id", sa.String(64), nullable=True),
        sa.Column("detail", sa.String(500), nullable=True),
        sa.Column("address", sa.String(64), nullable=True),
    )
    op.create_index("ix_access_log_user", "access_log", ["user_id", "at"])
    op.create_index("ix_access_log_case", "access_log", ["case_id"])
    op.create_index("ix_access_log_at", "access_log", ["at"])
    op.create_table(
        "web_setting",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("web_setting")
    op.drop_table("access_log")
    op.drop_table("web_user")
