"""The store and its unit of work.

``Store`` owns the engine (created at ``start``, never at import time) and
hands out ``Tx`` objects, one per database transaction. ``Store.run`` retries
a whole transaction when the database is busy, so a locked SQLite file or a
PostgreSQL serialization failure delays work but never drops it.

``start`` refuses a key file other than the one that wrote the database
(``KeyMismatch``, see keycheck.py) before any migration or write, and turns a
database that cannot be opened into ``StoreUnavailable``: both carry a plain
message for the operator.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from esp_coord.crypto import Keyring
from esp_coord.store.audit import AuditOps
from esp_coord.store.documents import DocumentOps
from esp_coord.store.engine import is_busy, is_sqlite, make_engine, upgrade_to_head
from esp_coord.store.errors import StoreBusy, StoreError, StoreUnavailable
from esp_coord.store.keycheck import check_keys, describe_database, reason, record_keys
from esp_coord.store.mail import MailOps
from esp_coord.store.outbox import OutboxOps
from esp_coord.store.reminders import ReminderOps

T = TypeVar("T")
log = logging.getLogger(__name__)


class Tx(MailOps, OutboxOps, DocumentOps, AuditOps, ReminderOps):
    """One open transaction: dedup, outbox, numbering, documents.

    Valid only inside the ``Store.transaction()`` block (or ``Store.run``
    callback) that produced it.
    """

    __slots__ = ()

    @property
    def connection(self) -> AsyncConnection:
        """The underlying connection, for tests and one-off maintenance."""
        return self._conn


class Store:
    """Encrypted storage on SQLite (aiosqlite) or PostgreSQL (asyncpg).

    ``busy_timeout`` (seconds) is how long one SQLite statement waits for a
    lock before the attempt counts as busy; ``engine_options`` go to
    ``create_async_engine`` (e.g. ``connect_args``).

    ``check_keys=False`` skips the key check and records no fingerprint: only
    for readers of what is stored in clear (the audit trail), whose keyring
    never decrypts nor encrypts anything.
    """

    def __init__(
        self,
        url: str,
        keyring: Keyring,
        *,
        busy_timeout: float = 5.0,
        retry_delay: float = 0.05,
        max_retry_delay: float = 2.0,
        engine_options: Mapping[str, Any] | None = None,
        check_keys: bool = True,
    ) -> None:
        self._url = url
        self._keyring = keyring
        self._busy_timeout = busy_timeout
        self._retry_delay = retry_delay
        self._max_retry_delay = max_retry_delay
        self._engine_options = dict(engine_options or {})
        self._check_keys = check_keys
        self._engine: AsyncEngine | None = None

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise StoreError("the store is not started (call Store.start first)")
        return self._engine

    @property
    def keyring(self) -> Keyring:
        return self._keyring

    async def start(self, stack: AsyncExitStack) -> None:
        """Create the engine, check the keyring against the database, bring
        the schema to the latest migration, record the keyring's new key
        fingerprints, and register disposal on ``stack``. One transaction:
        a refusal (``KeyMismatch``) or a failure changes nothing.

        Raises ``KeyMismatch``, ``StoreUnavailable`` or ``StoreBusy``."""
        if self._engine is not None:
            raise StoreError("the store is already started")
        database = describe_database(self._url)
        try:
            self._engine = make_engine(
                self._url, busy_timeout=self._busy_timeout, options=self._engine_options
            )
            stack.push_async_callback(self.close)
            async with self._connection(readonly=False) as conn:
                missing = (await conn.run_sync(check_keys, self._keyring, database)
                           if self._check_keys else [])
                await conn.run_sync(upgrade_to_head)
                if self._check_keys:
                    await conn.run_sync(record_keys, self._keyring, missing, database)
        except BaseException as exc:
            await self.close()  # a refused or failed start leaves no connection open
            if isinstance(exc, (DBAPIError, OSError)):
                raise StoreUnavailable(
                    f"cannot open the database {database}: {reason(exc)}") from exc
            raise

    async def close(self) -> None:
        engine, self._engine = self._engine, None
        if engine is not None:
            await engine.dispose()

    @asynccontextmanager
    async def transaction(self, *, readonly: bool = False) -> AsyncIterator[Tx]:
        """One transaction: commit on clean exit, rollback on exception.

        ``readonly`` only lightens locking on SQLite (a deferred BEGIN shares
        the file with the writer); it does not forbid writes.
        """
        async with self._connection(readonly=readonly) as conn:
            yield Tx(conn, self._keyring)

    async def run(self, fn: Callable[[Tx], Awaitable[T]], *, attempts: int = 5) -> T:
        """Run ``fn`` in a transaction, again from the start while the database
        is busy, with exponential backoff and jitter. ``fn`` must touch nothing
        but the transaction: it may run several times. Raises ``StoreBusy``
        after the last attempt."""
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        delay = self._retry_delay
        for attempt in range(1, attempts + 1):
            try:
                async with self.transaction() as tx:
                    return await fn(tx)
            except StoreBusy:
                if attempt == attempts:
                    raise
                log.info("database busy, attempt %d of %d; retrying", attempt, attempts)
                await asyncio.sleep(delay * random.uniform(0.5, 1.5))
                delay = min(delay * 2, self._max_retry_delay)
        raise AssertionError("unreachable")

    @asynccontextmanager
    async def _connection(self, *, readonly: bool) -> AsyncIterator[AsyncConnection]:
        try:
            async with self.engine.connect() as conn:
                if is_sqlite(self.engine):
                    # The driver is in autocommit mode (see engine.py): this
                    # BEGIN is the real one, and IMMEDIATE queues writers on
                    # the busy timeout instead of deadlocking on lock upgrade.
                    await conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")
                else:
                    await conn.begin()
                try:
                    yield conn
                except BaseException:
                    await conn.rollback()
                    raise
                await conn.commit()
        except DBAPIError as exc:
            if is_busy(exc):
                raise StoreBusy("the database is busy (locked or in conflict)") from exc
            raise
        except StatementError as exc:
            # A value refused before reaching the database (e.g. a naive
            # datetime): the caller's bug, reported as the plain ValueError.
            if isinstance(exc.orig, ValueError):
                raise exc.orig from None
            raise
