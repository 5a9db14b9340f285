"""Engine construction, SQLite settings, busy detection, migrations.

The SQLite file is created mode 0600 before SQLite opens it (SQLite would
make it 0644), and SQLite gives its -wal, -shm and -journal companions the
mode of the database file; an existing file (and companion) readable by
others is brought back to 0600 at start.

SQLite: WAL (readers never block the writer), ``synchronous=FULL`` (a commit
survives a power cut: the service moves a mail out of the inbox right after
committing, so a lost commit would be a lost mail), foreign keys on, and a
busy timeout. Python's sqlite3 driver is put out of the way
(``isolation_level=None``) and the store emits ``BEGIN IMMEDIATE`` itself:
a write transaction takes the write lock up front, so two writers queue on the
busy timeout instead of failing with a lock upgrade deadlock.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, StatementError

from esp_coord.store.errors import StoreBusy

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"

# PostgreSQL: serialization_failure, deadlock_detected, lock_not_available.
# The advisory lock key of migrations (any constant no other program uses).
MIGRATION_LOCK = 0x65737063  # "espc"
_PG_BUSY = frozenset({"40001", "40P01", "55P03"})
_SQLITE_BUSY_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})
_SQLITE_BUSY_TEXT = ("database is locked", "database is busy", "database table is locked")


# The drivers of the asynchronous store (before issue 12) and their synchronous
# counterparts: configuration files written for it keep working.
_SYNC_DRIVERS = {"sqlite+aiosqlite": "sqlite", "postgresql+asyncpg": "postgresql+psycopg",
                 "postgresql": "postgresql+psycopg"}


def sync_url(url: str | URL) -> URL:
    """``url`` with the synchronous driver the store uses (pysqlite, psycopg)."""
    parsed = make_url(url)
    driver = _SYNC_DRIVERS.get(parsed.drivername)
    return parsed.set(drivername=driver) if driver else parsed


def make_engine(
    url: str, *, busy_timeout: float, options: Mapping[str, Any] | None = None
) -> Engine:
    parsed = sync_url(url)
    # SQL parameters never reach exception messages or logs: even encrypted,
    # they have no business there, and addresses are personal data too.
    options = {"hide_parameters": True, **(options or {})}
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, **options)
    database = parsed.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        private_database_file(Path(database))
    # Connections move between the store's threads (never used by two at once).
    connect_args = {"check_same_thread": False, **options.pop("connect_args", {})}
    engine = create_engine(parsed, connect_args=connect_args, **options)
    timeout_ms = max(0, int(busy_timeout * 1000))

    @event.listens_for(engine, "connect")
    def _sqlite_settings(dbapi_connection: Any, _record: Any) -> None:
        # No implicit BEGIN from the driver: the store says when and how.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {timeout_ms}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = FULL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    return engine


_COMPANIONS = ("-wal", "-shm", "-journal")


def private_database_file(path: Path) -> None:
    """Create the SQLite file ``path`` empty with mode 0600 if it does not
    exist (an empty file is an empty database to SQLite), or check that it
    can be opened for writing (raises ``OSError``); make it, and the
    companions that exist, 0600 if others can read them."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        # A folder or a file we may not write: say so now, as an OSError that
        # names it, before any connection is made.
        os.close(os.open(path, os.O_RDWR))
    for name in (path, *(path.with_name(path.name + s) for s in _COMPANIONS)):
        try:
            mode = os.stat(name).st_mode
            if stat.S_ISREG(mode) and mode & 0o077:
                os.chmod(name, stat.S_IMODE(mode) & 0o700)
                log.warning("%s could be read by other users: now mode %o", name,
                            stat.S_IMODE(mode) & 0o700)
        except FileNotFoundError:
            continue
        except PermissionError:
            log.warning("%s can be read by other users and is not ours to chmod", name)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def is_busy(error: BaseException) -> bool:
    """Whether a database error means "locked or in conflict, try again"."""
    if not isinstance(error, DBAPIError):
        return False
    candidates: list[BaseException] = [error.orig] if error.orig is not None else []
    if error.orig is not None and error.orig.__cause__ is not None:
        candidates.append(error.orig.__cause__)
    for exc in candidates:
        code = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
        if code in _PG_BUSY:
            return True
        sqlite_code = getattr(exc, "sqlite_errorcode", None)
        if isinstance(sqlite_code, int) and (sqlite_code & 0xFF) in _SQLITE_BUSY_CODES:
            return True
        text = str(exc).lower()
        if any(marker in text for marker in _SQLITE_BUSY_TEXT):
            return True
    return False


@contextmanager
def translated() -> Iterator[None]:
    """Database errors as the store's own: busy as ``StoreBusy``, a value
    refused before reaching the database (e.g. a naive datetime) as the
    caller's plain ``ValueError``."""
    try:
        yield
    except DBAPIError as exc:
        if is_busy(exc):
            raise StoreBusy("the database is busy (locked or in conflict)") from exc
        raise
    except StatementError as exc:
        if isinstance(exc.orig, ValueError):
            raise exc.orig from None
        raise


def upgrade_to_head(connection: Connection) -> None:
    """Alembic ``upgrade head`` on an open connection (called through run_sync)."""
    if connection.dialect.name == "postgresql":
        # Workers starting together migrate one after the other, the later
        # ones finding the schema already at head (lock held to the commit).
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
