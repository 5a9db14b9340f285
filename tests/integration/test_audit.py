"""The audit chain on SQLite and PostgreSQL: append, verify, and every kind of tampering.

The tampering is done by SQL, so those tests are SQL only; the rest runs in
memory too (tests/unit/test_memory_store.py tampers with the memory tables)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import ColumnElement, delete, select, update

from esp_coord.store import Store, Tx
from esp_coord.store.audit import GENESIS, record_hash
from esp_coord.store.tables import audit_head, audit_log
from tests.support.store import contract_backend  # noqa: F401 - the backend fixture, memory too

T0 = datetime(2026, 11, 23, 9, 12, 44, 123456, tzinfo=UTC)
ANA = "ana.costa@esp-valdelorge.mssante.test"
JULIEN = "julien.marie@infirmier.mssante.test"


async def fill(store: Store, n: int) -> None:
    for i in range(n):
        ref = f"PPS-2026-{i % 3 + 1:04d}"
        await store.run(lambda tx, i=i, ref=ref: tx.audit(
            JULIEN if i % 2 else ANA, "status", ref, f"<m{i}@x.test>", f"version {i}",
            T0 + timedelta(minutes=i)))


async def verify(store: Store, **kwargs):  # type: ignore[no-untyped-def]
    async with store.transaction(readonly=True) as tx:
        return tx.verify_audit(**kwargs)


async def tamper(store: Store, statement) -> None:  # type: ignore[no-untyped-def]
    async with store.transaction() as tx:
        tx.connection.execute(statement)


async def test_empty_chain_is_intact(store: Store) -> None:
    report = await verify(store)
    assert report.intact and report.records == 0 and report.head == (0, GENESIS)


async def test_append_chains_each_record_to_the_previous(store: Store) -> None:
    await fill(store, 5)
    async with store.transaction(readonly=True) as tx:
        records = tx.audit_records()
        plan_two = tx.audit_records("PPS-2026-0002")
        by_julien = tx.audit_records(actor="Julien.Marie@infirmier.mssante.test")
    assert [r.id for r in records] == [1, 2, 3, 4, 5]
    assert records[0].prev_hash == GENESIS
    for before, after in zip(records, records[1:], strict=False):
        assert after.prev_hash == before.hash
    first = records[0]
    assert first.at == T0 and first.actor == ANA and first.action == "status"
    assert first.source_message_id == "<m0@x.test>" and first.detail == "version 0"
    assert first.hash == record_hash(id=1, at=T0, actor=ANA, action="status",
                                     ref="PPS-2026-0001", source_message_id="<m0@x.test>",
                                     detail="version 0", prev_hash=GENESIS)
    assert [r.id for r in plan_two] == [2, 5]
    assert [r.id for r in by_julien] == [2, 4]
    report = await verify(store)
    assert report.intact and report.records == 5 and report.head == (5, records[-1].hash)


async def test_time_in_another_zone_hashes_as_utc(store: Store) -> None:
    paris = T0.astimezone(timezone(timedelta(hours=1)))
    await store.run(lambda tx: tx.audit(ANA, "list", None, None, "2 plans", paris))
    report = await verify(store)
    assert report.intact and report.records == 1


async def test_audit_rolls_back_with_its_transaction(store: Store) -> None:
    await fill(store, 2)

    def fails(tx: Tx) -> None:
        tx.audit(ANA, "close", "PPS-2026-0001", None, "version 3", T0)
        raise RuntimeError("the mail's handler failed")

    with pytest.raises(RuntimeError):
        await store.run(fails)
    await fill(store, 1)
    report = await verify(store)
    assert report.intact and report.records == 3


@pytest.mark.sql_only("tampers with the audit tables by SQL")
async def test_an_edited_record_is_named(store: Store) -> None:
    await fill(store, 6)
    await tamper(store, update(audit_log).where(audit_log.c.id == 3)
                 .values(actor="someone.else@x.mssante.test"))
    report = await verify(store)
    assert report.broken is not None and report.broken.id == 3
    assert "edited" in report.broken.reason and report.records == 2


@pytest.mark.sql_only("tampers with the audit tables by SQL")
async def test_an_edit_with_its_hash_recomputed_breaks_the_next_link(store: Store) -> None:
    await fill(store, 6)
    async with store.transaction() as tx:
        row = (tx.connection.execute(select(audit_log).where(audit_log.c.id == 3))).one()
        forged = record_hash(id=3, at=row.at, actor=row.actor, action=row.action, ref=row.ref,
                             source_message_id=row.source_message_id, detail="version 99",
                             prev_hash=row.prev_hash)
        tx.connection.execute(update(audit_log).where(audit_log.c.id == 3)
                                    .values(detail="version 99", hash=forged))
    report = await verify(store)
    assert report.broken is not None and report.broken.id == 4
    assert "does not follow record 3" in report.broken.reason


@pytest.mark.sql_only("tampers with the audit tables by SQL")
@pytest.mark.parametrize(("n", "deleted", "broken", "reason", "records"), [
    (6, audit_log.c.id == 4, 5, "record 4 is missing", 3),
    (3, audit_log.c.id == 1, 2, "record 1 is missing", 0),
    # Nothing follows the gap: the head, ahead of the last row, tells.
    (6, audit_log.c.id >= 5, 5, "last records were deleted", 4),
], ids=["middle", "first", "last-by-the-head"])
async def test_a_deleted_record_is_detected(store: Store, n: int, deleted: ColumnElement[bool],
                                            broken: int, reason: str, records: int) -> None:
    await fill(store, n)
    await tamper(store, delete(audit_log).where(deleted))
    report = await verify(store)
    assert report.broken is not None and report.broken.id == broken
    assert reason in report.broken.reason
    assert report.records == records


@pytest.mark.sql_only("tampers with the audit tables by SQL")
async def test_reordered_records_are_detected(store: Store) -> None:
    await fill(store, 6)
    # Swap the positions of records 2 and 3 (their contents stay consistent).
    await tamper(store, update(audit_log).where(audit_log.c.id == 2).values(id=-2))
    await tamper(store, update(audit_log).where(audit_log.c.id == 3).values(id=2))
    await tamper(store, update(audit_log).where(audit_log.c.id == -2).values(id=3))
    report = await verify(store)
    assert report.broken is not None and report.broken.id == 2


@pytest.mark.sql_only("tampers with the audit tables by SQL")
async def test_a_rewritten_chain_is_caught_by_a_noted_anchor(store: Store) -> None:
    await fill(store, 4)
    noted = (await verify(store)).head
    # Someone with write access rewrites record 2 and recomputes everything after.
    async with store.transaction() as tx:
        rows = (tx.connection.execute(select(audit_log).order_by(audit_log.c.id))).all()
        prev = GENESIS
        for row in rows:
            detail = "version 99" if row.id == 2 else row.detail
            digest = record_hash(id=row.id, at=row.at, actor=row.actor, action=row.action,
                                 ref=row.ref, source_message_id=row.source_message_id,
                                 detail=detail, prev_hash=prev)
            tx.connection.execute(update(audit_log).where(audit_log.c.id == row.id)
                                        .values(detail=detail, prev_hash=prev, hash=digest))
            prev = digest
        tx.connection.execute(update(audit_head).values(hash=prev))
    assert (await verify(store)).intact, "the limit: a full rewrite is self-consistent"
    report = await verify(store, anchor=noted)
    assert report.broken is not None and report.broken.id == 4
    assert "noted earlier" in report.broken.reason
    # An anchor beyond the end means records were removed.
    missing = await verify(store, anchor=(9, noted[1]))
    assert missing.broken is not None and "missing" in missing.broken.reason


async def test_refuses_patient_sized_details_and_naive_times(store: Store) -> None:
    async with store.transaction() as tx:
        with pytest.raises(ValueError):
            tx.audit(ANA, "status", None, None, "x" * 201, T0)
        with pytest.raises(ValueError):
            tx.audit(ANA, "status", None, None, "", T0.replace(tzinfo=None))
        with pytest.raises(ValueError):
            tx.audit(ANA, "", None, None, "", T0)


async def test_concurrent_appends_keep_one_chain(store: Store) -> None:
    # Writers in parallel transactions (PostgreSQL: real concurrency on the
    # head lock; SQLite: queued on the write lock), some rolled back.
    async def one(i: int) -> None:
        def work(tx: Tx) -> None:
            tx.audit(ANA, "status", f"PPS-2026-{i:04d}", None, f"n {i}", T0)
            time.sleep(0.001)  # the other writers get their turn
            if i % 5 == 0:
                raise LookupError("rolled back")
            tx.audit(JULIEN, "done", f"PPS-2026-{i:04d}", None, f"n {i}", T0)

        try:
            await store.run(work, attempts=20)
        except LookupError:
            pass

    await asyncio.gather(*(one(i) for i in range(1, 21)))
    report = await verify(store)
    assert report.intact, report.broken
    assert report.records == 2 * 16


@pytest.mark.sql_only("tampers with the audit tables by SQL")
async def test_a_record_slipped_in_after_the_head_is_detected(store: Store) -> None:
    await fill(store, 3)
    async with store.transaction() as tx:
        last = (tx.audit_records())[-1]
        forged = record_hash(id=4, at=T0, actor=ANA, action="status", ref="PPS-2026-0001",
                             source_message_id=None, detail="", prev_hash=last.hash)
        tx.connection.execute(audit_log.insert().values(
            id=4, at=T0, actor=ANA, action="status", ref="PPS-2026-0001",
            source_message_id=None, detail="", prev_hash=last.hash, hash=forged))
    report = await verify(store)
    assert report.broken is not None and report.broken.id == 4
    assert "beyond the head" in report.broken.reason


async def test_verifying_while_the_service_appends_never_cries_wolf(store: Store) -> None:
    await fill(store, 3)
    stop = asyncio.Event()

    async def append() -> None:
        for i in range(30):
            await store.run(lambda tx, i=i: tx.audit(JULIEN, "done", "PPS-2026-0001", None,
                                                     f"action {i}", T0), attempts=20)
        stop.set()

    async def check() -> list[bool]:
        seen = []
        while not stop.is_set():
            seen.append((await verify(store)).intact)
            await asyncio.sleep(0)
        return seen

    _, seen = await asyncio.gather(append(), check())
    assert seen and all(seen)
    assert (await verify(store)).records == 33


async def test_a_rolled_back_savepoint_gives_its_position_back(store: Store) -> None:
    async with store.transaction() as tx:
        tx.audit(ANA, "status", None, None, "one", T0)
        with pytest.raises(RuntimeError):
            with tx.savepoint():
                assert tx.audit(ANA, "status", None, None, "undone", T0) == 2
                raise RuntimeError("handler bug")
        assert tx.audit(ANA, "status", None, None, "two", T0) == 2
    report = await verify(store)
    assert report.intact and report.records == 2
    async with store.transaction(readonly=True) as tx:
        assert [r.detail for r in tx.audit_records(limit=5)] == ["one", "two"]
        assert [r.detail for r in tx.audit_records(limit=1)] == ["one"]


@pytest.mark.sql_only("moves the audit head by SQL under a transaction's cached head")
async def test_appends_in_one_transaction_survive_a_rolled_back_savepoint(store: Store) -> None:
    """A batch's mails share a transaction, each in a savepoint: the head the
    transaction remembers may have been rolled back, or moved by hand."""
    async with store.transaction() as tx:
        tx.audit(ANA, "status", None, None, "one", T0)
        with pytest.raises(RuntimeError):
            with tx.connection.begin_nested():
                assert tx.audit(ANA, "status", None, None, "undone", T0) == 2
                raise RuntimeError("handler bug")
        assert tx.audit(ANA, "status", None, None, "two", T0) == 2
        assert tx.audit(ANA, "status", None, None, "three", T0) == 3
        # Someone else's append (here by hand) moves the head under us.
        fields = {"id": 4, "at": T0, "actor": JULIEN, "action": "list", "ref": None,
                  "source_message_id": None, "detail": "x"}
        three = (tx.connection.execute(
            select(audit_head.c.hash))).scalar_one()
        digest = record_hash(**fields, prev_hash=three)
        tx.connection.execute(audit_log.insert().values(**fields, prev_hash=three,
                                                              hash=digest))
        tx.connection.execute(update(audit_head).values(seq=4, hash=digest))
        assert tx.audit(ANA, "status", None, None, "five", T0) == 5
    report = await verify(store)
    assert report.intact and report.records == 5
    async with store.transaction(readonly=True) as tx:
        assert [r.detail for r in tx.audit_records()] == ["one", "two", "three", "x",
                                                                 "five"]
