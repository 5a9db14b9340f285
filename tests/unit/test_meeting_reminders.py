"""J-N reminder specs of a meeting: who, when (team-local, DST-safe), which days."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from esp_coord.config import ReminderSettings
from esp_coord.offline_config import load_offline_config
from esp_coord.scheduling.meeting_reminders import reminder_specs
from plans.meetings import Meeting
from plans.recurrence import Rhythm

ROOT = Path(__file__).resolve().parents[2]
CONFIG = load_offline_config(ROOT / "config" / "esp.example.toml")
PARIS = ZoneInfo("Europe/Paris")
CLAIRE, JULIEN = "claire.durand@medecin.mssante.test", "julien.marie@infirmier.mssante.test"


def meeting(**kwargs) -> Meeting:  # type: ignore[no-untyped-def]
    values = dict(ref="RCP-2026-001", start=datetime(2026, 12, 3, 12, 30, tzinfo=PARIS),
                  duration_minutes=90, location="salle", participants=[CLAIRE, JULIEN],
                  organizer=CLAIRE, created_at=datetime(2026, 11, 25, tzinfo=PARIS),
                  timezone="Europe/Paris", rhythm=Rhythm("MONTHLY", byweekday=(3,), bysetpos=1))
    values.update(kwargs)
    return Meeting(**values)  # type: ignore[arg-type]


def test_j7_and_j1_of_the_next_two_meetings_for_each_participant() -> None:
    specs = reminder_specs(meeting(), CONFIG, datetime(2026, 11, 25, 9, 0, tzinfo=PARIS))
    assert len(specs) == 2 * 2 * 2
    assert {s.recipient for s in specs} == {CLAIRE, JULIEN}
    assert sorted({s.due_at.astimezone(PARIS) for s in specs}) == [
        datetime(2026, 11, 26, 8, 0, tzinfo=PARIS), datetime(2026, 12, 2, 8, 0, tzinfo=PARIS),
        datetime(2026, 12, 31, 8, 0, tzinfo=PARIS), datetime(2027, 1, 6, 8, 0, tzinfo=PARIS)]
    assert {s.source_ref for s in specs} == {"RCP-2026-001"}
    assert "RCP-2026-001:2026-12-03:J-7:" + CLAIRE in {s.key for s in specs}
    # Payloads hold references and dates only.
    assert all(set(s.payload) == {"meeting", "day", "offset"} for s in specs)


def test_eight_o_clock_on_both_sides_of_the_march_change() -> None:
    # The April meeting: J-7 on 25/03 (winter time), J-1 on 31/03 (summer time).
    specs = reminder_specs(meeting(participants=[CLAIRE]), CONFIG,
                           datetime(2027, 3, 5, 9, 0, tzinfo=PARIS))
    april = sorted(s.due_at for s in specs if s.payload["day"] == "2027-04-01")
    assert [d.astimezone(UTC).time() for d in april] == [time(7, 0), time(6, 0)]
    assert {d.astimezone(PARIS).time() for d in april} == {time(8, 0)}


def test_cancelled_days_everyone_and_settings() -> None:
    m = meeting(everyone=True)
    m.cancel_occurrence(date(2026, 12, 3), by=CLAIRE, at=datetime(2026, 11, 25, tzinfo=PARIS))
    config = dataclasses.replace(CONFIG, reminders=ReminderSettings(
        hour=time(7, 30), meeting_offsets=(3,)))
    specs = reminder_specs(m, config, datetime(2026, 11, 25, 9, 0, tzinfo=PARIS))
    assert {s.payload["day"] for s in specs} == {"2027-01-07", "2027-02-04"}
    assert {s.recipient for s in specs} == {member.email for member in CONFIG.members}
    assert {s.due_at.astimezone(PARIS).time() for s in specs} == {time(7, 30)}
    assert {s.due_at.astimezone(PARIS).date() for s in specs} == {date(2027, 1, 4),
                                                                  date(2027, 2, 1)}
    m.cancel(by=CLAIRE, at=datetime(2026, 11, 25, tzinfo=PARIS))
    assert reminder_specs(m, config, datetime(2026, 11, 25, 9, 0, tzinfo=PARIS)) == []


def test_a_same_day_reminder_after_an_early_meeting_is_not_made() -> None:
    config = dataclasses.replace(CONFIG, reminders=ReminderSettings(meeting_offsets=(0,)))
    early = meeting(start=datetime(2026, 12, 3, 7, 30, tzinfo=PARIS), rhythm=None)
    assert reminder_specs(early, config, datetime(2026, 11, 25, tzinfo=PARIS)) == []
