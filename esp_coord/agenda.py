"""Meeting agendas as the service shows them: what an occurrence discusses, as
one reader may see it, and the next meeting that discusses a plan. Pure:
callers pass the meetings and plans they loaded (``meeting_repo``,
``plan_repo``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime

from esp_coord import access
from esp_coord.config import Member
from plans.meeting_render import AgendaView, describe_start
from plans.meetings import Meeting, agenda
from plans.model import Plan

__all__ = ["describe_next", "next_meeting", "view_for"]


def view_for(member: Member | None, meeting: Meeting, day: date, plans: Sequence[Plan],
             today: date, *, late_after: int, absent: Sequence[str] = ()) -> AgendaView:
    """The agenda of the occurrence of ``day``, naming only the patients of the
    plans ``member`` may read (``access.readable_refs``); ``late_after``: the
    team's ``[reminders] overdue_days`` (``plans.meetings.agenda``);
    ``absent``: the participants away that day, as the agenda says them."""
    items = agenda(plans, hand=meeting.plans, day=day, today=today, late_after=late_after)
    by_ref = {p.ref: p for p in plans}
    readable = access.readable_refs(member, (by_ref[i.ref] for i in items))
    return AgendaView(items, {i.ref: by_ref[i.ref].patient.display_name for i in items
                              if i.ref in readable}, tuple(absent))


def next_meeting(plan: Plan, meetings: Iterable[Meeting], now: datetime, today: date, *,
                 late_after: int) -> tuple[datetime, Meeting] | None:
    """The next occurrence, among ``meetings``, whose agenda holds ``plan``
    (the earliest; the first meeting given on a tie)."""
    if not plan.is_active:
        return None
    best: tuple[datetime, Meeting] | None = None
    for meeting in meetings:
        start = meeting.next_occurrence(now)
        if start is None or (best is not None and start >= best[0]):
            continue
        if agenda([plan], hand=meeting.plans, day=start.date(), today=today,
                  late_after=late_after):
            best = (start, meeting)
    return best


def describe_next(found: tuple[datetime, Meeting] | None) -> str | None:
    """« jeudi 3 décembre 2026 à 12h30 (RCP-2026-001, salle …) », or None."""
    if found is None:
        return None
    start, meeting = found
    where = f", {meeting.location}" if meeting.location else ""
    return f"{describe_start(start)} ({meeting.ref}{where})"
