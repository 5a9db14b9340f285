"""A new recurring action's first occurrence is one its owner is told of
(issue 17), and meeting agendas list what the team needs to discuss."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from esp_coord.scheduling.times import first_actable_day
from plans.commands import detect_command
from plans.grammar import parse_new_plan
from plans.meetings import agenda
from plans.model import Plan
from tests.support.plans_examples import BODY_01, CREATED_AT, DURAND, ROSTER

PARIS = ZoneInfo("Europe/Paris")


def _plan(earliest: date | None, body: str = BODY_01) -> Plan:
    parsed = parse_new_plan(detect_command("NOUVEAU PPS", body).lines,
                            today=date(2026, 11, 23), sender=DURAND, roster=ROSTER,
                            earliest=earliest)
    assert parsed.value is not None, parsed.errors
    return Plan.create(parsed.value, ref="PPS-2026-0001", author=DURAND.email, at=CREATED_AT,
                       source_message_id=None)


def test_the_first_actable_day_is_today_before_the_reminder_hour_else_tomorrow() -> None:
    at = time(8)
    assert first_actable_day(datetime(2026, 11, 23, 7, 59, tzinfo=PARIS), PARIS, at) == date(
        2026, 11, 23)
    assert first_actable_day(datetime(2026, 11, 23, 8, 0, tzinfo=PARIS), PARIS, at) == date(
        2026, 11, 23)
    assert first_actable_day(datetime(2026, 11, 23, 9, 12, tzinfo=PARIS), PARIS, at) == date(
        2026, 11, 24)


def test_a_rhythm_written_after_the_reminder_hour_starts_the_next_day() -> None:
    plan = _plan(earliest=date(2026, 11, 24))
    weekly, one_off, twice, quarterly = (plan.action(n) for n in (1, 2, 3, 4))
    assert (weekly.start, weekly.due) == (date(2026, 11, 24), date(2026, 11, 24))
    assert one_off.due == date(2026, 12, 15)           # a date asked is kept
    assert twice.due == date(2026, 11, 26)             # Mondays and Thursdays: the next one
    assert quarterly.due == date(2026, 11, 24)
    # Not overdue the next morning: nothing to discuss yet.
    assert not plan.overdue(date(2026, 11, 24))
    # A protocol's follow-up keeps its own first date.
    assert all(a.due and a.due > date(2026, 12, 1) for a in plan.actions if a.protocol)


def test_without_earliest_the_plan_day_as_before() -> None:
    assert _plan(earliest=None).action(1).due == date(2026, 11, 23)


def test_a_start_written_is_kept_and_a_protocol_rhythm_from_day_one_moves() -> None:
    body = BODY_01.replace("| chaque semaine", "| chaque semaine à partir du 23/11/2026")
    body = body.replace("Protocole : diabete-type-2", "Protocole : soins-palliatifs")
    plan = _plan(earliest=date(2026, 11, 24), body=body)
    assert plan.action(1).due == date(2026, 11, 23)
    daily = [a for a in plan.actions if a.protocol and a.when.rhythm
             and a.when.rhythm.freq == "DAILY"]
    assert daily and all(a.due == date(2026, 11, 24) for a in daily)


def test_an_agenda_lists_plans_overdue_past_the_teams_delay_only() -> None:
    plan = _plan(earliest=None)            # actions 1, 3, 4 due on 23/11
    day = date(2026, 12, 3)
    assert agenda([plan], hand=[], day=day, today=date(2026, 11, 25), late_after=3) == []
    (item,) = agenda([plan], hand=[], day=day, today=date(2026, 11, 27), late_after=3)
    assert item.reasons == ("overdue",) and item.overdue == 3
