"""Which follow-up reminders a plan wants (pure), and at which local instant (DST-safe)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from esp_coord.scheduling.times import local_instant
from plans.followups import (
    DUE,
    OVERDUE,
    OVERDUE_NOTE,
    occurrences_to_remind,
    plan_followups,
    recall_days,
)
from plans.recurrence import Rhythm
from tests.support.plans_examples import BENALI, DURAND, MARIE, ROSTER, plan_01

EVERYONE = [p.email for p in ROSTER]
COORDINATION = "ana.costa@esp-valdelorge.mssante.test"


def test_example_01_wants_due_day_and_overdue_reminders() -> None:
    plan = plan_01()
    wanted = plan_followups(plan, today=date(2026, 11, 23), overdue_days=3, roster=EVERYONE,
                            coordinators=[COORDINATION])
    weekly = [f for f in wanted if f.number == 1]
    # Due 23/11 (a Monday), overdue 26/11, then recalled each Monday (the
    # next two known ahead); the next occurrence, 30/11, is past the day it
    # is overdue: the recall says it.
    assert {(f.kind, f.day, f.recipient, f.recall) for f in weekly} == {
        (DUE, date(2026, 11, 23), MARIE.email, False),
        (OVERDUE, date(2026, 11, 26), MARIE.email, False),
        (OVERDUE_NOTE, date(2026, 11, 26), DURAND.email, False),
        (OVERDUE_NOTE, date(2026, 11, 26), COORDINATION, False),
        *((kind, day, who, True) for day in (date(2026, 11, 30), date(2026, 12, 7))
          for kind, who in ((OVERDUE, MARIE.email), (OVERDUE_NOTE, DURAND.email),
                            (OVERDUE_NOTE, COORDINATION))),
    }
    assert len({f.key for f in wanted}) == len(wanted)


def test_recall_days_are_the_next_two_mondays_after_the_overdue_day() -> None:
    assert recall_days(date(2026, 11, 26), date(2026, 11, 20)) == [
        date(2026, 11, 30), date(2026, 12, 7)]
    # Overdue on a Monday: recalled from the next one.
    assert recall_days(date(2026, 11, 30), date(2026, 11, 30)) == [
        date(2026, 12, 7), date(2026, 12, 14)]
    # Weeks later: from today's Monday, or the next.
    assert recall_days(date(2026, 11, 26), date(2026, 12, 28)) == [
        date(2026, 12, 28), date(2027, 1, 4)]
    assert recall_days(date(2026, 11, 26), date(2026, 12, 30)) == [
        date(2027, 1, 4), date(2027, 1, 11)]


def test_referent_assignee_gets_no_note_about_herself() -> None:
    plan = plan_01()
    mine = [a.number for a in plan.actions if a.assignee == DURAND.email]
    wanted = plan_followups(plan, today=date(2026, 11, 23), overdue_days=3, roster=EVERYONE,
                            coordinators=[COORDINATION])
    notes = {f.recipient for f in wanted if f.kind == OVERDUE_NOTE and f.number in mine}
    assert notes == {COORDINATION}


def test_nothing_for_a_closed_plan_nor_for_people_off_the_roster() -> None:
    plan = plan_01()
    without_karim = [a for a in EVERYONE if a != BENALI.email]
    wanted = plan_followups(plan, today=date(2026, 11, 23), overdue_days=3,
                            roster=without_karim)
    assert BENALI.email not in {f.recipient for f in wanted}
    plan.close(by=DURAND.email, at=datetime(2026, 11, 24, tzinfo=UTC), source_message_id=None)
    assert plan_followups(plan, today=date(2026, 11, 24), overdue_days=3,
                          roster=EVERYONE) == []


def test_done_action_moves_the_reminders_on() -> None:
    plan = plan_01()
    plan.mark_done(1, by=MARIE.email, on=date(2026, 11, 24))
    wanted = plan_followups(plan, today=date(2026, 11, 24), overdue_days=3, roster=EVERYONE)
    assert {(f.kind, f.occurrence) for f in wanted if f.number == 1 and f.kind != DUE} == {
        (OVERDUE, date(2026, 11, 30)), (OVERDUE_NOTE, date(2026, 11, 30))}


def test_occurrences_go_on_until_the_action_is_overdue_then_stop() -> None:
    plan = plan_01()
    action = plan.action(3)   # twice a week (Monday, Thursday) for three months
    assert action.due == date(2026, 11, 23)
    # The rhythm goes on while the current one is not yet overdue (26/11)...
    assert occurrences_to_remind(action, date(2026, 11, 24), overdue_days=3) == [
        date(2026, 11, 23), date(2026, 11, 26)]
    # ... and no further: never done for weeks, the recalls say it.
    assert occurrences_to_remind(action, date(2027, 1, 20), overdue_days=3) == [action.due]
    assert occurrences_to_remind(action, date(2027, 6, 1), overdue_days=3) == [action.due]


PARIS = ZoneInfo("Europe/Paris")


@pytest.mark.parametrize(("day", "utc_hour"), [
    (date(2027, 3, 27), 7),   # Saturday: winter time, UTC+1
    (date(2027, 3, 28), 6),   # last Sunday of March: summer time from 02:00
    (date(2027, 10, 30), 6),  # Saturday: still summer time, UTC+2
    (date(2027, 10, 31), 7),  # last Sunday of October: winter time again
])
def test_eight_o_clock_paris_stays_eight_across_dst(day: date, utc_hour: int) -> None:
    instant = local_instant(day, time(8), PARIS)
    assert instant.tzinfo is UTC and (instant.hour, instant.minute) == (utc_hour, 0)
    assert instant.astimezone(PARIS).time() == time(8)


@pytest.mark.parametrize(("zone", "utc_hour"), [
    ("America/Martinique", 12), ("Indian/Reunion", 4), ("Pacific/Noumea", 21)])
def test_overseas_teams(zone: str, utc_hour: int) -> None:
    tz = ZoneInfo(zone)
    for offset in range(0, 365, 30):
        day = date(2027, 1, 1) + timedelta(days=offset)
        instant = local_instant(day, time(8), tz)
        assert instant.astimezone(tz).time() == time(8)
        east_of_utc_by_more_than_8h = zone == "Pacific/Noumea"
        expected = day - timedelta(days=1) if east_of_utc_by_more_than_8h else day
        assert instant.hour == utc_hour and instant.date() == expected


def test_a_time_in_the_spring_gap_moves_forward() -> None:
    instant = local_instant(date(2027, 3, 28), time(2, 30), PARIS)
    assert instant.astimezone(PARIS).time() == time(3, 30)


def test_a_daily_actions_weekend_is_wanted_before_fridays_mail() -> None:
    """``ahead``: on Thursday, the occurrences Friday's mail will tell (the
    weekend's) and Monday's, so that they exist before Friday's pass."""
    plan = plan_01()
    action = plan.action(1)
    action.when = dataclasses.replace(action.when, rhythm=Rhythm("DAILY"))
    action.start = action.due = date(2026, 11, 27)   # a Friday
    thursday = date(2026, 11, 26)
    assert occurrences_to_remind(action, thursday, overdue_days=3) == [
        date(2026, 11, 27), date(2026, 11, 28)]
    assert occurrences_to_remind(action, thursday, overdue_days=3,
                                 ahead=date(2026, 11, 29)) == [
        date(2026, 11, 27), date(2026, 11, 28), date(2026, 11, 29), date(2026, 11, 30)]
    # Never past the day the current one is overdue, whatever ``ahead``.
    assert occurrences_to_remind(action, thursday, overdue_days=1,
                                 ahead=date(2026, 12, 20)) == [
        date(2026, 11, 27), date(2026, 11, 28)]
