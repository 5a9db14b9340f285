"""Concertation meetings (RCP): the ``Meeting`` and what happens to it.

A ``Meeting`` (``RCP-2026-001``) starts at an aware local time in the team's
timezone and may recur (a ``plans.recurrence.Rhythm``, computed by
``dateutil.rrule``). Occurrences are identified by their local calendar day:
the rhythms professionals use never put two occurrences on one day.

Rules decided here (``docs/guide.md`` tells users the same):

- Wall-clock time is what is kept: a meeting at 12:30 Europe/Paris stays at
  12:30 across the daylight-saving changes (each occurrence is the local day
  combined with the local time, then converted).
- Cancelling one occurrence adds its day to ``cancelled`` (iCalendar EXDATE);
  cancelling a one-off meeting or the series sets ``status`` to "cancelled".
  Every change of what a calendar shows bumps ``sequence`` (iCalendar SEQUENCE).
- A compte-rendu marks one occurrence held, with its decisions (plan ref,
  text). Plans added by hand stay on the agenda until a decision about them is
  recorded.
- Agenda of an occurrence: the team's active plans whose review date falls on
  or before the meeting day, those with overdue actions, and those added by
  hand (``agenda``).
- A decision is added to its plan as a note naming the meeting, and the plan
  is marked reviewed: its review date moves to the meeting day plus
  ``REVIEW_AFTER`` (6 months), so it leaves the following agendas until then.
- A participant's calendar answer (iTIP REPLY) is kept in ``replies``
  (``plans.attendance``): who said they would come, which the minutes'
  « Présents : » line confirms or not.

``to_dict()``/``from_dict()`` give a JSON-safe form (ISO strings) for the
encrypted store; the round trip is lossless.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from plans.attendance import CalendarReply, with_reply
from plans.dates import format_date, format_date_long, format_time
from plans.model import Entry, Note, Plan, PlanError, Version
from plans.recurrence import Rhythm

__all__ = ["ACTIVE", "CANCELLED", "REVIEW_AFTER", "AgendaItem", "Decision", "Held", "Meeting",
           "MeetingError", "agenda", "describe_start", "record_decision"]

ACTIVE, CANCELLED = "active", "cancelled"
REVIEW_AFTER = relativedelta(months=6)
# Bounds the search for occurrences (a weekly meeting over ~20 years).
_MAX_STEPS = 1000


class MeetingError(ValueError):
    """An operation the meeting's state forbids. ``code`` is stable, for answers:
    "cancelled" (series cancelled), "no_occurrence" (no meeting that day),
    "occurrence_cancelled" (that day already cancelled), "not_yet" (no
    occurrence has started yet), "already_held" (compte-rendu already given)."""

    def __init__(self, code: str, ref: str, day: date | None = None) -> None:
        self.code, self.ref, self.day = code, ref, day
        super().__init__(f"{ref}: {code}" + (f" ({day.isoformat()})" if day else ""))


@dataclass(frozen=True)
class Decision:
    plan: str  # PPS-AAAA-NNNN
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"plan": self.plan, "text": self.text}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Decision:
        return cls(d["plan"], d["text"])


@dataclass
class Held:
    """One occurrence that took place, as its compte-rendu tells."""

    day: date
    by: str
    at: datetime
    decisions: list[Decision] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    source_message_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"day": self.day.isoformat(), "by": self.by, "at": self.at.isoformat(),
                "decisions": [d.to_dict() for d in self.decisions], "notes": list(self.notes),
                "source_message_id": self.source_message_id}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Held:
        return cls(date.fromisoformat(d["day"]), d["by"], datetime.fromisoformat(d["at"]),
                   [Decision.from_dict(x) for x in d.get("decisions", [])],
                   list(d.get("notes", [])), d.get("source_message_id"))


@dataclass
class Meeting:
    ref: str
    start: datetime  # first occurrence, aware, in ``timezone``
    duration_minutes: int
    location: str
    participants: list[str]  # addresses
    organizer: str  # the member who planned it
    created_at: datetime
    timezone: str  # IANA key, e.g. "Europe/Paris"
    rhythm: Rhythm | None = None
    until: date | None = None  # last possible day of a recurring meeting, included
    everyone: bool = False  # « Participants : tous »: whoever is on the roster
    plans: list[str] = field(default_factory=list)  # added by hand, still to discuss
    title: str = "Réunion de concertation pluriprofessionnelle"
    notes: list[str] = field(default_factory=list)
    status: str = ACTIVE
    sequence: int = 0
    cancelled: list[date] = field(default_factory=list)
    held: list[Held] = field(default_factory=list)
    history: list[Entry] = field(default_factory=list)
    # The participants' calendar answers (``plans.attendance``): one per person and day.
    replies: list[CalendarReply] = field(default_factory=list)

    # --- time -------------------------------------------------------------------

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def duration(self) -> timedelta:
        return timedelta(minutes=self.duration_minutes)

    @property
    def is_active(self) -> bool:
        return self.status == ACTIVE

    @property
    def recurring(self) -> bool:
        return self.rhythm is not None

    def at_day(self, day: date) -> datetime:
        """The local start on ``day`` (wall-clock time kept across DST)."""
        local = self.start.astimezone(self.tz)
        return datetime.combine(day, time(local.hour, local.minute), tzinfo=self.tz)

    def _days(self, from_day: date) -> Iterator[date]:
        """Scheduled days on or after ``from_day`` (cancelled ones included)."""
        first = self.start.astimezone(self.tz).date()
        if self.rhythm is None:
            if first >= from_day:
                yield first
            return
        day: date | None = first if first >= from_day else self.rhythm.next_after(
            first, from_day - timedelta(days=1))
        steps = 0
        while day is not None and steps < _MAX_STEPS:
            if self.until is not None and day > self.until:
                return
            yield day
            day = self.rhythm.next_after(first, day)
            steps += 1

    def is_scheduled(self, day: date) -> bool:
        """Whether ``day`` is one of the meeting's days (cancelled or not)."""
        return next(self._days(day), None) == day

    def occurrences(self, after: datetime, count: int = 1) -> list[datetime]:
        """The next ``count`` occurrences (local starts) not cancelled, that end
        after ``after``: a meeting under way still counts as next."""
        if not self.is_active:
            return []
        found: list[datetime] = []
        from_day = (after - self.duration).astimezone(self.tz).date()
        for day in self._days(from_day):
            if day in self.cancelled:
                continue
            start = self.at_day(day)
            if start + self.duration <= after:
                continue
            found.append(start)
            if len(found) >= count:
                break
        return found

    def next_occurrence(self, after: datetime) -> datetime | None:
        found = self.occurrences(after, 1)
        return found[0] if found else None

    def last_started(self, now: datetime) -> datetime | None:
        """The latest occurrence (not cancelled) that has started by ``now``."""
        first = self.start.astimezone(self.tz).date()
        latest: datetime | None = None
        for day in self._days(first):
            start = self.at_day(day)
            if start > now:
                break
            if day not in self.cancelled:
                latest = start
        return latest

    def held_on(self, day: date) -> Held | None:
        return next((h for h in self.held if h.day == day), None)

    def days_between(self, first: date, last: date) -> list[date]:
        """The scheduled days from ``first`` to ``last`` (included), cancelled
        days left out; none for a cancelled series."""
        if not self.is_active:
            return []
        days: list[date] = []
        for day in self._days(first):
            if day > last:
                break
            if day not in self.cancelled:
                days.append(day)
        return days

    # --- changes ----------------------------------------------------------------

    def cancel_occurrence(self, day: date, *, by: str, at: datetime) -> None:
        """Cancel the occurrence of ``day``; for a one-off meeting, the meeting."""
        self._require_active()
        if not self.is_scheduled(day):
            raise MeetingError("no_occurrence", self.ref, day)
        if day in self.cancelled:
            raise MeetingError("occurrence_cancelled", self.ref, day)
        if self.rhythm is None:
            self.cancel(by=by, at=at)
            return
        self.cancelled.append(day)
        self.sequence += 1
        self.history.append(Entry(at, by, "occurrence_cancelled", day.isoformat()))

    def cancel(self, *, by: str, at: datetime) -> None:
        self._require_active()
        self.status = CANCELLED
        self.sequence += 1
        self.history.append(Entry(at, by, "cancelled"))

    def add_plans(self, refs: Sequence[str]) -> list[str]:
        """Add plans to discuss; returns those that were not there yet."""
        fresh = [r for r in dict.fromkeys(refs) if r not in self.plans]
        self.plans.extend(fresh)
        return fresh

    def record_report(self, day: date, decisions: Sequence[Decision], *, by: str, at: datetime,
                      notes: Sequence[str] = (), source_message_id: str | None = None) -> Held:
        """The compte-rendu of the occurrence of ``day``: marked held, its
        decisions kept, the plans decided upon leave the hand-made agenda."""
        if not self.is_scheduled(day):
            raise MeetingError("no_occurrence", self.ref, day)
        if day in self.cancelled:
            raise MeetingError("occurrence_cancelled", self.ref, day)
        if self.held_on(day) is not None:
            raise MeetingError("already_held", self.ref, day)
        held = Held(day, by, at, list(decisions), list(notes), source_message_id)
        self.held.append(held)
        decided = {d.plan for d in decisions}
        self.plans = [p for p in self.plans if p not in decided]
        self.history.append(Entry(at, by, "held", day.isoformat()))
        return held

    def record_reply(self, reply: CalendarReply) -> None:
        """A participant's calendar answer: kept in place of their earlier one
        about the same day (or the whole meeting). Not a change of what the
        calendars show: the sequence stays."""
        self.replies = with_reply(self.replies, reply)

    def _require_active(self) -> None:
        if not self.is_active:
            raise MeetingError("cancelled", self.ref)

    # --- words ------------------------------------------------------------------

    def describe_when(self) -> str:
        """« le jeudi 3 décembre 2026 à 12h30 (1h30), le premier jeudi de chaque mois »."""
        text = f"{describe_start(self.start.astimezone(self.tz))} ({_duration(self.duration)})"
        if self.rhythm is not None:
            text += f", {self.rhythm.describe()}"
            if self.until is not None:
                text += f" jusqu'au {format_date(self.until)}"
        return text

    # --- storage ----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref, "start": self.start.isoformat(),
            "duration_minutes": self.duration_minutes, "location": self.location,
            "participants": list(self.participants), "organizer": self.organizer,
            "created_at": self.created_at.isoformat(), "timezone": self.timezone,
            "rhythm": self.rhythm.to_dict() if self.rhythm else None,
            "until": self.until.isoformat() if self.until else None,
            "everyone": self.everyone, "plans": list(self.plans), "title": self.title,
            "notes": list(self.notes), "status": self.status, "sequence": self.sequence,
            "cancelled": [d.isoformat() for d in self.cancelled],
            "held": [h.to_dict() for h in self.held],
            "history": [h.to_dict() for h in self.history],
            "replies": [r.to_dict() for r in self.replies],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Meeting:
        tz = ZoneInfo(d["timezone"])
        return cls(
            ref=d["ref"], start=datetime.fromisoformat(d["start"]).astimezone(tz),
            duration_minutes=int(d["duration_minutes"]), location=d.get("location", ""),
            participants=list(d["participants"]), organizer=d["organizer"],
            created_at=datetime.fromisoformat(d["created_at"]), timezone=d["timezone"],
            rhythm=Rhythm.from_dict(d["rhythm"]) if d.get("rhythm") else None,
            until=date.fromisoformat(d["until"]) if d.get("until") else None,
            everyone=bool(d.get("everyone", False)), plans=list(d.get("plans", [])),
            title=d.get("title") or cls.title, notes=list(d.get("notes", [])),
            status=d.get("status", ACTIVE), sequence=int(d.get("sequence", 0)),
            cancelled=[date.fromisoformat(x) for x in d.get("cancelled", [])],
            held=[Held.from_dict(h) for h in d.get("held", [])],
            history=[Entry.from_dict(h) for h in d.get("history", [])],
            replies=[CalendarReply.from_dict(r) for r in d.get("replies", [])],
        )


def describe_start(start: datetime) -> str:
    """« jeudi 3 décembre 2026 à 12h30 »."""
    return f"{format_date_long(start.date())} à {format_time(start.time())}"


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours}h{rest:02d}" if rest else f"{hours}h"


# --- agenda and decisions ------------------------------------------------------


@dataclass(frozen=True)
class AgendaItem:
    ref: str
    reasons: tuple[str, ...]  # "review", "overdue", "hand"
    review_date: date | None = None
    overdue: int = 0  # number of overdue actions


def agenda(plans: Sequence[Plan], *, hand: Sequence[str], day: date,
           today: date, late_after: int = 0) -> list[AgendaItem]:
    """What the occurrence of ``day`` discusses: active plans whose review date
    falls on or before ``day``, with actions overdue on ``today`` by more than
    ``late_after`` days (the team's delay before an action is told overdue: a
    plan written yesterday is no subject for a meeting), or added by hand
    (refs of plans not in ``plans`` are left out: closed or unknown)."""
    items: list[AgendaItem] = []
    for plan in sorted(plans, key=lambda p: p.ref):
        if not plan.is_active:
            continue
        reasons: list[str] = []
        if plan.review_date is not None and plan.review_date <= day:
            reasons.append("review")
        late = len(plan.overdue(today - timedelta(days=late_after)))
        if late:
            reasons.append("overdue")
        if plan.ref in hand:
            reasons.append("hand")
        if reasons:
            items.append(AgendaItem(plan.ref, tuple(reasons), plan.review_date, late))
    return items


def record_decision(plan: Plan, text: str, *, meeting_ref: str, day: date, by: str,
                    at: datetime, source_message_id: str | None) -> date:
    """Add a meeting's decision to ``plan`` as a note and mark it reviewed:
    the review date moves to ``day + REVIEW_AFTER``. Returns the new review date.
    The author does not join the plan's team (unlike ``Plan.apply``)."""
    if not plan.is_active:
        raise PlanError("closed", plan.ref)
    review: date = day + REVIEW_AFTER
    plan.notes.append(Note(f"Décision de la concertation {meeting_ref} du {format_date(day)} : "
                           f"{text}", by, at))
    plan.review_date = review
    plan.versions.append(Version(plan.version + 1, by, at, source_message_id,
                                 f"concertation {meeting_ref} du {format_date(day)} : décision "
                                 f"notée, réévaluation le {format_date(review)}"))
    return review
