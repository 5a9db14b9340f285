"""Which follow-up reminders a care plan wants, day by day (pure computation).

For each open action of an active plan:

- on the due day of its current occurrence (``action.due``), a reminder to
  the assignee ("plan_due");
- for a recurring action, the next occurrence too, and the occurrences that
  pass while the current one is not done (the rhythm goes on: each has its
  due-day reminder), within ``overdue_days`` of today, until the current one
  is overdue (``overdue_days`` after it): from then on the weekly recalls
  say it, so that a daily action left unmarked for weeks is not re-sent
  every day;
- ``overdue_days`` after ``action.due`` if it is still not done: one overdue
  reminder to the assignee ("plan_overdue") and one note to the referent and
  each coordinator ("plan_overdue_note"), once for that occurrence;
- then, while it stays not done, a recall of both on each following
  ``RECALL_WEEKDAY`` (``FollowUp.recall``: « en retard depuis 3 semaines »),
  the next ``RECALLS_AHEAD`` of them from today (a recall sent makes the
  next ones, as meeting series do).

Nothing for a closed plan; nothing to an address outside ``roster``. The
result is a list of ``FollowUp`` values keyed per (plan, action, occurrence,
kind, recipient), so recomputing after any change is idempotent; the service
turns them into timed reminder rows at the team's local hour.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from plans.model import Action, Plan

__all__ = ["DUE", "OVERDUE", "OVERDUE_NOTE", "RECALLS_AHEAD", "RECALL_WEEKDAY", "FollowUp",
           "occurrences_to_remind", "plan_followups", "recall_days"]

DUE, OVERDUE, OVERDUE_NOTE = "plan_due", "plan_overdue", "plan_overdue_note"
RECALL_WEEKDAY = 0  # Monday: every recall of the week in the same morning's mail
RECALLS_AHEAD = 2


@dataclass(frozen=True)
class FollowUp:
    kind: str          # DUE | OVERDUE | OVERDUE_NOTE
    ref: str           # the plan
    number: int        # the action
    occurrence: date   # the occurrence it is about
    day: date          # the local day it goes out (at the team's reminder hour)
    recipient: str
    recall: bool = False  # a weekly recall of an overdue occurrence (``day`` says which)

    @property
    def key(self) -> str:
        key = (f"{self.ref}:{self.number}:{self.occurrence.isoformat()}:{self.kind}:"
               f"{self.recipient}")
        return f"{key}:{self.day.isoformat()}" if self.recall else key


def plan_followups(plan: Plan, *, today: date, overdue_days: int, roster: Collection[str],
                   coordinators: Sequence[str] = (), ahead: date | None = None
                   ) -> list[FollowUp]:
    """The follow-ups ``plan`` wants as of ``today`` (see the module docstring);
    ``ahead``: see ``occurrences_to_remind``."""
    if not plan.is_active:
        return []
    on_roster = {a.strip().lower() for a in roster}
    watchers = _unique([plan.referent, *coordinators])
    wanted: list[FollowUp] = []
    for action in plan.open_actions():
        if action.due is None:
            continue
        assignee = action.assignee.strip().lower() if action.assignee else None
        if assignee in on_roster:
            assert assignee is not None
            for occurrence in occurrences_to_remind(action, today, overdue_days, ahead):
                wanted.append(FollowUp(DUE, plan.ref, action.number, occurrence, occurrence,
                                       assignee))
        late_day = action.due + timedelta(days=overdue_days)
        recalls = recall_days(late_day, today)
        if assignee in on_roster:
            assert assignee is not None
            wanted.append(FollowUp(OVERDUE, plan.ref, action.number, action.due, late_day,
                                   assignee))
            wanted += [FollowUp(OVERDUE, plan.ref, action.number, action.due, day, assignee,
                                recall=True) for day in recalls]
        for watcher in watchers:
            if watcher != assignee and watcher in on_roster:
                wanted.append(FollowUp(OVERDUE_NOTE, plan.ref, action.number, action.due,
                                       late_day, watcher))
                wanted += [FollowUp(OVERDUE_NOTE, plan.ref, action.number, action.due, day,
                                    watcher, recall=True) for day in recalls]
    return wanted


def recall_days(late_day: date, today: date) -> list[date]:
    """The next ``RECALLS_AHEAD`` recall days (``RECALL_WEEKDAY``s after
    ``late_day``) on or after ``today``."""
    first = late_day + timedelta(days=(RECALL_WEEKDAY - late_day.weekday() - 1) % 7 + 1)
    if first < today:
        first += timedelta(weeks=-(-(today - first).days // 7))
    return [first + timedelta(weeks=n) for n in range(RECALLS_AHEAD)]


def occurrences_to_remind(action: Action, today: date, overdue_days: int,
                          ahead: date | None = None) -> list[date]:
    """The current due date, then for a recurring action the occurrences after
    it that fall within ``overdue_days`` before ``today`` or on it, those up to
    ``ahead`` (default ``today``) and the first one after it, none past the day
    the current one is overdue (the recalls take over). Bounded whatever the
    rhythm or how long ago it began.

    ``ahead`` is the last day told by the next reminders to go out: with days
    off, Friday's mail tells Saturday's and Sunday's occurrences, so their
    rows must exist before Friday's reminders leave (a row written by the
    Friday pass itself would be past its time already)."""
    assert action.due is not None
    found = [action.due]
    rhythm = action.when.rhythm
    if rhythm is None:
        return found
    start = action.start or action.due
    until = action.when.until
    late_day = action.due + timedelta(days=overdue_days)
    previous = max(action.due, today - timedelta(days=overdue_days + 1))
    while True:
        nxt = rhythm.next_after(start, previous)
        if nxt is None or (until is not None and nxt > until) or nxt > late_day:
            break
        found.append(nxt)
        if nxt > max(today, ahead or today):
            break
        previous = nxt
    return found


def _unique(addresses: Sequence[str | None]) -> list[str]:
    seen: list[str] = []
    for address in addresses:
        if address:
            a = address.strip().lower()
            if a not in seen:
                seen.append(a)
    return seen
