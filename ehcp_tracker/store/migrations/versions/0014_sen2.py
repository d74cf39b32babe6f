"""SEN2 returns (issue 26): where a case row came from, and the database's own secrets.

``source`` on assessment and review rows (``sen2`` for rows imported from an SEN2 return, whose
advice and review-procedure clocks are not judged; blank otherwise). ``local_secret`` holds the key
of the hash that stands for a child with neither UPN nor ULN (made on first use, never printed).

Revision ID: 0014_sen2
Revises: 0012_alert_lease
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_sen2"
down_revision = "0012_alert_lease"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("assessment", "review"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("source", sa.String(40), nullable=True))
    op.create_table("local_secret",
                    sa.Column("name", sa.String(40), primary_key=True),
                    sa.Column("value", sa.String(128), nullable=False))


def downgrade() -> None:
    op.drop_table("local_secret")
    for table in ("assessment", "review"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("source")
