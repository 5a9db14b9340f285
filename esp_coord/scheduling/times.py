"""Local wall-clock times of the team, as the UTC instants the store keeps."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = ["first_actable_day", "local_day", "local_instant"]


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


def first_actable_day(now: datetime, tz: ZoneInfo, hour: time) -> date:
    """The first day, from ``now``'s, whose reminder (at ``hour``) is still
    ahead: the first day a new recurring action can start on and be told of."""
    day = local_day(now, tz)
    return day if local_instant(day, hour, tz) >= now else day + timedelta(days=1)
