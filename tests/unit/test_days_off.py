"""Days off (``plans.days_off``) and when a reminder goes out around them
(``esp_coord.scheduling.times``), per territory."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from esp_coord.scheduling.plan_reminders import plan_specs
from esp_coord.scheduling.times import (
    first_actable_day,
    notice_instant,
    reminder_instant,
    told_ahead,
)
from plans.days_off import TERRITORIES, DaysOff
from tests.support.config import offline_config
from tests.support.plans_examples import plan_01

PARIS = ZoneInfo("Europe/Paris")
EIGHT = time(8)


def test_weekends_and_national_holidays() -> None:
    off = DaysOff()
    assert off.holiday(date(2026, 12, 25)) == "Noël"
    assert off.why(date(2026, 12, 25)) == "jour férié (Noël)"
    assert off.why(date(2026, 12, 19)) == "jour de repos de l'équipe"   # a Saturday
    assert off.why(date(2026, 12, 21)) is None
    # Christmas 2026 is a Friday: the last working day before is Thursday.
    assert off.previous_working_day(date(2026, 12, 25)) == date(2026, 12, 24)
    assert off.previous_working_day(date(2026, 12, 27)) == date(2026, 12, 24)
    # Easter Monday 2027 (29/03): the Friday before.
    assert off.previous_working_day(date(2027, 3, 29)) == date(2027, 3, 26)


@pytest.mark.parametrize(("territory", "day", "name"), [
    ("alsace-moselle", date(2027, 3, 26), "Vendredi saint"),
    ("67", date(2026, 12, 26), "Saint-Étienne"),
    ("la-reunion", date(2027, 12, 20), "Abolition de l'esclavage"),
    ("guadeloupe", date(2027, 5, 27), "Abolition de l'esclavage"),
    ("martinique", date(2027, 5, 22), "Abolition de l'esclavage"),
    ("mayotte", date(2027, 4, 27), "Abolition de l'esclavage"),
])
def test_each_territory_has_its_own_days(territory: str, day: date, name: str) -> None:
    assert DaysOff(territory=territory).holiday(day) == name
    assert DaysOff(territory="metropole").holiday(day) is None


def test_a_reminder_of_good_friday_moves_in_alsace_moselle_only() -> None:
    good_friday = date(2027, 3, 26)
    assert DaysOff().previous_working_day(good_friday) == good_friday
    assert DaysOff(territory="alsace-moselle").previous_working_day(good_friday) == date(
        2027, 3, 25)


def test_configured_words_and_none() -> None:
    off = DaysOff.of(["sunday"])
    assert off.weekdays == {6} and not off.holidays and not off.is_off(date(2026, 12, 25))
    none = DaysOff.none()
    assert not any(none.is_off(date(2026, 12, d)) for d in range(19, 28))
    with pytest.raises(ValueError):
        DaysOff(territory="atlantide")
    assert "alsace-moselle" in TERRITORIES and "974" in TERRITORIES


def test_reminder_instant_goes_the_working_day_before_at_the_same_hour() -> None:
    off = DaysOff()
    early = datetime(2026, 12, 1, 9, tzinfo=PARIS)
    at = reminder_instant(date(2026, 12, 25), EIGHT, PARIS, off, early)
    assert at.astimezone(PARIS) == datetime(2026, 12, 24, 8, tzinfo=PARIS)
    # Written on Thursday 24/12 at 09:00 for Christmas: Thursday's hour has
    # passed, the first hour still ahead is on the day itself.
    late = datetime(2026, 12, 24, 9, tzinfo=PARIS)
    assert reminder_instant(date(2026, 12, 25), EIGHT, PARIS, off, late).astimezone(
        PARIS) == datetime(2026, 12, 25, 8, tzinfo=PARIS)
    # No day off: the day itself.
    assert reminder_instant(date(2026, 12, 25), EIGHT, PARIS, DaysOff.none(), early).astimezone(
        PARIS) == datetime(2026, 12, 25, 8, tzinfo=PARIS)


def test_a_rhythm_written_on_friday_afternoon_starts_on_monday() -> None:
    friday = datetime(2026, 12, 18, 15, tzinfo=PARIS)
    assert first_actable_day(friday, PARIS, EIGHT, DaysOff()) == date(2026, 12, 21)
    assert first_actable_day(friday, PARIS, EIGHT) == date(2026, 12, 19)
    # Before Christmas and a weekend: Monday 28/12.
    assert first_actable_day(datetime(2026, 12, 24, 9, tzinfo=PARIS), PARIS, EIGHT,
                             DaysOff()) == date(2026, 12, 28)


@pytest.mark.parametrize(("today", "ahead"), [
    (date(2026, 11, 25), date(2026, 11, 26)),   # Wednesday: Thursday's mail tells Thursday
    (date(2026, 11, 26), date(2026, 11, 29)),   # Thursday: Friday's tells the weekend
    (date(2026, 11, 27), date(2026, 11, 30)),   # Friday: Monday's tells Monday
    (date(2026, 12, 23), date(2026, 12, 27)),   # Wednesday: Christmas Friday and the weekend
])
def test_told_ahead_reaches_the_days_the_next_working_days_mail_tells(
        today: date, ahead: date) -> None:
    assert told_ahead(today, DaysOff()) == ahead
    assert told_ahead(today, DaysOff.none()) == date.fromordinal(today.toordinal() + 1)


def test_a_notice_of_lateness_goes_the_working_day_after_never_before() -> None:
    off = DaysOff()
    at = time(8)
    # Saturday 28/11 -> Monday 30/11; Christmas Friday -> Monday 28/12.
    assert notice_instant(date(2026, 11, 28), at, PARIS, off) == datetime(
        2026, 11, 30, 8, tzinfo=PARIS)
    assert notice_instant(date(2026, 12, 25), at, PARIS, off) == datetime(
        2026, 12, 28, 8, tzinfo=PARIS)
    assert notice_instant(date(2026, 11, 27), at, PARIS, off) == datetime(
        2026, 11, 27, 8, tzinfo=PARIS)


def test_an_overdue_notice_past_a_weekend_replaces_that_mondays_recall() -> None:
    plan = plan_01()
    weekly = plan.action(1)
    weekly.due = date(2026, 11, 25)   # a Wednesday: three days later is a Saturday
    specs = [s for s in plan_specs(plan, offline_config(), datetime(2026, 11, 24, 9,
                                                                    tzinfo=PARIS))
             if s.payload["number"] == 1 and s.kind != "plan_due"]
    for recipient in {s.recipient for s in specs}:
        days = sorted((s.due_at.astimezone(PARIS).date(), bool(s.payload.get("recall")))
                      for s in specs if s.recipient == recipient)
        assert days == [(date(2026, 11, 30), False), (date(2026, 12, 7), True)], recipient
    assert len({s.recipient for s in specs}) == 3   # the nurse, the referent, the coordination
