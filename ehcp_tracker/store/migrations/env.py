"""Alembic environment: always runs on the connection ``db.init_db`` hands over (inside its lock)."""

from alembic import context

from ehcp_tracker.store import db

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=db.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
