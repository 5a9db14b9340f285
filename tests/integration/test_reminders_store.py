"""Contract tests of the reminder rows, on SQLite, PostgreSQL and in memory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from esp_coord.store import Store
from esp_coord.store.reminders import ReminderSpec
from tests.support.store import contract_backend  # noqa: F401 - the backend fixture, memory too

T0 = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)


def spec(key: str, hours: float, *, source: str = "PPS-2026-0001", who: str = "a@x.test",
         payload: dict[str, object] | None = None) -> ReminderSpec:
    return ReminderSpec(key=key, kind="plan_due", source_ref=source, recipient=who,
                        due_at=T0 + timedelta(hours=hours), payload=payload or {"n": 1})


async def test_replace_is_idempotent_and_reconciles(store: Store) -> None:
    specs = [spec("k1", 1), spec("k2", 2), spec("k3", 3)]
    async with store.transaction() as tx:
        first = tx.replace_reminders("PPS-2026-0001", specs, T0)
        again = tx.replace_reminders("PPS-2026-0001", specs, T0)
    assert (first.inserted, again.inserted, again.updated, again.cancelled) == (3, 0, 0, 0)
    async with store.transaction() as tx:
        changed = tx.replace_reminders(
            "PPS-2026-0001", [spec("k1", 1), spec("k2", 5, payload={"n": 2})], T0)
        rows = {r.key: r for r in tx.reminders_of("PPS-2026-0001")}
    assert (changed.inserted, changed.updated, changed.cancelled) == (0, 1, 1)
    assert rows["k2"].due_at == T0 + timedelta(hours=5) and rows["k2"].payload == {"n": 2}
    assert rows["k3"].status == "cancelled"
    assert rows["k1"].due_at.tzinfo is not None


async def test_sent_rows_are_never_touched_nor_recreated(store: Store) -> None:
    async with store.transaction() as tx:
        tx.replace_reminders("PPS-2026-0001", [spec("k1", 1)], T0)
        (row,) = tx.reminders_due(T0 + timedelta(hours=1))
        assert tx.mark_reminder_sent(row.id, T0 + timedelta(hours=1), late=False)
        assert not tx.mark_reminder_sent(row.id, T0 + timedelta(hours=2), late=False)
        result = tx.replace_reminders("PPS-2026-0001", [spec("k1", 9)], T0)
        assert (result.inserted, result.updated) == (0, 0)
        tx.replace_reminders("PPS-2026-0001", [], T0)
        (kept,) = tx.reminders_of("PPS-2026-0001")
    assert kept.status == "sent" and kept.due_at == T0 + timedelta(hours=1)


async def test_past_specs_are_not_created_but_missed_rows_stay(store: Store) -> None:
    later = T0 + timedelta(days=1)
    async with store.transaction() as tx:
        tx.replace_reminders("PPS-2026-0001", [spec("missed", 1)], T0)
        result = tx.replace_reminders(
            "PPS-2026-0001", [spec("missed", 1), spec("past", 2)], later)
        rows = tx.reminders_of("PPS-2026-0001")
        due = tx.reminders_due(later)
    assert result.inserted == 0
    assert [(r.key, r.status) for r in rows] == [("missed", "pending")]
    assert [r.key for r in due] == ["missed"]


async def test_cancelled_row_comes_back_when_named_again(store: Store) -> None:
    async with store.transaction() as tx:
        tx.replace_reminders("PPS-2026-0001", [spec("k1", 4)], T0)
        tx.replace_reminders("PPS-2026-0001", [], T0)
        tx.replace_reminders("PPS-2026-0001", [spec("k1", 4)], T0)
        (row,) = tx.reminders_of("PPS-2026-0001")
    assert row.status == "pending"


async def test_due_order_next_due_and_batches(store: Store) -> None:
    async with store.transaction() as tx:
        assert tx.next_reminder_due() is None
        tx.replace_reminders("A", [spec(f"a{i}", 10 - i, source="A") for i in range(5)],
                                   T0)
        tx.replace_reminders("B", [spec("b", 0.5, source="B")], T0)
        assert tx.next_reminder_due() == T0 + timedelta(hours=0.5)
        batch = tx.reminders_due(T0 + timedelta(hours=8), limit=3)
        assert [r.key for r in batch] == ["b", "a4", "a3"]
        for r in batch:
            tx.mark_reminder_dropped(r.id, T0)
        rest = tx.reminders_due(T0 + timedelta(hours=8), limit=3)
        assert [r.key for r in rest] == ["a2"]
        assert tx.next_reminder_due() == T0 + timedelta(hours=8)
        stats = tx.reminder_stats()
    assert stats == {"pending": 3, "sent": 0, "dropped": 3, "failed": 0, "cancelled": 0}


async def test_recipient_is_normalised_and_payload_round_trips(store: Store) -> None:
    async with store.transaction() as tx:
        tx.replace_reminders(
            "PPS-2026-0001", [spec("k", 1, who=" A@X.test ", payload={"b": 2, "a": [1]})], T0)
        (row,) = tx.reminders_of("PPS-2026-0001")
        (due,) = tx.reminders_due(T0 + timedelta(hours=1), recipient="a@X.TEST ")
        assert tx.reminders_due(T0 + timedelta(hours=1), recipient="b@x.test") == []
        assert tx.reminders_due(T0 + timedelta(hours=1), kinds=["meeting"]) == []
        row.payload["a"].append(2)
        assert (tx.reminder(row.id) or row).payload == {"a": [1], "b": 2}
    assert row.recipient == "a@x.test" and due.id == row.id
    assert list(due.payload) == ["a", "b"] and not due.late and due.sent_at is None


async def test_paging_after_the_last_row(store: Store) -> None:
    async with store.transaction() as tx:
        tx.replace_reminders("A", [spec(f"a{i}", 1 + i // 2, source="A") for i in range(5)],
                             T0)
        first = tx.reminders_due(T0 + timedelta(hours=9), limit=3)
        last = first[-1]
        rest = tx.reminders_due(T0 + timedelta(hours=9), after=(last.due_at, last.id))
        assert tx.mark_reminder_sent(rest[0].id, T0, late=True)
        assert not tx.mark_reminder_failed(rest[0].id, T0)
        sent = tx.reminder(rest[0].id)
        assert tx.reminder(999_999) is None
    assert [r.key for r in first + rest] == [f"a{i}" for i in range(5)]
    assert sent is not None and (sent.status, sent.late, sent.sent_at) == ("sent", True, T0)


@pytest.mark.sql_only("reads the reminders table to see the payload encrypted")
async def test_payload_is_encrypted_and_recipient_normalised(store: Store) -> None:
    async with store.transaction() as tx:
        tx.replace_reminders(
            "PPS-2026-0001", [spec("k", 1, who=" A@X.test ", payload={"secret": "Jeanne"})], T0)
        raw = (tx.connection.exec_driver_sql(
            "SELECT payload_enc, recipient FROM reminders")).one()
        (row,) = tx.reminders_of("PPS-2026-0001")
    assert b"Jeanne" not in bytes(raw[0])
    assert raw[1] == "a@x.test" and row.payload == {"secret": "Jeanne"}


def test_specs_refuse_naive_times_and_long_keys() -> None:
    with pytest.raises(ValueError):
        ReminderSpec(key="k", kind="x", source_ref="s", recipient="a@x",
                     due_at=datetime(2026, 1, 1))
    with pytest.raises(ValueError):
        spec("k" * 256, 1)
