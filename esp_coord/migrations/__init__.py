"""Alembic migrations, run programmatically by ``Store.start`` (no alembic.ini)."""
