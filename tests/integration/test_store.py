"""Contract tests of the store: the same tests on SQLite, PostgreSQL and in memory."""

from __future__ import annotations

import asyncio
import contextvars
import importlib.util
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from esp_coord.crypto import DecryptionError, Keyring
from esp_coord.store import (
    AlreadyProcessed,
    ConflictError,
    OutboxStateError,
    Store,
    Tx,
    UnknownDocument,
)
from esp_coord.store.engine import MIGRATIONS
from esp_coord.store.tables import metadata
from tests.support.store import (  # noqa: F401 - contract_backend: the backend fixture, memory too
    Backend,
    call,
    contract_backend,
)

T0 = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
PLAN = {
    "patient": {"name": "MARTIN Jeanne", "ins": "248037505611878", "birth": "1948-03-07"},
    "problems": ["Chutes à répétition", "Diabète de type 2"],
}


async def test_dedup_is_unique_and_rolls_back_the_whole_mail(store: Store) -> None:
    async with store.transaction() as tx:
        assert tx.processed("k1") is None
        tx.record_processed(
            dedup_key="k1", message_id="<m1@x>", sender="a@x.fr", outcome="answered",
            folder="Traités", at=T0,
        )
    def again(tx: Tx) -> None:
        tx.enqueue(message_id="<answer-2@bot>", sender="bot@x", recipients=["a@x.fr"],
                         raw=b"second answer", at=T0)
        tx.record_processed(
            dedup_key="k1", message_id="<m1@x>", sender="a@x.fr", outcome="answered",
            folder="Traités", at=T0,
        )
    with pytest.raises(AlreadyProcessed):
        await store.run(again)
    async with store.transaction() as tx:
        record = tx.processed("k1")
        assert record is not None
        assert (record.message_id, record.sender, record.outcome, record.folder) == (
            "<m1@x>", "a@x.fr", "answered", "Traités")
        assert record.at == T0
        # The answer enqueued with the duplicate was rolled back with it.
        assert (tx.outbox_stats())["pending"] == 0
    with pytest.raises(ValueError):
        async with store.transaction() as tx:
            tx.record_processed(dedup_key="k2", message_id=None, sender="a", outcome="?",
                                      folder="x", at=T0)


async def test_quarantine_count(store: Store) -> None:
    async with store.transaction() as tx:
        for i, (outcome, hours) in enumerate(
            [("quarantined", 0), ("quarantined", 5), ("answered", 5), ("failed", 6)]
        ):
            tx.record_processed(dedup_key=f"q{i}", message_id=None, sender="u@x",
                                      outcome=outcome, folder="Q", at=T0 + timedelta(hours=hours))
    async with store.transaction(readonly=True) as tx:
        assert tx.quarantine_count() == 3
        assert tx.quarantine_count(since=T0 + timedelta(hours=1)) == 2


async def test_enqueue_is_idempotent_and_round_trips(store: Store) -> None:
    raw = b"Subject: PPS\r\n\r\nMARTIN Jeanne"
    async with store.transaction() as tx:
        first = tx.enqueue(message_id="<a@bot>", sender="bot@x", recipients=["p@x", "q@x"],
                                 raw=raw, at=T0, cause="k1")
        again = tx.enqueue(message_id="<a@bot>", sender="bot@x", recipients=["z@x"],
                                 raw=b"other", at=T0)
        assert first == again
    async with store.transaction() as tx:
        (item,) = tx.outbox_due(T0)
        assert (item.id, item.message_id, item.sender, item.recipients, item.raw, item.cause) == (
            first, "<a@bot>", "bot@x", ("p@x", "q@x"), raw, "k1")
        assert (item.status, item.attempts, item.created_at) == ("pending", 0, T0)
        assert tx.outbox_stats() == {"pending": 1, "sending": 0, "sent": 0, "failed": 0}


async def test_outbox_due_order_limit_and_not_before(store: Store) -> None:
    async with store.transaction() as tx:
        tx.enqueue(message_id="<late@b>", sender="b", recipients=["r"], raw=b"1",
                         at=T0, not_before=T0 + timedelta(hours=1))
        for i in range(3):
            tx.enqueue(message_id=f"<{i}@b>", sender="b", recipients=["r"], raw=b"x",
                             at=T0 + timedelta(seconds=10 - i))
    async with store.transaction() as tx:
        due = tx.outbox_due(T0 + timedelta(seconds=30))
        assert [i.message_id for i in due] == ["<2@b>", "<1@b>", "<0@b>"]  # oldest first
        assert [i.message_id for i in tx.outbox_due(T0 + timedelta(seconds=30), limit=1)] \
            == ["<2@b>"]
        later = tx.outbox_due(T0 + timedelta(hours=1))
        assert [i.message_id for i in later][-1] == "<late@b>"


async def test_outbox_state_machine(store: Store) -> None:
    item_id = await store.run(call(Tx.enqueue, message_id="<s@b>", sender="b",
                                   recipients=["r"], raw=b"x", at=T0))
    t1 = T0 + timedelta(minutes=1)
    await store.run(call(Tx.mark_sending, item_id, t1))
    async with store.transaction() as tx:
        assert tx.outbox_due(t1) == []
        (sending,) = tx.outbox_sending()
        assert (sending.id, sending.status, sending.last_attempt_at) == (item_id, "sending", t1)
    # Temporary failure: back to pending, due again only at next_attempt_at.
    retry_at = t1 + timedelta(minutes=5)
    await store.run(call(Tx.mark_retry, item_id, t1, error="421 try later",
                         next_attempt_at=retry_at))
    async with store.transaction() as tx:
        assert tx.outbox_due(retry_at - timedelta(seconds=1)) == []
        (again,) = tx.outbox_due(retry_at)
        assert (again.attempts, again.last_error, again.status) == (1, "421 try later", "pending")
    # A crash mid-send leaves it "sending"; sending it again is allowed.
    await store.run(call(Tx.mark_sending, item_id, retry_at))
    await store.run(call(Tx.mark_sending, item_id, retry_at))
    await store.run(call(Tx.mark_sent, item_id, retry_at))
    async with store.transaction() as tx:
        assert tx.outbox_stats() == {"pending": 0, "sending": 0, "sent": 1, "failed": 0}
        item = tx.outbox_item(item_id)
        assert item is not None and item.sent_at == retry_at
    # Sent is final: never sent twice; late reports change nothing.
    with pytest.raises(OutboxStateError, match="is sent"):
        await store.run(call(Tx.mark_sending, item_id, retry_at))
    await store.run(call(Tx.mark_retry, item_id, retry_at, error="late", next_attempt_at=retry_at))
    await store.run(call(Tx.mark_failed, item_id, retry_at, error="late"))
    async with store.transaction() as tx:
        item = tx.outbox_item(item_id)
        assert item is not None and (item.status, item.attempts) == ("sent", 1)
    # Permanent failure.
    other = await store.run(call(Tx.enqueue, message_id="<f@b>", sender="b", recipients=["r"],
                                 raw=b"x", at=T0))
    await store.run(call(Tx.mark_sending, other, t1))
    await store.run(call(Tx.mark_failed, other, t1, error="550 no such user"))
    async with store.transaction() as tx:
        failed = tx.outbox_item(other)
        assert failed is not None
        assert (failed.status, failed.attempts, failed.last_error) == (
            "failed", 1, "550 no such user")
        assert tx.outbox_due(t1 + timedelta(days=1)) == []
    with pytest.raises(OutboxStateError, match="is failed"):
        await store.run(call(Tx.mark_sending, other, t1))
    with pytest.raises(OutboxStateError, match="no outbox item"):
        await store.run(call(Tx.mark_sent, 999_999, t1))


async def test_confirm_delivered(store: Store) -> None:
    item_id = await store.run(call(Tx.enqueue, message_id="<w@bot>", sender="b",
                                   recipients=["r"], raw=b"x", at=T0))
    await store.run(call(Tx.mark_sending, item_id, T0))
    t1 = T0 + timedelta(seconds=3)
    assert await store.run(call(Tx.confirm_delivered, "<w@bot>", t1)) is True
    assert await store.run(call(Tx.confirm_delivered, "<unknown@bot>", t1)) is False
    async with store.transaction() as tx:
        item = tx.outbox_item(item_id)
        assert item is not None and (item.status, item.sent_at) == ("sent", t1)
        assert tx.outbox_sending() == []
    # A second sighting keeps the first delivery time.
    assert await store.run(call(Tx.confirm_delivered, "<w@bot>", t1 + timedelta(hours=1)))
    item = await store.run(call(Tx.outbox_item, item_id))
    assert item is not None and item.sent_at == t1


async def test_next_number_under_concurrency(store: Store) -> None:
    numbers = await asyncio.gather(
        *(store.run(call(Tx.next_number, "PPS", 2026), attempts=20) for _ in range(20))
    )
    assert sorted(numbers) == list(range(1, 21))
    assert await store.run(call(Tx.next_number, "PPS", 2027)) == 1
    assert await store.run(call(Tx.next_number, "RCP", 2026)) == 1
    # A rolled-back transaction gives its number back.
    with pytest.raises(RuntimeError):
        async with store.transaction() as tx:
            assert tx.next_number("PPS", 2026) == 21
            raise RuntimeError("handler failed")
    assert await store.run(call(Tx.next_number, "PPS", 2026)) == 21


async def test_optimistic_concurrency(store: Store) -> None:
    save = dict(kind="pps", ref="PPS-2026-0001", status="draft", at=T0)
    assert await store.run(call(Tx.save_document, data=PLAN, expected_version=None, **save)) == 1
    with pytest.raises(ConflictError) as info:
        await store.run(call(Tx.save_document, data={}, expected_version=None, **save))
    assert (info.value.expected, info.value.found) == (None, 1)
    changed = {**PLAN, "problems": ["Dénutrition"]}
    later = dict(save, status="active", at=T0 + timedelta(days=1))
    assert await store.run(call(Tx.save_document, data=changed, expected_version=1, **later)) == 2
    with pytest.raises(ConflictError) as info:
        await store.run(call(Tx.save_document, data={"stale": True}, expected_version=1, **later))
    assert (info.value.expected, info.value.found) == (1, 2)
    assert "MARTIN" not in str(info.value)
    with pytest.raises(ConflictError) as info:
        await store.run(call(Tx.save_document, kind="pps", ref="PPS-2026-0404", data={},
                             status="draft", expected_version=3, at=T0))
    assert info.value.found is None
    doc = await store.run(call(Tx.load_document, "pps", "PPS-2026-0001"))
    assert doc is not None
    assert (doc.version, doc.status, doc.data) == (2, "active", changed)
    assert (doc.created_at, doc.updated_at) == (T0, T0 + timedelta(days=1))
    assert await store.run(call(Tx.load_document, "pps", "PPS-2026-0404")) is None
    assert await store.run(call(Tx.load_document, "rcp", "PPS-2026-0001")) is None


async def test_blind_index_and_member_lookup(store: Store, keyring: Keyring) -> None:
    async with store.transaction() as tx:
        tx.save_document(kind="pps", ref="A", data=PLAN, status="active",
                               expected_version=None, at=T0,
                               blind={"ins": "248037505611878", "identity": "MARTIN|Jeanne"},
                               members=["Dr.House@mssante.fr ", "ide.blanc@mssante.fr"])
        tx.save_document(kind="pps", ref="B", data={"n": 2}, status="draft",
                               expected_version=None, at=T0,
                               blind={"ins": "190017512345678"},
                               members=["ide.blanc@mssante.fr"])
        tx.save_document(kind="rcp", ref="R1", data={}, status="planned",
                               expected_version=None, at=T0,
                               blind={"ins": "248037505611878"}, members=["dr.house@mssante.fr"])
    async with store.transaction(readonly=True) as tx:
        by_ins = tx.find_documents("pps", blind=("ins", "248037505611878"))
        assert [d.ref for d in by_ins] == ["A"]
        assert by_ins[0].members == frozenset({"dr.house@mssante.fr", "ide.blanc@mssante.fr"})
        assert [d.ref for d in tx.find_documents("pps", blind=("identity", "MARTIN|Jeanne"))
                ] == ["A"]
        # Index spaces are separate: an INS is not found under "identity".
        assert tx.find_documents("pps", blind=("identity", "248037505611878")) == []
        assert [d.ref for d in tx.find_documents("pps", member="IDE.Blanc@mssante.fr")] \
            == ["A", "B"]
        assert [d.ref for d in tx.find_documents("pps", member="dr.house@mssante.fr")] \
            == ["A"]
        assert [d.ref for d in tx.find_documents("pps", member="ide.blanc@mssante.fr",
                                                       status="draft")] == ["B"]
        assert [d.ref for d in tx.find_documents("pps")] == ["A", "B"]
        assert tx.find_documents("pps", member="nobody@x") == []
        # A document carries its indexes as digests, never the clear values.
        assert by_ins[0].blind == {
            ("ins", keyring.blind_index("248037505611878", purpose="ins")),
            ("identity", keyring.blind_index("MARTIN|Jeanne", purpose="identity"))}
    # An update replaces indexes and members.
    async with store.transaction() as tx:
        tx.save_document(kind="pps", ref="A", data=PLAN, status="active",
                               expected_version=1, at=T0, blind={"ins": "248037505611879"},
                               members=["ide.blanc@mssante.fr"])
    async with store.transaction(readonly=True) as tx:
        assert tx.find_documents("pps", blind=("ins", "248037505611878")) == []
        assert [d.ref for d in tx.find_documents("pps", blind=("ins", "248037505611879"))
                ] == ["A"]
        assert tx.find_documents("pps", member="dr.house@mssante.fr") == []



@pytest.mark.sql_only("the clear values are nowhere in the document_blind table")
async def test_only_digests_are_stored(store: Store, keyring: Keyring) -> None:
    async with store.transaction() as tx:
        tx.save_document(kind="pps", ref="A", data=PLAN, status="active",
                         expected_version=None, at=T0,
                         blind={"ins": "248037505611878", "identity": "MARTIN|Jeanne"})
        digests = (tx.connection.exec_driver_sql(
            "SELECT name, digest FROM document_blind")).all()
    assert ("ins", keyring.blind_index("248037505611878", purpose="ins")) in digests
    assert all("248037505611878" not in d and "MARTIN" not in d for _, d in digests)


@pytest.mark.sql_only("counts the SQL rows an update rewrites (an optimisation of Tx)")
async def test_an_update_given_the_loaded_document_rewrites_only_what_changed(
        store: Store, keyring: Keyring) -> None:
    def save(tx: Tx, version: int | None, ins: str, members: list[str],
             previous: object = None):  # type: ignore[no-untyped-def]
        return tx.save_document(kind="pps", ref="A", data=PLAN, status="active",
                                expected_version=version, at=T0, blind={"ins": ins},
                                members=members, previous=previous)

    def rows(tx: Tx) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
        blind = (tx.connection.exec_driver_sql(
            "SELECT name, digest FROM document_blind ORDER BY name")).all()
        members = (tx.connection.exec_driver_sql(
            "SELECT member FROM document_members ORDER BY member")).all()
        return [tuple(r) for r in blind], [tuple(r) for r in members]

    digest = keyring.blind_index("248037505611878", purpose="ins")
    other = keyring.blind_index("248037505611879", purpose="ins")
    async with store.transaction() as tx:
        save(tx, None, "248037505611878", ["Dr.House@mssante.fr"])
        loaded = tx.load_document("pps", "A")
        assert loaded is not None and loaded.blind == {("ins", digest)}
        assert loaded.members == {"dr.house@mssante.fr"}
        # Unchanged: nothing rewritten, all still there.
        save(tx, 1, "248037505611878", ["dr.house@mssante.fr"], loaded)
        assert rows(tx) == ([("ins", digest)], [("dr.house@mssante.fr",)])
        # A stale "previous" (another version) is not trusted: all rewritten.
        save(tx, 2, "248037505611879", ["ide.blanc@mssante.fr"], loaded)
        assert rows(tx) == ([("ins", other)], [("ide.blanc@mssante.fr",)])
        loaded = tx.load_document("pps", "A")
        assert loaded is not None and loaded.version == 3
        # Only the members changed, then only the index.
        save(tx, 3, "248037505611879", ["ide.blanc@mssante.fr", "x@mssante.fr"], loaded)
        assert rows(tx) == ([("ins", other)],
                                  [("ide.blanc@mssante.fr",), ("x@mssante.fr",)])
        loaded = tx.load_document("pps", "A")
        save(tx, 4, "248037505611878", ["ide.blanc@mssante.fr", "x@mssante.fr"], loaded)
        assert rows(tx) == ([("ins", digest)],
                                  [("ide.blanc@mssante.fr",), ("x@mssante.fr",)])


async def test_history(store: Store) -> None:
    async with store.transaction() as tx:
        tx.save_document(kind="pps", ref="H", data=PLAN, status="draft",
                               expected_version=None, at=T0)
        tx.add_history(kind="pps", ref="H", version=1, author="dr.house@mssante.fr",
                             source_message_id="<m1@x>", at=T0, change={"created": PLAN})
        tx.add_history(kind="pps", ref="H", version=2, author="ide.blanc@mssante.fr",
                             source_message_id=None, at=T0 + timedelta(hours=2),
                             change={"objective": "Marcher 10 minutes par jour"})
    entries = await store.run(call(Tx.history, "pps", "H"))
    assert [(e.version, e.author, e.source_message_id, e.at) for e in entries] == [
        (1, "dr.house@mssante.fr", "<m1@x>", T0),
        (2, "ide.blanc@mssante.fr", None, T0 + timedelta(hours=2)),
    ]
    assert entries[0].change == {"created": PLAN}
    assert entries[1].change == {"objective": "Marcher 10 minutes par jour"}
    assert await store.run(call(Tx.history, "pps", "other")) == []
    with pytest.raises(UnknownDocument):
        await store.run(call(Tx.add_history, kind="pps", ref="nope", version=1, author="a",
                             source_message_id=None, at=T0, change={}))


async def test_datetimes_are_aware_utc(store: Store) -> None:
    paris = timezone(timedelta(hours=1))
    local = datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=paris)
    async with store.transaction() as tx:
        tx.record_processed(dedup_key="tz", message_id=None, sender="a", outcome="ignored",
                                  folder="T", at=local)
        tx.save_document(kind="pps", ref="T", data={}, status="draft",
                               expected_version=None, at=local)
    async with store.transaction() as tx:
        record = tx.processed("tz")
        doc = tx.load_document("pps", "T")
    assert record is not None and doc is not None
    for value in (record.at, doc.created_at, doc.updated_at):
        assert value == local
        assert value.tzinfo is not None and value.utcoffset() == timedelta(0)
        assert value.hour == 8 and value.microsecond == 123456
    with pytest.raises(ValueError, match="naive"):
        async with store.transaction() as tx:
            tx.enqueue(message_id="<n@b>", sender="b", recipients=["r"], raw=b"x",
                             at=datetime(2026, 1, 1))


async def test_savepoints_nest_and_undo_only_their_own_writes(store: Store) -> None:
    def enqueue(tx: Tx, n: int) -> int:
        return tx.enqueue(message_id=f"<sp{n}@b>", sender="b", recipients=["r"], raw=b"x",
                          at=T0)

    async with store.transaction() as tx:
        assert tx.next_number("PPS", 2026) == 1
        enqueue(tx, 1)
        with tx.savepoint():
            assert tx.next_number("PPS", 2026) == 2
            tx.save_document(kind="pps", ref="S", data={"n": 1}, status="draft",
                             expected_version=None, at=T0)
            with pytest.raises(KeyError):
                with tx.savepoint():
                    assert tx.next_number("PPS", 2026) == 3
                    enqueue(tx, 2)
                    tx.save_document(kind="pps", ref="S", data={"n": 2}, status="active",
                                     expected_version=1, at=T0)
                    tx.record_processed(dedup_key="sp", message_id=None, sender="a",
                                        outcome="answered", folder="T", at=T0)
                    raise KeyError("inner")
            # The inner savepoint's writes are gone, the outer one's stay.
            doc = tx.load_document("pps", "S")
            assert doc is not None and (doc.version, doc.data) == (1, {"n": 1})
            assert tx.processed("sp") is None
            assert tx.outbox_stats()["pending"] == 1
        with pytest.raises(RuntimeError):
            with tx.savepoint():
                tx.record_processed(dedup_key="sp", message_id=None, sender="a",
                                    outcome="answered", folder="T", at=T0)
                raise RuntimeError("second")
        assert tx.next_number("PPS", 2026) == 3
        enqueue(tx, 3)
        tx.record_processed(dedup_key="sp", message_id=None, sender="a",
                            outcome="ignored", folder="T", at=T0)
    async with store.transaction(readonly=True) as tx:
        assert tx.outbox_stats()["pending"] == 2
        assert [i.message_id for i in tx.outbox_due(T0)] == ["<sp1@b>", "<sp3@b>"]
        record = tx.processed("sp")
        assert record is not None and record.outcome == "ignored"
        doc = tx.load_document("pps", "S")
        assert doc is not None and doc.version == 1


async def test_returned_data_is_a_copy(store: Store) -> None:
    async with store.transaction() as tx:
        tx.save_document(kind="pps", ref="C", data={"b": [1], "a": (2, 3)}, status="draft",
                         expected_version=None, at=T0)
        doc = tx.load_document("pps", "C")
        assert doc is not None and doc.data == {"a": [2, 3], "b": [1]}  # as JSON keeps it
        assert list(doc.data) == ["a", "b"]
        doc.data["b"].append(9)
        again = tx.load_document("pps", "C")
        assert again is not None and again.data == {"a": [2, 3], "b": [1]}
        with pytest.raises(TypeError):
            tx.save_document(kind="pps", ref="D", data={"when": T0}, status="draft",
                             expected_version=None, at=T0)


async def test_transaction_rolls_back_on_exception(store: Store) -> None:
    with pytest.raises(KeyError):
        async with store.transaction() as tx:
            tx.enqueue(message_id="<rb@b>", sender="b", recipients=["r"], raw=b"x", at=T0)
            raise KeyError("boom")
    assert (await store.run(call(Tx.outbox_stats)))["pending"] == 0


@pytest.mark.sql_only("encryption at rest: moves a token between rows by SQL")
async def test_encrypted_values_are_bound_to_their_row(store: Store) -> None:
    """A token moved to another row does not decrypt there."""
    async with store.transaction() as tx:
        tx.enqueue(message_id="<one@b>", sender="b", recipients=["r"], raw=b"one", at=T0)
        tx.enqueue(message_id="<two@b>", sender="b", recipients=["r"], raw=b"two", at=T0)
        tx.connection.exec_driver_sql(
            "UPDATE outbox SET raw_enc = (SELECT raw_enc FROM outbox WHERE message_id = '<one@b>')"
            " WHERE message_id = '<two@b>'"
        )
    with pytest.raises(DecryptionError):
        await store.run(call(Tx.outbox_due, T0))


async def test_a_second_store_on_the_same_database_sees_what_was_committed(
    store: Store, backend: Backend, keyring: Keyring
) -> None:
    await store.run(call(Tx.save_document, kind="pps", ref="P", data=PLAN, status="draft",
                         expected_version=None, at=T0))
    async with AsyncExitStack() as stack:
        second = backend.store(keyring)
        await second.start(stack)
        doc = await second.run(call(Tx.load_document, "pps", "P"))
        assert doc is not None and doc.data == PLAN
        assert await second.run(call(Tx.next_number, "PPS", 2026)) == 1
    assert await store.run(call(Tx.next_number, "PPS", 2026)) == 2


@pytest.mark.sql_only("reads Alembic's version table")
async def test_restart_keeps_data_and_migrations_are_idempotent(
    store: Store, backend: Backend, keyring: Keyring
) -> None:
    await store.run(call(Tx.save_document, kind="pps", ref="P", data=PLAN, status="draft",
                         expected_version=None, at=T0))
    async with AsyncExitStack() as stack:
        second = backend.store(keyring)
        await second.start(stack)
        doc = await second.run(call(Tx.load_document, "pps", "P"))
        assert doc is not None and doc.data == PLAN
        version = await second.run(lambda tx: tx.connection.exec_driver_sql(
            "SELECT version_num FROM alembic_version").scalar_one())
        assert version == ScriptDirectory(str(MIGRATIONS)).get_current_head()


@pytest.mark.sql_only("compares the migrated schema with tables.py")
async def test_migrations_create_exactly_the_tables_of_the_code(store: Store) -> None:
    def diff(sync_conn: object) -> list[object]:
        context = MigrationContext.configure(sync_conn)  # type: ignore[arg-type]
        return compare_metadata(context, metadata)

    def described(change: object) -> tuple[str, str, tuple[str, ...]]:
        kind, constraint = change  # type: ignore[misc]
        return kind, constraint.table.name, tuple(c.name for c in constraint.columns)

    with store.engine.connect() as conn:
        changes = diff(conn)
    if store.engine.dialect.name == "postgresql":
        assert changes == []
        return
    # SQLite holds one team and kept its unique keys without the team column
    # (migration 0009 says why): exactly those differ, and nothing else.
    spec = importlib.util.spec_from_file_location(
        "teams_migration", MIGRATIONS / "versions" / "0009_teams.py")
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    expected = {pair for table, _, columns in migration.UNIQUE
                for pair in (("remove_constraint", table, columns),
                             ("add_constraint", table, ("team", *columns)))}
    assert {described(c) for c in changes} == expected
    assert len(changes) == len(expected)


async def test_a_unit_of_work_runs_in_its_callers_context(store: Store) -> None:
    # The handlers run in the store's threads: their log lines and the team's
    # last error (esp_coord.platform.logs) read the caller's context there.
    team: contextvars.ContextVar[str] = contextvars.ContextVar("team", default="-")

    async def as_team(name: str) -> list[str]:
        team.set(name)
        seen = [await store.run(lambda tx: team.get())]
        batch = store.batch()
        try:
            seen.append(await batch.run(lambda tx: team.get()))
            await batch.commit()
        finally:
            batch.close()
        return seen

    assert await asyncio.gather(as_team("a"), as_team("b")) == [["a", "a"], ["b", "b"]]
    assert await store.run(lambda tx: team.get()) == "-"
