"""Reconciling a source's reminder rows without moving what is being sent.

``tx.replace_reminders`` makes a source's pending rows exactly the specs it is
given. The specs are worked out from ``now`` (``times.reminder_instant``: a
reminder whose working-day time has passed moves to the next time still
ahead), and reconciles run during the engine's passes, which wake a moment
after the reminder hour. Without care, the first row a pass composes would
reconcile its plan or meeting a few milliseconds past 08:00 and move the
other rows due at 08:00 (the next participants' J-1 of a Monday meeting, a
daily action's Saturday told on Friday) to a day off, one after the other.
So a row already due keeps its time: it goes out in this pass or the next.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from esp_coord.ports import UnitOfWork
from esp_coord.store.reminders import Reminder, ReminderSpec, keeping
from plans.days_off import DaysOff

__all__ = ["reconcile"]


def reconcile(tx: UnitOfWork, source_ref: str, specs: list[ReminderSpec], now: datetime,
              keep: Reminder | None = None, *, days_off: DaysOff, tz: ZoneInfo) -> None:
    """``tx.replace_reminders(source_ref, specs)``, with ``keep`` (the row being
    sent) as planned and every pending row due by ``now`` left at its time
    when its spec would only make it later (see the module docstring).

    Only a time that passed is moved, and always to a day off (the days
    between a working day and the one it told are off): without such a spec
    there is nothing to hold, and the source's rows are not read."""
    specs = keeping(specs, keep)
    if any(days_off.is_off(s.due_at.astimezone(tz).date()) for s in specs):
        due = {row.key: row.due_at for row in tx.reminders_of(source_ref, status="pending")
               if row.due_at <= now}
        specs = [replace(s, due_at=due[s.key]) if s.key in due and s.due_at > due[s.key] else s
                 for s in specs]
    tx.replace_reminders(source_ref, specs, now)
