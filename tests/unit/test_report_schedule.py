"""The scheduled activity report: which periods go out when, one row each per
coordinator, none twice, the next planned as each goes (memory store)."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from esp_coord.scheduling import report_schedule
from esp_coord.scheduling.report_schedule import KIND, periods_due_on
from esp_coord.store.memory import MemoryStore
from tests.support.config import offline_config

PARIS = ZoneInfo("Europe/Paris")
CONFIG = offline_config()
ANA = "ana.costa@esp-valdelorge.mssante.test"


@pytest.mark.parametrize("day, schedule, labels", [
    (date(2027, 1, 1), "quarterly", ["T4 2026", "année 2026"]),
    (date(2027, 4, 1), "quarterly", ["T1 2027"]),
    (date(2027, 10, 1), "quarterly", ["T3 2027"]),
    (date(2027, 1, 1), "yearly", ["année 2026"]),
    (date(2027, 4, 1), "yearly", []),
    (date(2027, 1, 2), "quarterly", []),
    (date(2027, 1, 1), "none", []),
])
def test_periods_due_on(day: date, schedule: str, labels: list[str]) -> None:
    assert [p.label for p in periods_due_on(day, schedule)] == labels


async def test_planned_ahead_sent_once_and_the_next_planned(store: MemoryStore) -> None:
    now = datetime(2026, 12, 20, 10, 0, tzinfo=PARIS)
    for _ in range(2):  # a restart plans nothing more
        await store.run(lambda tx: report_schedule.ensure_scheduled(tx, CONFIG, now))
    rows = await store.run(lambda tx: tx.reminders_of(report_schedule.SOURCE, status="pending"))
    assert sorted((r.payload["label"], r.recipient) for r in rows) == [
        ("T4 2026", ANA), ("année 2026", ANA)]
    # 1 January is a public holiday, then a Friday: the first working day is 4 January.
    assert {r.due_at.astimezone(PARIS) for r in rows} == {
        datetime.combine(date(2027, 1, 4), time(8, 0), PARIS)}
    due = sorted(rows, key=lambda r: r.payload["label"])[0]
    sent_at = datetime(2027, 1, 4, 8, 0, tzinfo=PARIS)
    [answer] = await store.run(
        lambda tx: report_schedule.compose_report(tx, due, sent_at, CONFIG))
    assert answer.to == (ANA,) and answer.auto_submitted == "auto-generated"
    assert "T4 2026" in answer.subject
    assert {a.filename for a in answer.attachments} == {
        f"rapport-activite-T4-2026.{x}" for x in ("html", "pdf", "csv")}
    later = await store.run(lambda tx: tx.reminders_of(report_schedule.SOURCE))
    assert ("T1 2027", datetime.combine(date(2027, 4, 1), time(8, 0), PARIS)) in {
        (r.payload["label"], r.due_at.astimezone(PARIS)) for r in later}
    assert all(r.kind == KIND for r in later)


async def test_no_schedule_no_row(store: MemoryStore) -> None:
    config = dataclasses.replace(CONFIG, report_schedule="none")
    now = datetime(2026, 12, 20, 10, 0, tzinfo=PARIS)
    await store.run(lambda tx: report_schedule.ensure_scheduled(tx, config, now))
    assert await store.run(lambda tx: tx.reminders_of(report_schedule.SOURCE)) == []
