"""Who came to the concertation meetings of a period, and who said they would.

Two sources, never mixed: the minutes' « Présents : » line says who was
there (``present``: actual attendance, for the meetings held, i.e. with
minutes); the participants' calendar answers (``plans.attendance``) say who
intended to come (``intended``: invitations accepted, the latest answer of
each person for that day), for every day of the period's meetings that was
held or answered.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from esp_coord.access import participants_among
from esp_coord.config import Member
from esp_coord.roster import people_of_members
from plans.attendance import ACCEPTED, STATUS_LABELS, answers_on, named_present
from plans.meetings import Held, Meeting
from plans.people import profession_name
from plans.periods import Period

__all__ = ["Attendance", "attendance", "present"]


def present(meeting: Meeting, held: Held, members: Sequence[Member]) -> list[Member]:
    """Who the minutes' « Présents : » line names (``plans.attendance.named_present``)."""
    people = {m.email: m for m in members}
    named = named_present(held.notes, participants=participants_among(meeting, members),
                          roster=people_of_members(members))
    return [] if named is None else [people[p.email] for p in named[0]]


@dataclass(frozen=True)
class Attendance:
    present: dict[str, int]  # meeting (its date) -> people named present
    intended: dict[str, int]  # meeting (its date) -> invitations accepted
    present_by_profession: Counter[str]
    intended_by_profession: Counter[str]
    answers: Counter[str]  # « acceptées », « refusées »... over the period's days


def attendance(meetings: Sequence[Meeting], period: Period,
               members: Sequence[Member]) -> Attendance:
    profession_of = {m.email: m.profession for m in members}
    held: dict[tuple[str, date], tuple[Meeting, Held]] = {}
    answered: dict[tuple[str, date], dict[str, str]] = {}
    for meeting in meetings:
        for h in meeting.held:
            if h.day in period:
                held[(meeting.ref, h.day)] = (meeting, h)
        days = {h.day for h in meeting.held if h.day in period}
        days.update(meeting.days_between(period.start, period.end))
        for day in sorted(days):
            statuses = answers_on(meeting.replies, day)
            if statuses:
                answered[(meeting.ref, day)] = statuses
    occurrences = sorted({*held, *answered}, key=lambda key: (key[1], key[0]))
    shared = Counter(day for _, day in occurrences)

    def label(ref: str, day: date) -> str:
        # Two meetings the same day are told apart by their reference.
        return f"{day:%d/%m/%Y}" + (f" ({ref})" if shared[day] > 1 else "")

    present_count: dict[str, int] = {}
    present_prof: Counter[str] = Counter()
    for (ref, day), (meeting, h) in sorted(held.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        people = present(meeting, h, members)
        present_count[label(ref, day)] = len(people)
        present_prof.update(profession_name(p.profession) for p in people)
    intended: dict[str, int] = {}
    intended_prof: Counter[str] = Counter()
    answers: Counter[str] = Counter()
    for key in occurrences:
        statuses = answered.get(key, {})
        coming = [a for a, s in statuses.items() if s == ACCEPTED]
        intended[label(*key)] = len(coming)
        intended_prof.update(profession_name(profession_of.get(a, "autre")) for a in coming)
        answers.update(STATUS_LABELS[s] for s in statuses.values())
    return Attendance(present_count, intended, present_prof, intended_prof, answers)
