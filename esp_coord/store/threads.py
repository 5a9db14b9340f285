"""What both stores (SQL and memory) do the same way around their transactions:
retry a whole unit of work while busy, and keep a batch's transaction on a
thread of its own."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import random
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import AbstractContextManager
from typing import Any, Generic, Protocol, TypeVar

from esp_coord.store.errors import StoreBusy

T = TypeVar("T")
log = logging.getLogger(__name__)


class _Savepoints(Protocol):
    def savepoint(self) -> AbstractContextManager[None]: ...


U = TypeVar("U", bound=_Savepoints)


async def retrying(attempt: Callable[[], Awaitable[T]], *, attempts: int, delay: float,
                   max_delay: float) -> T:
    """``attempt()`` again while it raises ``StoreBusy``, at most ``attempts``
    times, with exponential backoff and jitter; the last ``StoreBusy`` is raised."""
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    for number in range(1, attempts + 1):
        try:
            return await attempt()
        except StoreBusy:
            if number == attempts:
                raise
            log.info("store busy, attempt %d of %d; retrying", number, attempts)
            await asyncio.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 2, max_delay)
    raise AssertionError("unreachable")


def in_executor(executor: Executor, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
    """``fn(*args)`` in one of the store's threads, in the caller's context (as
    asyncio.to_thread does): the handlers run there, and their log lines say
    whose team they are about."""
    return asyncio.get_running_loop().run_in_executor(
        executor, contextvars.copy_context().run, fn, *args)


class ThreadBatch(Generic[U]):
    """One transaction over several trips (``run``), each in a savepoint: a
    failing ``fn`` undoes only its own work. Opened on the first ``run``;
    ``commit`` ends it (the next ``run`` opens another), ``rollback`` drops
    what was not committed. ``opened_at`` (``time.monotonic``) tells how long
    the transaction has been open, None when none is.

    The batch has a thread of its own: writers queued on the lock it holds
    may fill the store's threads, and it must still get on to its commit.
    A store says how a transaction opens (``_open``) and ends (``_finish``)."""

    def __init__(self, thread_name: str) -> None:
        # One unit of work for the whole transaction: the SQL one remembers
        # the audit head it wrote last (see AuditOps.audit).
        self._tx: U | None = None
        self._thread = ThreadPoolExecutor(1, thread_name_prefix=thread_name)
        self.opened_at: float | None = None

    def _open(self) -> U:
        raise NotImplementedError

    def _finish(self, tx: U, commit: bool) -> None:
        raise NotImplementedError

    async def _in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        return await in_executor(self._thread, fn, *args)

    async def run(self, fn: Callable[[U], T]) -> T:
        return await self._in_thread(self._run, fn)

    def _run(self, fn: Callable[[U], T]) -> T:
        if self._tx is None:
            self._tx = self._open()
            self.opened_at = time.monotonic()
        with self._tx.savepoint():
            return fn(self._tx)

    async def commit(self) -> None:
        await self._in_thread(self._end, True)

    async def rollback(self) -> None:
        await self._in_thread(self._end, False)

    def close(self) -> None:
        """Let the batch's thread go (after the last commit or rollback)."""
        self._thread.shutdown(wait=False)

    def _end(self, commit: bool) -> None:
        tx, self._tx, self.opened_at = self._tx, None, None
        if tx is not None:
            self._finish(tx, commit)

