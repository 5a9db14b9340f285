"""The recount of the report's figures from audit records alone
(``esp_coord.report.verify``): period bounds in the team's timezone, closed
plans, meetings and their decisions, records it cannot read."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from esp_coord.report.verify import recount
from esp_coord.store.audit import AuditRecord
from plans.periods import parse_period
from tests.support.config import offline_config

PARIS = ZoneInfo("Europe/Paris")
T4 = parse_period("T4 2026", today=date(2027, 1, 5))


def record(at: datetime, action: str, ref: str, detail: str = "",
           actor: str = "claire.durand@medecin.mssante.test") -> AuditRecord:
    return AuditRecord(0, at, actor, action, ref, None, detail, "", "")


def test_plans_and_meetings_are_recounted_from_their_records() -> None:
    records = [
        # 23:30 UTC on 30 September is 1 October in Paris: in T4.
        record(datetime(2026, 9, 30, 23, 30, tzinfo=UTC), "create", "PPS-2026-0001"),
        record(datetime(2026, 9, 1, 9, tzinfo=UTC), "create", "PPS-2026-0002"),
        record(datetime(2026, 11, 5, 9, tzinfo=UTC), "close", "PPS-2026-0002"),
        record(datetime(2026, 10, 2, 9, tzinfo=UTC), "create", "PPS-2026-0003"),
        record(datetime(2027, 1, 2, 9, tzinfo=UTC), "close", "PPS-2026-0003"),
        record(datetime(2026, 12, 3, 15, tzinfo=UTC), "meeting_decision", "PPS-2026-0001",
               "RCP-2026-001 2026-12-03"),
        record(datetime(2026, 12, 3, 15, tzinfo=UTC), "meeting_report", "RCP-2026-001",
               "2026-12-03, 2 decision(s)"),
        record(datetime(2026, 11, 5, 15, tzinfo=UTC), "meeting_report", "RCP-2026-001",
               "2026-11-05, 0 decision(s)"),
        record(datetime(2026, 12, 4, 15, tzinfo=UTC), "meeting_report", "RCP-2026-002",
               "le 4 décembre"),  # never written so: counted as unreadable, not guessed
        record(datetime(2026, 9, 3, 15, tzinfo=UTC), "meeting_report", "RCP-2026-001",
               "2026-09-03, 5 decision(s)"),  # before the period
    ]
    counted = recount(records, [], offline_config().members, T4, PARIS)
    value = {k: v for k, (v, _) in counted.figures.items()}
    # Active at the end: 0001, and 0003 (closed only after the period).
    assert (value["plans_created"], value["plans_closed"], value["plans_active"]) == (2, 1, 2)
    assert (value["meetings_held"], value["decisions"], value["patients_per_meeting"]) == (
        2, 2, 0.5)
    # Active during T4: 0001, 0002 (closed in it), 0003; one of them reviewed.
    assert value["share_reviewed"] == 33.3
    assert value["attendance_intended"] == 0 and counted.unreadable == 1
