"""The web work tray's tables (migration 0013_web_accounts): who may sign in, what they looked at.

``web_user`` holds the accounts of ``ehcp serve`` (``ehcp users``): the role, what the role is bound
to (a caseworker ID as the extracts spell it, or a team), an argon2id hash, the lockout counters and a
session epoch that a reset or a disable increments, so every cookie signed before it stops working.
``access_log`` is the UK GDPR accountability record: every case page viewed, every download, every
sign-in and failure. ``web_setting`` keeps the key that signs the session cookies, so that a restart
(or a second server over the same database) accepts the sessions it signed.
"""

from __future__ import annotations

import sqlalchemy as sa

from .db import metadata

web_user = sa.Table(
    "web_user", metadata,
    sa.Column("id", sa.String(64), primary_key=True, doc="the sign-in name, case-folded"),
    sa.Column("role", sa.String(20), nullable=False, doc="caseworker | team_lead | admin"),
    sa.Column("caseworker", sa.String(64), doc="a caseworker's ID as the extracts spell it"),
    sa.Column("team", sa.String(200), doc="a team lead's team as the extracts spell it"),
    sa.Column("password_hash", sa.String(200), doc="argon2id; NULL for an account that signs in by the proxy's header"),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("failed_signins", sa.Integer, nullable=False, doc="failures in a row since the last success"),
    sa.Column("locked_until", sa.DateTime, doc="UTC; no sign-in before it"),
    sa.Column("session_epoch", sa.Integer, nullable=False, doc="a cookie of an older epoch is refused"),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("password_changed_at", sa.DateTime),
)

access_log = sa.Table(
    "access_log", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime, nullable=False, doc="UTC"),
    sa.Column("user_id", sa.String(64), doc="web_user.id (NULL for a failed sign-in under an unknown name)"),
    sa.Column("event", sa.String(30), nullable=False,
              doc="case_view | list_view | download | team_view | search | sign_in | sign_in_failed | sign_out"),
    sa.Column("case_id", sa.String(64), doc="the case viewed"),
    sa.Column("detail", sa.String(500), doc="the listing's filter, a download's format, why a sign-in failed"),
    sa.Column("address", sa.String(64), doc="the client's address as the server saw it"),
    sa.Index("ix_access_log_user", "user_id", "at"),
    sa.Index("ix_access_log_case", "case_id"),
    sa.Index("ix_access_log_at", "at"),
)

web_setting = sa.Table(
    "web_setting", metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
