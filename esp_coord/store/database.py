"""One PostgreSQL database shared by the teams a worker serves.

A worker of the platform may serve dozens of teams: one engine (one pool of
connections) and one pool of database threads for all of them keeps the
connections to PostgreSQL bounded by the worker, not by its teams
(``Database.store`` gives each team its ``Store`` on them).

Migrations: ``migrate=True`` brings the schema to the latest revision at
start, under a PostgreSQL advisory lock so that workers starting together
migrate once; ``migrate=False`` (a worker whose role may not alter tables,
``deploy/postgres-setup.sql``) only checks that the schema is the one this
code needs and refuses to start otherwise.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, event
from sqlalchemy.exc import DBAPIError

from esp_coord.crypto import Keyring
from esp_coord.store.engine import MIGRATIONS, make_engine, upgrade_to_head
from esp_coord.store.errors import StoreError, StoreUnavailable
from esp_coord.store.keycheck import describe_database, reason
from esp_coord.store.teams import Fence
from esp_coord.store.transaction import Store


def end_idle_transactions(engine: Engine, after: timedelta) -> None:
    """PostgreSQL ends a session of ``engine`` whose transaction stays idle
    ``after``: a worker stopped (SIGSTOP, a frozen machine) in the middle of
    a transaction must not hold its row locks against the worker taking its
    teams over. Set at each connection, whatever the URL's own options."""
    milliseconds = int(after.total_seconds() * 1000)

    @event.listens_for(engine, "connect")
    def _settings(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET idle_in_transaction_session_timeout = {milliseconds}")
        dbapi_connection.commit()


def head_revision() -> str:
    """The schema revision this code reads and writes."""
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert head is not None
    return head


class Database:
    def __init__(self, url: str, *, threads: int = 8, migrate: bool = False,
                 engine_options: Mapping[str, Any] | None = None,
                 idle_timeout: timedelta | None = None) -> None:
        self.url = url
        self._idle_timeout = idle_timeout
        self._threads = threads
        self._migrate = migrate
        # The pool matches the threads: a thread never waits for a connection.
        self._engine_options = {"pool_size": threads, "max_overflow": threads,
                                **(engine_options or {})}
        self._engine: Engine | None = None
        self._executor: ThreadPoolExecutor | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise StoreError("the database is not started (call Database.start first)")
        return self._engine

    @property
    def executor(self) -> ThreadPoolExecutor:
        if self._executor is None:
            raise StoreError("the database is not started (call Database.start first)")
        return self._executor

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    async def start(self, stack: AsyncExitStack) -> None:
        """Connect, migrate or check the schema. Raises ``StoreUnavailable``."""
        stack.push_async_callback(self.close)
        self._executor = ThreadPoolExecutor(self._threads, thread_name_prefix="esp-db")
        try:
            self._engine = make_engine(self.url, busy_timeout=5.0,
                                       options=self._engine_options)
            if self._idle_timeout is not None and self.is_postgres:
                end_idle_transactions(self._engine, self._idle_timeout)
            await asyncio.get_running_loop().run_in_executor(self._executor, self._schema)
        except DBAPIError as exc:
            raise StoreUnavailable(f"cannot open the database {describe_database(self.url)}: "
                                   f"{reason(exc)}") from exc

    def _schema(self) -> None:
        with self.engine.connect() as conn:
            if self._migrate:
                upgrade_to_head(conn)
                conn.commit()
                return
            current = MigrationContext.configure(conn).get_current_revision()
        if current != head_revision():
            raise StoreUnavailable(
                f"the database {describe_database(self.url)} is at schema revision "
                f"{current or 'none'} and this esp-coord needs {head_revision()}: run "
                "`esp-coord migrate --database-url URL` as the owner role first")

    def store(self, team: str, keyring: Keyring, *, fence: Fence | None = None,
              **options: Any) -> Store:
        """The store of ``team`` on this database (not started)."""
        return Store(self.url, keyring, team=team, fence=fence, shared=self, **options)

    async def close(self) -> None:
        engine, self._engine = self._engine, None
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, wait=True)
        if engine is not None:
            engine.dispose()
