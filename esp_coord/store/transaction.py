"""The store and its unit of work.

``Store`` owns a synchronous SQLAlchemy engine (created at ``start``, never at
import time) and a few database threads. Every piece of work is one call
into a database thread, one trip: ``await store.run(fn)`` runs the
synchronous ``fn(tx)`` there inside one transaction, so the dozen statements
of a mail's decision cost one hand-off between the event loop and the
database instead of one per statement. ``Store.run`` retries a whole
transaction when the database is busy, so a locked SQLite file or a
PostgreSQL serialization failure delays work but never drops it.

``Store.batch()`` keeps one transaction open over several trips, each in its
own savepoint: the mailroom's batches (see ``processing``).

``start`` refuses a key file other than the one that wrote the database
(``KeyMismatch``, see keycheck.py) before any migration or write, and turns a
database that cannot be opened into ``StoreUnavailable``: both carry a plain
message for the operator.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from esp_coord.crypto import Keyring
from esp_coord.store.audit import AuditOps
from esp_coord.store.documents import DocumentOps
from esp_coord.store.engine import is_sqlite, make_engine, translated, upgrade_to_head
from esp_coord.store.errors import StoreError, StoreUnavailable
from esp_coord.store.keycheck import check_keys, describe_database, reason, record_keys
from esp_coord.store.mail import MailOps
from esp_coord.store.outbox import OutboxOps
from esp_coord.store.received import ReceivedOps
from esp_coord.store.reminders import ReminderOps
from esp_coord.store.teams import DEFAULT_TEAM, Fence, enter_team
from esp_coord.store.threads import ThreadBatch, in_executor, retrying

if TYPE_CHECKING:
    from esp_coord.store.database import Database

T = TypeVar("T")
log = logging.getLogger(__name__)


class Tx(MailOps, OutboxOps, DocumentOps, AuditOps, ReminderOps, ReceivedOps):
    """One open transaction: dedup, outbox, numbering, documents.

    Valid only inside the ``Store.run`` callback (or ``Store.transaction()``
    block, ``Batch.run`` callback) that produced it, in that thread.
    """

    __slots__ = ()

    @property
    def connection(self) -> Connection:
        """The underlying connection, for tests and one-off maintenance."""
        return self._conn


class Batch(ThreadBatch[Tx]):
    """The SQL store's batch (see ``ThreadBatch``)."""

    def __init__(self, store: Store) -> None:
        super().__init__("esp-store-batch")
        self._store = store

    def _run(self, fn: Callable[[Tx], T]) -> T:
        with translated():
            return super()._run(fn)

    def _open(self) -> Tx:
        return Tx(self._store._begin(readonly=False), self._store.keyring)

    def _finish(self, tx: Tx, commit: bool) -> None:
        conn = tx.connection
        try:
            with translated():
                self._store._commit(conn) if commit else conn.rollback()
        finally:
            conn.close()


class Store:
    """Encrypted storage on SQLite or PostgreSQL (psycopg).

    ``busy_timeout`` (seconds) is how long one SQLite statement waits for a
    lock before the attempt counts as busy; ``engine_options`` go to
    ``create_engine`` (e.g. ``connect_args``). ``threads``: the database
    threads, so many trips at once (the mailroom's open batch, the delivery,
    the reminders); SQLite still has one writer at a time.

    ``check_keys=False`` skips the key check and records no fingerprint: only
    for readers of what is stored in clear (the audit trail), whose keyring
    never decrypts nor encrypts anything.

    ``team``: whose rows this store reads and writes (``store.teams``);
    ``fence``: the lease each commit must still hold, on a platform.
    ``shared``: a worker's ``Database`` serving several teams: the store uses
    its engine and threads (and its migrations) instead of its own.
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
        threads: int = 4,
        team: str = DEFAULT_TEAM,
        fence: Fence | None = None,
        shared: Database | None = None,
    ) -> None:
        self._url = url
        self._keyring = keyring
        self._busy_timeout = busy_timeout
        self._retry_delay = retry_delay
        self._max_retry_delay = max_retry_delay
        self._engine_options = dict(engine_options or {})
        self._check_keys = check_keys
        self._threads = threads
        self._team = team
        self._fence = fence
        self._shared = shared
        self._engine: Engine | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._pending: set[asyncio.Future[Any]] = set()

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise StoreError("the store is not started (call Store.start first)")
        return self._engine

    @property
    def keyring(self) -> Keyring:
        return self._keyring

    @property
    def team(self) -> str:
        return self._team

    async def start(self, stack: AsyncExitStack) -> None:
        """Create the engine, check the keyring against the database, bring
        the schema to the latest migration, record the keyring's new key
        fingerprints, and register disposal on ``stack``. One transaction:
        a refusal (``KeyMismatch``) or a failure changes nothing.

        Raises ``KeyMismatch``, ``StoreUnavailable`` or ``StoreBusy``."""
        if self._engine is not None:
            raise StoreError("the store is already started")
        database = describe_database(self._url)
        stack.push_async_callback(self.close)
        try:
            if self._shared is not None:
                self._engine, self._executor = self._shared.engine, self._shared.executor
            else:
                self._executor = ThreadPoolExecutor(self._threads,
                                                    thread_name_prefix="esp-store")
                self._engine = make_engine(
                    self._url, busy_timeout=self._busy_timeout, options=self._engine_options
                )
            await self._in_thread(self._start, database)
        except BaseException as exc:
            await self.close()  # a refused or failed start leaves no connection open
            if isinstance(exc, (DBAPIError, OSError)):
                raise StoreUnavailable(
                    f"cannot open the database {database}: {reason(exc)}") from exc
            raise

    def _start(self, database: str) -> None:
        conn = self._begin(readonly=False)
        try:
            missing = check_keys(conn, self._keyring, database) if self._check_keys else []
            if self._shared is None:  # a shared database migrates once, for all teams
                upgrade_to_head(conn)
            if self._check_keys:
                record_keys(conn, self._keyring, missing, database)
            conn.commit()
        finally:
            conn.close()

    async def close(self) -> None:
        """Wait for the work in flight, then close every connection. A trip
        whose caller was cancelled still runs to its commit or rollback in its
        thread: it must be over before the store is said closed."""
        engine, self._engine = self._engine, None
        executor, self._executor = self._executor, None
        if self._shared is not None:
            # The engine and threads serve other teams: wait for our own trips.
            if self._pending:
                await asyncio.wait(set(self._pending))
            return
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, wait=True)
        if engine is not None:
            engine.dispose()

    async def _in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        if self._executor is None:
            raise StoreError("the store is not started (call Store.start first)")
        future = in_executor(self._executor, fn, *args)
        self._pending.add(future)
        future.add_done_callback(self._pending.discard)
        return await future

    def _begin(self, *, readonly: bool) -> Connection:
        """A connection with its transaction begun (in the calling thread)."""
        conn = self.engine.connect()
        try:
            if is_sqlite(self.engine):
                # The driver is in autocommit mode (see engine.py): this
                # BEGIN is the real one, and IMMEDIATE queues writers on
                # the busy timeout instead of deadlocking on lock upgrade.
                conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")
            else:
                conn.begin()
            enter_team(conn, self._team)
        except BaseException:
            conn.close()
            raise
        return conn

    def _commit(self, conn: Connection) -> None:
        """Commit, if this worker still holds the team's lease (``Fence``)."""
        if self._fence is not None:
            try:
                self._fence.check(conn)
            except BaseException:
                conn.rollback()
                raise
        conn.commit()

    @contextmanager
    def _unit(self, readonly: bool) -> Iterator[Tx]:
        """One transaction in the calling thread: commit on clean exit,
        rollback on exception."""
        with translated():
            conn = self._begin(readonly=readonly)
            try:
                yield Tx(conn, self._keyring)
            except BaseException:
                conn.rollback()
                conn.close()
                raise
            try:
                self._commit(conn)
            finally:
                conn.close()

    def _transact(self, fn: Callable[[Tx], T], readonly: bool) -> T:
        with self._unit(readonly) as tx:
            return fn(tx)

    @asynccontextmanager
    async def transaction(self, *, readonly: bool = False) -> AsyncIterator[Tx]:
        """One transaction in the calling thread. For maintenance commands and
        tests, whose few statements may block the event loop; the service goes
        through ``run``.

        ``readonly`` only lightens locking on SQLite (a deferred BEGIN shares
        the file with the writer); it does not forbid writes.
        """
        with self._unit(readonly) as tx:
            yield tx

    async def run(self, fn: Callable[[Tx], T], *, attempts: int = 5,
                  readonly: bool = False) -> T:
        """Run the synchronous ``fn`` in a transaction in a database thread,
        again from the start while the database is busy, with exponential
        backoff and jitter. ``fn`` must touch nothing but the transaction: it
        may run several times. Raises ``StoreBusy`` after the last attempt."""
        return await retrying(lambda: self._in_thread(self._transact, fn, readonly),
                              attempts=attempts, delay=self._retry_delay,
                              max_delay=self._max_retry_delay)

    def batch(self) -> Batch:
        """A transaction kept open over several trips (see ``Batch``)."""
        return Batch(self)
