"""Fixtures of the unit tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest

from esp_coord.store.memory import MemoryStore


@pytest.fixture
async def store() -> AsyncIterator[MemoryStore]:
    """The in-memory store (the store port without a database), started; a
    test that leaves a transaction open fails."""
    async with AsyncExitStack() as stack:
        store = MemoryStore()
        await store.start(stack)
        yield store
        assert not store.data.lock.locked(), "a transaction was left open"
