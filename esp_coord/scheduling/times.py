"""Local wall-clock times of the team, as the UTC instants the store keeps, and
the day a reminder goes out (days off: ``plans.days_off``)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from plans.days_off import MAX_SHIFT, DaysOff

__all__ = ["first_actable_day", "local_day", "local_instant", "notice_instant", "reminder_instant",
           "told_ahead"]


def local_instant(day: date, at: time, tz: ZoneInfo) -> datetime:
    """``day`` at ``at`` on the team's clocks, as UTC.

    Computed per day from the zone's rules, never by adding 24 hours to a
    previous instant: 08:00 stays 08:00 across daylight saving changes. A time
    that does not exist that day (in the spring gap) is read with the offset
    before the change (``fold=0``), i.e. one hour later on the clock.
    """
    return datetime.combine(day, at.replace(tzinfo=None), tzinfo=tz).astimezone(UTC)


def local_day(moment: datetime, tz: ZoneInfo) -> date:
    """The team's calendar day at ``moment``."""
    return moment.astimezone(tz).date()


def days_before(day: date, n: int) -> date:
    return day - timedelta(days=n)


def reminder_instant(day: date, hour: time, tz: ZoneInfo, days_off: DaysOff,
                     now: datetime) -> datetime:
    """When the reminder of something due on ``day`` goes out: at ``hour`` on
    the last working day up to ``day`` (the due day does not move). When that
    time has passed at ``now`` (a date written on a Friday for the Sunday), on
    the first day after it, up to ``day``, whose ``hour`` is still ahead:
    better a reminder on a day off than none. ``day``'s own time when even
    that one has passed (the caller's rules then apply: a row is never made
    late, a missed one is sent late)."""
    shifted = days_off.previous_working_day(day)
    while shifted < day:
        at = local_instant(shifted, hour, tz)
        if at >= now:
            return at
        shifted += timedelta(days=1)
    return local_instant(day, hour, tz)


def notice_instant(day: date, hour: time, tz: ZoneInfo, days_off: DaysOff) -> datetime:
    """When a notice about ``day`` goes out (an action overdue since then):
    at ``hour`` on the first working day from ``day``, unlike a reminder,
    which comes before (a notice cannot say « not done after 3 days » on the
    second)."""
    for _ in range(MAX_SHIFT + 1):
        if not days_off.is_off(day):
            break
        day += timedelta(days=1)
    return local_instant(day, hour, tz)


def first_actable_day(now: datetime, tz: ZoneInfo, hour: time,
                      days_off: DaysOff | None = None) -> date:
    """The first day, from ``now``'s, whose reminder (at ``hour``, on the
    working day before it if it is a day off) is still ahead: the first day
    a new recurring action can start on and be told of in time. Written on a
    Friday after the reminders, that is Monday (or Tuesday after Easter)."""
    days_off = days_off or DaysOff.none()
    day = local_day(now, tz)
    for _ in range(400):
        if local_instant(days_off.previous_working_day(day), hour, tz) >= now:
            return day
        day += timedelta(days=1)
    return day


def told_ahead(today: date, days_off: DaysOff) -> date:
    """The last day whose reminders go out by the next working day after
    ``today``: the eve of the working day after that one (from a Thursday,
    Sunday: Friday's reminders tell the weekend's)."""
    day = _next_working_day(_next_working_day(today, days_off), days_off)
    return day - timedelta(days=1)


def _next_working_day(day: date, days_off: DaysOff) -> date:
    for _ in range(MAX_SHIFT + 1):
        day += timedelta(days=1)
        if not days_off.is_off(day):
            return day
    return day
