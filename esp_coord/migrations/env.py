"""Alembic environment: online only, on the connection ``Store.start`` hands over.

There is no alembic.ini: ``esp_coord.store.migrate`` builds the Alembic
``Config`` in code and puts the open (sync-facing) connection in
``config.attributes["connection"]``.
"""

from __future__ import annotations

from alembic import context

from esp_coord.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "esp-coord migrations run through esp_coord.store (Store.start), "
        "which provides the database connection"
    )

context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite cannot ALTER most things: batch mode recreates tables instead.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
