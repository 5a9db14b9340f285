"""A participant's calendar answer to one of our invitations (iTIP REPLY, RFC
5546, sent by mail as iMIP, RFC 6047), read from untrusted text.

What Outlook, Thunderbird, Apple Calendar and Gmail send when someone clicks
« Accepter » : a ``text/calendar; method=REPLY`` part holding one VEVENT per
answer (the whole meeting, and one per day answered differently, with
``RECURRENCE-ID``), each naming the invitation's ``UID`` and the one
``ATTENDEE`` who answers, with a ``PARTSTAT``.

Bounded before the icalendar library sees anything: the part is at most
``MAX_CALENDAR_BYTES`` (``intake.calendar_part`` checks before decoding), and
a linear scan keeps only the lines the answer needs (``METHOD`` of the
calendar; ``UID``, ``ATTENDEE``, ``RECURRENCE-ID``, ``SEQUENCE`` of its
top-level VEVENTs), each line and their total bounded too. VTIMEZONE, VALARM
(whose ATTENDEE is an alarm's address, not a participant), DESCRIPTION and
whatever a client adds are left out: icalendar then parses a few hundred
bytes, whatever arrived. Never raises: what cannot be read is a problem code.

The day answered is the ``RECURRENCE-ID``'s date where it is written (its
wall-clock date, whatever the ``TZID``: clients echo the organiser's local
start, Outlook under a Windows zone name), converted to the team's timezone
only when it is in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from icalendar import Calendar

from plans.attendance import STATUSES

__all__ = ["AUDIT_RECORDED", "AUDIT_REFUSED", "MAX_CALENDAR_BYTES", "PROBLEMS", "DayAnswer",
           "ItipReply", "meeting_ref_of_uid", "read_reply"]

MAX_CALENDAR_BYTES = 64 * 1024  # a real REPLY is 1 to 5 kB (Outlook's with its VTIMEZONE)
_MAX_LINE = 1000
_MAX_KEPT = 16 * 1024
_MAX_EVENTS = 60
_MAX_DEPTH = 8
_TOP = frozenset(("METHOD",))
_EVENT = frozenset(("UID", "ATTENDEE", "RECURRENCE-ID", "SEQUENCE"))
_CALENDAR, _VEVENT = ["VCALENDAR"], ["VCALENDAR", "VEVENT"]

# The audit trail's actions for an answer (``handlers.calendar``): one record
# per answer recorded (detail « accepted 2026-12-03 », « declined all »), from
# which ``report.verify`` recounts the figures; one per answer refused, with
# its problem code.
AUDIT_RECORDED, AUDIT_REFUSED = "calendar-reply", "calendar-reply-refused"

# Why an answer was not recorded (English codes, for the audit trail and logs).
PROBLEMS = {
    "unreadable": "no calendar part, too large, or not valid iCalendar",
    "not-reply": "a calendar message that is not an answer (METHOD is not REPLY)",
    "no-attendee": "no ATTENDEE of the answer is the mail's sender",
    "no-status": "the sender's ATTENDEE carries no answer (PARTSTAT)",
    "several-uids": "the answer names more than one calendar object",
    "unknown-meeting": "the UID is not one of the team's meetings",
    "unknown-day": "no day answered is one of the meeting's days",
}


@dataclass(frozen=True)
class DayAnswer:
    day: date | None  # None: the whole meeting
    status: str  # one of plans.attendance.STATUSES


@dataclass(frozen=True)
class ItipReply:
    uid: str
    attendee: str  # the sender, as the ATTENDEE names them (lower case)
    sequence: int
    answers: tuple[DayAnswer, ...]


def meeting_ref_of_uid(uid: str, domain: str) -> str | None:
    """``RCP-2026-001`` from ``RCP-2026-001@<our domain>`` (``invitations.meeting_uid``)."""
    ref, at, uid_domain = uid.strip().rpartition("@")
    if not at or uid_domain.lower() != domain.lower():
        return None
    parts = ref.split("-")
    if len(parts) != 3 or parts[0] != "RCP" or not all(
            p.isascii() and p.isdigit() for p in parts[1:]) or (len(parts[1]),
                                                             len(parts[2])) != (4, 3):
        return None
    return ref


def _name_end(line: str) -> int:
    ends = [i for i in (line.find(";"), line.find(":")) if i >= 0]
    return min(ends) if ends else -1


def _essentials(text: str) -> str | None:
    """The lines an answer needs, as an iCalendar text, or None when the
    structure is broken or over the bounds. One pass, linear in ``text``."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\n ", "").replace("\n\t", "")  # unfolding (RFC 5545 3.1)
    stack: list[str] = []
    kept: list[str] = []
    size = events = 0
    for line in text.split("\n"):
        end = _name_end(line)
        if end < 0:
            continue  # blank, or no property: nothing the answer needs
        name = line[:end].strip().upper()
        if name in ("BEGIN", "END"):
            value = line[end + 1:].strip().upper()
            if name == "BEGIN":
                if len(stack) >= _MAX_DEPTH:
                    return None
                stack.append(value)
                keep = stack in (_CALENDAR, _VEVENT)
                events += stack == _VEVENT
                if events > _MAX_EVENTS:
                    return None
            else:
                if not stack or stack[-1] != value:
                    return None
                keep = stack in (_CALENDAR, _VEVENT)
                stack.pop()
            if keep:
                kept.append(f"{name}:{value}")
            continue
        if (stack == _CALENDAR and name in _TOP) or (stack == _VEVENT and name in _EVENT):
            if len(line) > _MAX_LINE:
                return None
            size += len(line)
            if size > _MAX_KEPT:
                return None
            kept.append(line)
    if stack or not events:
        return None
    return "\r\n".join(kept) + "\r\n"


def _address(value: object) -> str:
    text = str(value).strip()
    if text[:7].lower() == "mailto:":
        text = text[7:]
    return text.strip().lower()


def _day(event: object, tz: ZoneInfo) -> date | None | str:
    """The day a VEVENT answers, None for the whole meeting, "unreadable"."""
    rid = event.get("RECURRENCE-ID")  # type: ignore[attr-defined]
    if rid is None:
        return None
    value = getattr(rid, "dt", None)
    if isinstance(value, datetime):
        if value.tzinfo is not None and "TZID" not in getattr(rid, "params", {}):
            return value.astimezone(tz).date()  # in UTC (« …Z »): the team's day
        return value.date()  # its wall-clock date, as written
    if isinstance(value, date):
        return value
    return "unreadable"


def _sequence(event: object) -> int:
    try:
        return max(0, int(event.get("SEQUENCE", 0)))  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        return 0


def read_reply(method: str, text: str, *, sender: str, tz: ZoneInfo) -> ItipReply | str:
    """The answer of ``sender`` in a calendar part (``method``: its MIME
    parameter), or a ``PROBLEMS`` code. Never raises."""
    if len(text) > MAX_CALENDAR_BYTES:
        return "unreadable"
    kept = _essentials(text)
    if kept is None:
        return "unreadable"
    try:
        return _read(method, kept, sender=sender, tz=tz)
    except Exception:  # noqa: BLE001 - whatever the library makes of it: not an answer
        # The exception is not logged: its message quotes the calendar.
        return "unreadable"


def _read(method: str, kept: str, *, sender: str, tz: ZoneInfo) -> ItipReply | str:
    cal = Calendar.from_ical(kept)
    if not isinstance(cal, Calendar):
        return "unreadable"
    written = str(cal.get("METHOD", "")).strip().upper()
    if (written or method.strip().upper()) != "REPLY":
        return "not-reply"
    uids: set[str] = set()
    answers: list[DayAnswer] = []
    sequence = 0
    for event in cal.walk("VEVENT"):
        uids.add(str(event.get("UID", "")).strip())
        attendees = event.get("ATTENDEE", [])
        if not isinstance(attendees, list):
            attendees = [attendees]
        mine = [a for a in attendees if _address(a) == sender]
        if not mine:
            continue
        status = str(getattr(mine[0], "params", {}).get("PARTSTAT", "")).strip().lower()
        if status not in STATUSES:
            return "no-status"
        day = _day(event, tz)
        if isinstance(day, str):
            return day
        answers.append(DayAnswer(day, status))
        sequence = max(sequence, _sequence(event))
    if len(uids) != 1 or "" in uids:
        return "several-uids" if len(uids) > 1 else "unreadable"
    if not answers:
        return "no-attendee"
    return ItipReply(uids.pop(), sender, sequence, tuple(answers))
