"""PostgreSQL specifics: a real deadlock is retried, not dropped."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest

from esp_coord.crypto import Keyring
from esp_coord.store import Store, StoreBusy, Tx
from tests.support.store import Backend

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.parametrize("backend", ["postgresql"], indirect=True),
]


@pytest.fixture
async def pg_store(backend: Backend) -> AsyncIterator[Store]:
    # PostgreSQL only: SQLite's BEGIN IMMEDIATE cannot deadlock.
    async with AsyncExitStack() as stack:
        store = backend.store(Keyring.generate(), retry_delay=0.01)
        await store.start(stack)
        yield store


async def _crossing(store: Store, first: str, second: str, barrier: threading.Barrier,
                    attempts: list[str], *, budget: int) -> tuple[int, int]:
    def work(tx: Tx) -> tuple[int, int]:
        attempts.append(first)
        # Short deadlock detection keeps the test fast (superuser setting:
        # the fixture's roles are superusers under trust auth).
        tx.connection.exec_driver_sql("SET LOCAL deadlock_timeout = '50ms'")
        a = tx.next_number(first, 2026)
        if len(attempts) <= 2:
            barrier.wait()  # both hold their first row lock: cross now
        b = tx.next_number(second, 2026)
        return a, b

    return await store.run(work, attempts=budget)


async def test_deadlock_is_retried(pg_store: Store) -> None:
    for kind in ("A", "B"):
        await pg_store.run(lambda tx, k=kind: tx.next_number(k, 2026))
    barrier = threading.Barrier(2, timeout=30)
    attempts: list[str] = []
    one, two = await asyncio.gather(
        _crossing(pg_store, "A", "B", barrier, attempts, budget=5),
        _crossing(pg_store, "B", "A", barrier, attempts, budget=5),
    )
    assert len(attempts) == 3, "exactly one side was chosen as victim and retried"
    assert sorted([one[0], two[1]]) == [2, 3] and sorted([one[1], two[0]]) == [2, 3]


async def test_deadlock_with_no_retry_budget_raises_store_busy(pg_store: Store) -> None:
    for kind in ("A", "B"):
        await pg_store.run(lambda tx, k=kind: tx.next_number(k, 2026))
    barrier = threading.Barrier(2, timeout=30)
    attempts: list[str] = []
    results = await asyncio.gather(
        _crossing(pg_store, "A", "B", barrier, attempts, budget=1),
        _crossing(pg_store, "B", "A", barrier, attempts, budget=1),
        return_exceptions=True,
    )
    assert sum(isinstance(r, StoreBusy) for r in results) == 1
    assert sum(isinstance(r, tuple) for r in results) == 1
