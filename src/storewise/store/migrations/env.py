"""Alembic environment: runs migrations on the connection handed in by ``storewise.store``."""

from __future__ import annotations

from alembic import context

from storewise.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only when alembic is run by hand
    raise RuntimeError("storewise migrations run through storewise.store.migrate(engine)")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
