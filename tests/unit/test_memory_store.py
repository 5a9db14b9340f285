"""The memory store beyond the shared contract tests (tests/integration/test_store*.py,
``memory`` backend): conformance with ``Tx`` and the ports, its transactions'
isolation, and verification of an audit chain tampered with in memory."""

from __future__ import annotations

import inspect
from contextlib import AsyncExitStack
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import pytest

from esp_coord import ports
from esp_coord.store import Store, StoreBusy, StoreError, Tx
from esp_coord.store.audit import GENESIS, record_hash
from esp_coord.store.memory import MemoryBatch, MemoryData, MemoryStore, MemoryTx
from esp_coord.store.transaction import Batch

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
ANA = "ana.costa@esp-valdelorge.mssante.test"


def _public_methods(cls: type) -> dict[str, Any]:
    return {name: member for name, member in inspect.getmembers(cls, inspect.isfunction)
            if not name.startswith("_")}


def _protocol_members(protocol: type) -> set[str]:
    """The names a protocol declares (methods, properties, attributes), its bases' too."""
    names: set[str] = set()
    for klass in protocol.__mro__:
        if klass in (Protocol, object) or not getattr(klass, "_is_protocol", False):
            continue
        names |= {n for n in vars(klass) if not n.startswith("_")}
        names |= set(getattr(klass, "__annotations__", {}))
    return names


def _shape(fn: Any) -> list[tuple[str, Any, Any]]:
    """Parameter names, kinds and defaults: what a caller relies on."""
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


def test_every_public_method_of_tx_is_on_memory_tx_with_the_same_signature() -> None:
    sql, memory = _public_methods(Tx), _public_methods(MemoryTx)
    assert set(sql) == set(memory)
    for name, method in sql.items():
        assert inspect.signature(memory[name]) == inspect.signature(method), name
    # Beyond methods, Tx has only its SQL connection.
    extra = {n for n in dir(Tx) if not n.startswith("_")} - set(sql)
    assert extra == {"connection"}
    assert not {n for n in dir(MemoryTx) if not n.startswith("_")} - set(memory)


@pytest.mark.parametrize(("protocol", "implementations"), [
    (ports.UnitOfWork, (Tx, MemoryTx)),
    (ports.StorePort, (Store, MemoryStore)),
    (ports.BatchPort, (Batch, MemoryBatch)),
], ids=["UnitOfWork", "StorePort", "BatchPort"])
def test_both_stores_have_every_member_of_the_ports(protocol: type,
                                                   implementations: tuple[type, ...]) -> None:
    names = _protocol_members(protocol)
    assert names, protocol
    for cls in implementations:
        for name in names:
            declared = getattr(protocol, name, None)
            if name in getattr(protocol, "__annotations__", {}) and declared is None:
                continue  # an attribute set by __init__ (BatchPort.opened_at)
            assert hasattr(cls, name), f"{cls.__name__} lacks {name}"
            if inspect.isfunction(declared):
                ours = getattr(cls, name)
                assert _shape(ours) == _shape(declared), f"{cls.__name__}.{name}"


def test_batches_have_opened_at() -> None:
    batch = MemoryStore().batch()
    assert "opened_at" in _protocol_members(ports.BatchPort) and batch.opened_at is None
    batch.close()


async def test_a_readonly_transaction_reads_a_snapshot_and_cannot_write_over_a_newer_one(
        ) -> None:
    async with AsyncExitStack() as stack:
        store = MemoryStore(busy_timeout=0.05)
        await store.start(stack)
        async with store.transaction(readonly=True) as reader:
            assert await store.run(lambda tx: tx.next_number("PPS", 2026)) == 1
            assert reader.quarantine_count() == 0
            assert reader.outbox_stats()["pending"] == 0
            with pytest.raises(StoreBusy):
                reader.next_number("PPS", 2026)  # its snapshot is no longer the latest
        # A readonly transaction may still write while it is the latest (SQLite's upgrade).
        async with store.transaction(readonly=True) as tx:
            assert tx.next_number("PPS", 2026) == 2
        assert await store.run(lambda tx: tx.next_number("PPS", 2026), readonly=True) == 3


async def test_a_held_lock_is_busy_then_retried_and_an_ended_tx_is_refused() -> None:
    async with AsyncExitStack() as stack:
        store = MemoryStore(busy_timeout=0.01, retry_delay=0.01)
        await store.start(stack)
        batch = store.batch()
        try:
            kept = await batch.run(lambda tx: tx)
            assert batch.opened_at is not None
            with pytest.raises(StoreBusy):
                await store.run(lambda tx: tx.next_number("PPS", 2026), attempts=2)
            await batch.commit()
        finally:
            batch.close()
        assert not store.data.lock.locked()
        with pytest.raises(StoreError, match="ended"):
            kept.next_number("PPS", 2026)
        assert await store.run(lambda tx: tx.next_number("PPS", 2026)) == 1


async def test_a_batch_closed_without_commit_rolls_back_and_lets_the_lock_go() -> None:
    async with AsyncExitStack() as stack:
        store = MemoryStore()
        await store.start(stack)
        batch = store.batch()
        await batch.run(lambda tx: tx.next_number("PPS", 2026))
        batch.close()
        assert not store.data.lock.locked()
        assert await store.run(lambda tx: tx.next_number("PPS", 2026)) == 1


async def test_not_started_and_started_twice_are_refused() -> None:
    store = MemoryStore()
    with pytest.raises(StoreError, match="not started"):
        await store.run(lambda tx: None)
    async with AsyncExitStack() as stack:
        await store.start(stack)
        with pytest.raises(StoreError, match="already started"):
            await store.start(stack)


async def _chain(n: int) -> MemoryStore:
    store = MemoryStore(data=MemoryData())
    async with AsyncExitStack() as stack:
        await store.start(stack)
        for i in range(n):
            await store.run(lambda tx, i=i: tx.audit(ANA, "status", "PPS-2026-0001", None,
                                                     f"version {i}", T0 + timedelta(minutes=i)))
    return store


async def _verify(store: MemoryStore, **kwargs: Any) -> Any:
    async with AsyncExitStack() as stack:
        await store.start(stack)
        async with store.transaction(readonly=True) as tx:
            return tx.verify_audit(**kwargs)


def _tamper(store: MemoryStore, records: list[Any] | None = None,
            head: tuple[int, str] | None = None) -> None:
    """Rewrite the committed tables as someone with access to the process could."""
    tables = dict(store.data.tables)
    if records is not None:
        tables["audit"] = records
    if head is not None:
        tables["audit_head"] = head
    store.data.tables = tables


async def test_memory_audit_chain_verifies_like_the_sql_one() -> None:
    store = await _chain(5)
    report = await _verify(store)
    records = store.data.tables["audit"]
    assert report.intact and report.head == (5, records[-1].hash)
    assert records[0].hash == record_hash(id=1, at=T0, actor=ANA, action="status",
                                          ref="PPS-2026-0001", source_message_id=None,
                                          detail="version 0", prev_hash=GENESIS)
    noted = report.head

    edited = [replace(r, detail="version 99") if r.id == 3 else r for r in records]
    _tamper(store, edited)
    broken = (await _verify(store)).broken
    assert broken is not None and broken.id == 3 and "edited" in broken.reason

    _tamper(store, [r for r in records if r.id != 2])
    broken = (await _verify(store)).broken
    assert broken is not None and broken.id == 3 and "record 2 is missing" in broken.reason

    _tamper(store, records[:4])
    broken = (await _verify(store)).broken
    assert broken is not None and "last records were deleted" in broken.reason

    slipped = replace(records[-1], id=6, prev_hash=records[-1].hash)
    _tamper(store, [*records, slipped])
    broken = (await _verify(store)).broken
    assert broken is not None and broken.id == 6 and "beyond the head" in broken.reason

    _tamper(store, records, head=(5, GENESIS))
    broken = (await _verify(store)).broken
    assert broken is not None and "head's hash" in broken.reason

    _tamper(store, records, head=noted)
    missing = await _verify(store, anchor=(9, noted[1]))
    assert missing.broken is not None and "noted earlier, is missing" in missing.broken.reason
