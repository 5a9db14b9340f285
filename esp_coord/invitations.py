"""iCalendar invitations (iMIP, RFC 6047) for concertation meetings.

Pure: bytes out, no I/O but reading the timezone database. Rules:

- One UID per meeting, ``RCP-2026-001@<bot domain>``: every mail about it
  updates the same calendar entry. ``SEQUENCE`` is the meeting's, bumped on
  each change (``plans.meetings``), so clients take the latest.
- ``METHOD:REQUEST`` for an invitation or an update (``EXDATE`` for cancelled
  days); ``METHOD:CANCEL`` for a cancelled series, or for one occurrence
  (``RECURRENCE-ID``).
- Times carry ``TZID`` of the team's timezone, with its ``VTIMEZONE`` written
  as yearly rules read from the timezone database's own POSIX rule (what
  Outlook expects; lists of dates are not understood by every client), else
  computed by ``icalendar`` for the years around the meeting.
- The calendar entry holds no patient data: only plan references (calendars
  are synchronised to phones and clouds outside the secure messaging).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from functools import cache
from importlib import resources
from pathlib import Path

from dateutil.rrule import YEARLY, rrule
from dateutil.rrule import weekday as rrule_weekday
from icalendar import (
    Calendar,
    Event,
    Timezone,
    TimezoneDaylight,
    TimezoneStandard,
    vCalAddress,
    vRecur,
)

from esp_coord.access import participants_of
from esp_coord.config import Config
from esp_coord.outgoing import OutAttachment
from esp_coord.roster import names
from plans.meeting_grammar import rrule_of
from plans.meetings import Meeting

__all__ = ["PRODID", "attachment", "cancellation", "cancellation_file", "invitation",
           "invitation_file", "meeting_uid", "vtimezone"]

PRODID = "-//esp-coord//Concertation RCP//FR"


def meeting_uid(meeting: Meeting, domain: str) -> str:
    return f"{meeting.ref}@{domain}"


# --- VTIMEZONE -----------------------------------------------------------------

_POSIX = re.compile(
    r"^(?P<std><[^>]+>|[A-Za-z]{3,})(?P<stdoff>[+-]?\d{1,2}(?::\d{2}){0,2})"
    r"(?:(?P<dst><[^>]+>|[A-Za-z]{3,})(?P<dstoff>[+-]?\d{1,2}(?::\d{2}){0,2})?"
    r",M(?P<m1>\d{1,2})\.(?P<w1>[1-5])\.(?P<d1>[0-6])(?:/(?P<t1>[+-]?\d{1,3}(?::\d{2}){0,2}))?"
    r",M(?P<m2>\d{1,2})\.(?P<w2>[1-5])\.(?P<d2>[0-6])(?:/(?P<t2>[+-]?\d{1,3}(?::\d{2}){0,2}))?)?$"
)
_BYDAY = ("SU", "MO", "TU", "WE", "TH", "FR", "SA")  # POSIX: 0 = Sunday


def _seconds(text: str) -> int:
    sign = -1 if text.startswith("-") else 1
    parts = [int(p) for p in text.lstrip("+-").split(":")] + [0, 0]
    return sign * (parts[0] * 3600 + parts[1] * 60 + parts[2])


def _posix_rule(key: str) -> str | None:
    """The POSIX TZ rule at the end of the zone's TZif file (``CET-1CEST,M3.5.0,M10.5.0/3``)."""
    data: bytes | None = None
    try:
        data = resources.files("tzdata.zoneinfo").joinpath(*key.split("/")).read_bytes()
    except (ModuleNotFoundError, FileNotFoundError, OSError):
        for root in ("/usr/share/zoneinfo", "/usr/lib/zoneinfo"):
            path = Path(root, key)
            if path.is_file():
                data = path.read_bytes()
                break
    if not data or not data.startswith(b"TZif") or not data.endswith(b"\n"):
        return None
    footer = data[:-1].rsplit(b"\n", 1)[-1]
    return footer.decode("ascii", "replace") or None


def _transition(year_start: int, month: int, week: int, day: int, at: int) -> tuple[datetime, str]:
    """First local transition moment from ``year_start`` and its RRULE."""
    nth = -1 if week == 5 else week
    byday = rrule_weekday((day - 1) % 7)(nth)  # dateutil: 0 = Monday
    first = rrule(YEARLY, dtstart=datetime(year_start, 1, 1), bymonth=month, byweekday=byday,
                  count=1)[0]
    moment = first + timedelta(seconds=at)
    return moment, f"FREQ=YEARLY;BYMONTH={month};BYDAY={nth}{_BYDAY[day]}"


def _posix_vtimezone(key: str) -> Timezone | None:
    rule = _posix_rule(key)
    m = _POSIX.match(rule or "")
    if m is None:
        return None
    std_offset = timedelta(seconds=-_seconds(m["stdoff"]))  # POSIX counts west positive
    tz = Timezone()
    tz.add("TZID", key)
    std_name = m["std"].strip("<>")
    if m["dst"] is None:
        only = TimezoneStandard()
        only.add("DTSTART", datetime(1970, 1, 1))
        only.add("TZOFFSETFROM", std_offset)
        only.add("TZOFFSETTO", std_offset)
        only.add("TZNAME", std_name)
        tz.add_component(only)
        return tz
    dst_offset = (timedelta(seconds=-_seconds(m["dstoff"])) if m["dstoff"]
                  else std_offset + timedelta(hours=1))
    begin, begin_rule = _transition(1970, int(m["m1"]), int(m["w1"]), int(m["d1"]),
                                    _seconds(m["t1"]) if m["t1"] else 7200)
    end, end_rule = _transition(1970, int(m["m2"]), int(m["w2"]), int(m["d2"]),
                                _seconds(m["t2"]) if m["t2"] else 7200)
    parts: list[tuple[TimezoneDaylight | TimezoneStandard, datetime, str, timedelta, timedelta,
                      str]] = [
        (TimezoneDaylight(), begin, begin_rule, std_offset, dst_offset, m["dst"]),
        (TimezoneStandard(), end, end_rule, dst_offset, std_offset, std_name)]
    for part, start, recur, before, after, name in parts:
        part.add("DTSTART", start)
        part.add("RRULE", vRecur.from_ical(recur))
        part.add("TZOFFSETFROM", before)
        part.add("TZOFFSETTO", after)
        part.add("TZNAME", name.strip("<>"))
        tz.add_component(part)
    return tz


@cache
def _vtimezone_ical(key: str, first_year: int) -> bytes:
    tz = _posix_vtimezone(key)
    if tz is None:
        tz = Timezone.from_tzid(key, first_date=date(first_year - 1, 1, 1),
                                last_date=date(first_year + 10, 1, 1))
    return bytes(tz.to_ical())


def vtimezone(key: str, first_year: int = 2026) -> Timezone:
    """The VTIMEZONE of an IANA zone (cached: computing it takes a while)."""
    parsed = Timezone.from_ical(_vtimezone_ical(key, first_year))
    assert isinstance(parsed, Timezone)
    return parsed


# --- the calendar objects ----------------------------------------------------------


def _calendar(method: str, meeting: Meeting) -> Calendar:
    cal = Calendar()
    cal.add("PRODID", PRODID)
    cal.add("VERSION", "2.0")
    cal.add("CALSCALE", "GREGORIAN")
    cal.add("METHOD", method)
    cal.add_component(vtimezone(meeting.timezone, meeting.start.year))
    return cal


def _people(event: Event, meeting: Meeting, *, organizer: tuple[str, str],
            attendees: Sequence[tuple[str, str]], request: bool) -> None:
    org = vCalAddress(f"mailto:{organizer[1]}")
    if organizer[0]:
        org.params["CN"] = organizer[0]
    event.add("ORGANIZER", org)
    for name, address in attendees:
        who = vCalAddress(f"mailto:{address}")
        if name:
            who.params["CN"] = name
        who.params["CUTYPE"] = "INDIVIDUAL"
        who.params["ROLE"] = "REQ-PARTICIPANT"
        if request:
            who.params["PARTSTAT"] = "NEEDS-ACTION"
            who.params["RSVP"] = "TRUE"
        event.add("ATTENDEE", who)


def _base_event(meeting: Meeting, *, domain: str, now: datetime) -> Event:
    event = Event()
    event.add("UID", meeting_uid(meeting, domain))
    event.add("DTSTAMP", now.astimezone(UTC))
    event.add("SEQUENCE", meeting.sequence)
    event.add("SUMMARY", f"{meeting.title} ({meeting.ref})")
    if meeting.location:
        event.add("LOCATION", meeting.location)
    return event


def _description(meeting: Meeting, agenda_refs: Sequence[str]) -> str:
    lines = [f"{meeting.title} {meeting.ref}, organisée par l'équipe via le service de "
             "coordination.", "L'ordre du jour est envoyé par messagerie sécurisée avant "
             "chaque réunion."]
    if agenda_refs:
        lines.append("Plans à l'ordre du jour : " + ", ".join(agenda_refs))
    return "\n".join(lines)


def invitation(meeting: Meeting, *, domain: str, organizer: tuple[str, str],
               attendees: Sequence[tuple[str, str]], now: datetime,
               agenda_refs: Sequence[str] = ()) -> bytes:
    """``METHOD:REQUEST``: the meeting as it stands (new or changed).
    ``organizer`` and ``attendees`` are (name, address) pairs."""
    cal = _calendar("REQUEST", meeting)
    event = _base_event(meeting, domain=domain, now=now)
    start = meeting.start.astimezone(meeting.tz)
    event.add("DTSTART", start)
    event.add("DTEND", start + meeting.duration)
    if meeting.rhythm is not None:
        event.add("RRULE", vRecur.from_ical(rrule_of(meeting.rhythm, meeting.until, start)))
        if meeting.cancelled:
            event.add("EXDATE", [meeting.at_day(d) for d in sorted(meeting.cancelled)])
    event.add("DESCRIPTION", _description(meeting, agenda_refs))
    event.add("STATUS", "CONFIRMED")
    event.add("TRANSP", "OPAQUE")
    _people(event, meeting, organizer=organizer, attendees=attendees, request=True)
    cal.add_component(event)
    return bytes(cal.to_ical())


def cancellation(meeting: Meeting, *, domain: str, organizer: tuple[str, str],
                 attendees: Sequence[tuple[str, str]], now: datetime,
                 day: date | None = None) -> bytes:
    """``METHOD:CANCEL``: the occurrence of ``day`` (``RECURRENCE-ID``), or the
    whole meeting when ``day`` is None."""
    cal = _calendar("CANCEL", meeting)
    event = _base_event(meeting, domain=domain, now=now)
    start = meeting.at_day(day) if day is not None else meeting.start.astimezone(meeting.tz)
    if day is not None and meeting.rhythm is not None:
        event.add("RECURRENCE-ID", start)
    event.add("DTSTART", start)
    event.add("DTEND", start + meeting.duration)
    if day is None and meeting.rhythm is not None:
        event.add("RRULE", vRecur.from_ical(rrule_of(meeting.rhythm, meeting.until, start)))
    event.add("STATUS", "CANCELLED")
    _people(event, meeting, organizer=organizer, attendees=attendees, request=False)
    cal.add_component(event)
    return bytes(cal.to_ical())


def attachment(data: bytes, method: str) -> OutAttachment:
    """The invitation as mail clients want it: a ``text/calendar`` alternative
    with its method (so they offer "add to calendar"), and the same as a file."""
    return OutAttachment(filename="invitation.ics" if method == "REQUEST" else "annulation.ics",
                         content_type=f"text/calendar; method={method}",
                         data=data, inline_alternative=True)



def invitation_file(meeting: Meeting, config: Config, now: datetime,
                    agenda_refs: Sequence[str] = ()) -> OutAttachment:
    """The meeting's invitation from the service, to whoever is invited now."""
    data = invitation(meeting, domain=config.message_id_domain,
                      organizer=(config.bot_name, config.bot_address),
                      attendees=names(config, participants_of(meeting, config)), now=now,
                      agenda_refs=agenda_refs)
    return attachment(data, "REQUEST")


def cancellation_file(meeting: Meeting, config: Config, now: datetime,
                      attendees: Sequence[str], day: date | None = None) -> OutAttachment:
    """The cancellation of the meeting (or of its occurrence of ``day``) to ``attendees``."""
    data = cancellation(meeting, domain=config.message_id_domain,
                        organizer=(config.bot_name, config.bot_address),
                        attendees=names(config, attendees), now=now, day=day)
    return attachment(data, "CANCEL")
