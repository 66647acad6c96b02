"""Alembic environment: Tidal runs migrations programmatically on an open connection."""

from alembic import context

from tidal.store._schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - offline use via the alembic CLI
    context.configure(url=context.config.get_main_option("sqlalchemy.url"), target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
