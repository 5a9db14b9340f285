"""Which follow-up reminders a care plan wants, day by day (pure computation).

For each open action of an active plan:

- on the due day of its current occurrence (``action.due``), a reminder to
  the assignee ("plan_due");
- for a recurring action, the next occurrence too, and the occurrences that
  pass while the current one is not done (the rhythm goes on: each has its
  due-day reminder), within ``overdue_days`` of today;
- ``overdue_days`` after ``action.due`` if it is still not done: one overdue
  reminder to the assignee ("plan_overdue") and one note to the referent and
  each coordinator ("plan_overdue_note"), once for that occurrence.

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

__all__ = ["DUE", "OVERDUE", "OVERDUE_NOTE", "FollowUp", "occurrences_to_remind",
           "plan_followups"]

DUE, OVERDUE, OVERDUE_NOTE = "plan_due", "plan_overdue", "plan_overdue_note"


@dataclass(frozen=True)
class FollowUp:
    kind: str          # DUE | OVERDUE | OVERDUE_NOTE
    ref: str           # the plan
    number: int        # the action
    occurrence: date   # the occurrence it is about
    day: date          # the local day it goes out (at the team's reminder hour)
    recipient: str

    @property
    def key(self) -> str:
        return (f"{self.ref}:{self.number}:{self.occurrence.isoformat()}:{self.kind}:"
                f"{self.recipient}")


def plan_followups(plan: Plan, *, today: date, overdue_days: int, roster: Collection[str],
                   coordinators: Sequence[str] = ()) -> list[FollowUp]:
    """The follow-ups ``plan`` wants as of ``today`` (see the module docstring)."""
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
            for occurrence in occurrences_to_remind(action, today, overdue_days):
                wanted.append(FollowUp(DUE, plan.ref, action.number, occurrence, occurrence,
                                       assignee))
        late_day = action.due + timedelta(days=overdue_days)
        if assignee in on_roster:
            assert assignee is not None
            wanted.append(FollowUp(OVERDUE, plan.ref, action.number, action.due, late_day,
                                   assignee))
        for watcher in watchers:
            if watcher != assignee and watcher in on_roster:
                wanted.append(FollowUp(OVERDUE_NOTE, plan.ref, action.number, action.due,
                                       late_day, watcher))
    return wanted


def occurrences_to_remind(action: Action, today: date, overdue_days: int) -> list[date]:
    """The current due date, then for a recurring action the occurrences after
    it that fall within ``overdue_days`` before ``today`` or on it, and the first
    one after ``today``. Bounded whatever the rhythm or how long ago it began."""
    assert action.due is not None
    found = [action.due]
    rhythm = action.when.rhythm
    if rhythm is None:
        return found
    start = action.start or action.due
    until = action.when.until
    previous = max(action.due, today - timedelta(days=overdue_days + 1))
    while True:
        nxt = rhythm.next_after(start, previous)
        if nxt is None or (until is not None and nxt > until):
            break
        found.append(nxt)
        if nxt > today:
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
