"""One import command, one batch: every file of a night's `ehcp import a.csv b.xlsx` shares an id,
so `ehcp changes` reports the whole night, not only its last file.

Revision ID: 0003_import_batch
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_import_batch"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("import_run") as batch:
        batch.add_column(sa.Column("batch", sa.String(32), nullable=True))
        batch.create_index("ix_import_run_batch", ["batch"])


def downgrade() -> None:
    with op.batch_alter_table("import_run") as batch:
        batch.drop_index("ix_import_run_batch")
        batch.drop_column("batch")
