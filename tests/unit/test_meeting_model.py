"""The Meeting model: occurrences across DST, cancellations, reports, agenda."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from plans.meetings import (
    Decision,
    Meeting,
    MeetingError,
    agenda,
    describe_start,
    record_decision,
)
from plans.model import PlanError
from plans.recurrence import Rhythm
from tests.support.plans_examples import plan_01

PARIS = ZoneInfo("Europe/Paris")
AT = datetime(2026, 11, 25, 9, 0, tzinfo=PARIS)
FIRST_THURSDAY = Rhythm("MONTHLY", byweekday=(3,), bysetpos=1)


def meeting(rhythm: Rhythm | None = FIRST_THURSDAY, tz: str = "Europe/Paris",
            **kwargs) -> Meeting:  # type: ignore[no-untyped-def]
    zone = ZoneInfo(tz)
    return Meeting(ref="RCP-2026-001", start=datetime(2026, 12, 3, 12, 30, tzinfo=zone),
                   duration_minutes=90, location="salle", participants=["a@x.test"],
                   organizer="a@x.test", created_at=AT, timezone=tz, rhythm=rhythm, **kwargs)


def test_occurrences_keep_local_time_across_daylight_saving() -> None:
    m = meeting()
    starts = m.occurrences(AT, 6)
    assert [s.date() for s in starts] == [date(2026, 12, 3), date(2027, 1, 7), date(2027, 2, 4),
                                          date(2027, 3, 4), date(2027, 4, 1), date(2027, 5, 6)]
    assert {(s.hour, s.minute) for s in starts} == {(12, 30)}
    # 11:30 UTC in winter, 10:30 UTC after the March change.
    assert starts[3].astimezone(UTC).hour == 11 and starts[4].astimezone(UTC).hour == 10


def test_a_meeting_under_way_is_still_next_and_until_ends_the_series() -> None:
    m = meeting(until=date(2027, 2, 4))
    during = datetime(2026, 12, 3, 13, 0, tzinfo=PARIS)
    assert m.next_occurrence(during) == datetime(2026, 12, 3, 12, 30, tzinfo=PARIS)
    after = datetime(2026, 12, 3, 14, 0, tzinfo=PARIS)
    assert m.next_occurrence(after) == datetime(2027, 1, 7, 12, 30, tzinfo=PARIS)
    assert len(m.occurrences(AT, 10)) == 3
    assert m.next_occurrence(datetime(2027, 2, 5, tzinfo=PARIS)) is None


def test_cancel_one_day_then_the_series_bumps_the_sequence() -> None:
    m = meeting()
    with pytest.raises(MeetingError) as wrong:
        m.cancel_occurrence(date(2027, 1, 8), by="a@x.test", at=AT)
    assert wrong.value.code == "no_occurrence"
    m.cancel_occurrence(date(2027, 1, 7), by="a@x.test", at=AT)
    assert m.sequence == 1 and m.is_active
    assert [s.date() for s in m.occurrences(AT, 2)] == [date(2026, 12, 3), date(2027, 2, 4)]
    with pytest.raises(MeetingError) as twice:
        m.cancel_occurrence(date(2027, 1, 7), by="a@x.test", at=AT)
    assert twice.value.code == "occurrence_cancelled"
    m.cancel(by="a@x.test", at=AT)
    assert m.sequence == 2 and not m.is_active and m.occurrences(AT) == []
    with pytest.raises(MeetingError):
        m.cancel(by="a@x.test", at=AT)


def test_cancelling_the_only_day_of_a_one_off_cancels_the_meeting() -> None:
    m = meeting(rhythm=None)
    m.cancel_occurrence(date(2026, 12, 3), by="a@x.test", at=AT)
    assert m.status == "cancelled" and m.sequence == 1


def test_report_marks_held_and_clears_hand_plans() -> None:
    m = meeting(plans=["PPS-2026-0001", "PPS-2026-0002"])
    now = datetime(2026, 12, 3, 15, 0, tzinfo=PARIS)
    assert m.last_started(now) == datetime(2026, 12, 3, 12, 30, tzinfo=PARIS)
    assert m.last_started(AT) is None
    m.record_report(date(2026, 12, 3), [Decision("PPS-2026-0001", "poursuite")],
                    by="a@x.test", at=now)
    assert m.held_on(date(2026, 12, 3)) is not None and m.plans == ["PPS-2026-0002"]
    with pytest.raises(MeetingError) as again:
        m.record_report(date(2026, 12, 3), [], by="a@x.test", at=now)
    assert again.value.code == "already_held"


def test_round_trip_is_lossless() -> None:
    m = meeting(plans=["PPS-2026-0001"], until=date(2027, 6, 3), everyone=True,
                notes=["vidéoprojecteur"])
    m.cancel_occurrence(date(2027, 1, 7), by="a@x.test", at=AT)
    m.record_report(date(2026, 12, 3), [Decision("PPS-2026-0001", "ok")], by="a@x.test",
                    at=AT + timedelta(days=8), notes=["5 présents"])
    again = Meeting.from_dict(m.to_dict())
    assert again == m and again.to_dict() == m.to_dict()


def test_overseas_meeting_is_computed_in_its_own_zone() -> None:
    m = meeting(rhythm=Rhythm("WEEKLY", 2), tz="America/Martinique")
    starts = m.occurrences(datetime(2026, 11, 25, tzinfo=ZoneInfo("America/Martinique")), 2)
    assert [s.astimezone(UTC).hour for s in starts] == [16, 16]
    assert starts[1].date() == date(2026, 12, 17)
    assert "jeudi 3 décembre 2026 à 12h30 (1h30), toutes les 2 semaines" in m.describe_when()


def test_start_said_with_hour_and_minutes() -> None:
    early = datetime(2026, 12, 3, 8, 5, tzinfo=PARIS)
    assert describe_start(early) == "jeudi 3 décembre 2026 à 8h05"
    assert meeting(rhythm=None).describe_when() == "jeudi 3 décembre 2026 à 12h30 (1h30)"


def test_agenda_reasons_and_decision() -> None:
    plan = plan_01()
    assert plan.review_date == date(2027, 5, 15)
    assert agenda([plan], hand=[], day=date(2026, 12, 3), today=date(2026, 11, 23)) == []
    (item,) = agenda([plan], hand=["PPS-2026-0001"], day=date(2026, 12, 3),
                     today=date(2026, 11, 23))
    assert item.reasons == ("hand",)
    late = agenda([plan], hand=[], day=date(2027, 5, 20), today=date(2027, 5, 1))
    assert late[0].reasons == ("review", "overdue") and late[0].overdue > 0
    version = plan.version
    review = record_decision(plan, "poursuite", meeting_ref="RCP-2026-001",
                             day=date(2026, 12, 3), by="ana@x.test", at=AT,
                             source_message_id="<m@x>")
    assert review == date(2027, 6, 3) == plan.review_date
    assert plan.version == version + 1 and "ana@x.test" not in plan.team
    assert plan.notes[-1].text.startswith("Décision de la concertation RCP-2026-001 du 03/12/2026")
    plan.close(by="ana@x.test", at=AT, source_message_id=None)
    with pytest.raises(PlanError):
        record_decision(plan, "x", meeting_ref="RCP-2026-001", day=date(2026, 12, 3),
                        by="ana@x.test", at=AT, source_message_id=None)
