"""Alembic migrations, run programmatically by ``Store.start`` (no alembic.ini).

To add one, copy ``versions/0001_initial.py`` to ``versions/000N_<what>.py``,
set ``revision = "000N"`` and ``down_revision`` to the previous one, write
``upgrade()``/``downgrade()`` with ``op`` (batch mode is on for SQLite), and
update ``esp_coord/store/tables.py`` to match: a test compares the two.
"""
