"""Reminder rows in memory: ``ReminderOps`` (reminders.py) on the memory tables.

The same states, reconciliation and ordering (due time, then id); rows are
``Reminder`` records replaced whole, payloads kept as the SQL store gives
them back (through its JSON).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime

from esp_coord.store.memory_base import MemoryTxBase, json_copy, utc
from esp_coord.store.reminders import REMINDER_STATUSES, Reconciled, Reminder, ReminderSpec


def _recipient(address: str) -> str:
    return address.strip().lower()


def _matches(row: Reminder, spec: ReminderSpec) -> bool:
    return ((row.kind, row.recipient, row.due_at) ==
            (spec.kind, _recipient(spec.recipient), spec.due_at)
            and row.payload == json_copy(spec.payload))


class MemoryReminderOps(MemoryTxBase):
    __slots__ = ()

    def replace_reminders(self, source_ref: str, specs: Iterable[ReminderSpec],
                                now: datetime) -> Reconciled:
        """Make the source's pending reminders exactly ``specs`` (see reminders.py).

        Sent and dropped rows are never touched nor re-created; pending rows of
        the source not in ``specs`` are cancelled; a cancelled row named again
        comes back if its time is still ahead.
        """
        wanted: dict[str, ReminderSpec] = {}
        for spec in specs:
            if spec.source_ref != source_ref:
                raise ValueError("a spec of another source given to replace_reminders")
            wanted[spec.key] = spec
        now = utc(now)
        known = {r.key: r for r in self._read("reminders").values()
                 if r.source_ref == source_ref}
        stale = [r for r in known.values() if r.status == "pending" and r.key not in wanted]
        updated = 0
        for key, spec in wanted.items():
            row = known.get(key)
            if row is None:
                continue
            if ((row.status == "pending" and not _matches(row, spec))
                    or (row.status == "cancelled" and spec.due_at >= now)):
                self._write("reminders")[row.id] = replace(
                    row, kind=spec.kind, recipient=_recipient(spec.recipient),
                    due_at=utc(spec.due_at), status="pending",
                    payload=json_copy(spec.payload))
                updated += 1
        fresh = [spec for key, spec in wanted.items() if key not in known and spec.due_at >= now]
        inserted = self.add_reminders(fresh, now) if fresh else 0
        for row in stale:
            self._write("reminders")[row.id] = replace(row, status="cancelled")
        return Reconciled(inserted=inserted, updated=updated, cancelled=len(stale))

    def add_reminders(self, specs: Sequence[ReminderSpec], now: datetime) -> int:
        """Insert new rows as they are (no past-time filter), skipping keys that exist."""
        now = utc(now)
        inserted = 0
        for s in specs:
            if s.key in self._read("reminder_keys"):
                continue
            row_id = self._new_id("reminders")
            self._write("reminders")[row_id] = Reminder(
                id=row_id, key=s.key, kind=s.kind, source_ref=s.source_ref,
                recipient=_recipient(s.recipient), due_at=utc(s.due_at), status="pending",
                payload=json_copy(s.payload), created_at=now, sent_at=None, late=False)
            self._write("reminder_keys")[s.key] = row_id
            inserted += 1
        return inserted

    def reminders_due(self, until: datetime, limit: int = 100, *,
                            after: tuple[datetime, int] | None = None,
                            recipient: str | None = None,
                            kinds: Iterable[str] | None = None) -> list[Reminder]:
        """Pending reminders due at or before ``until``, oldest first.

        ``after`` = (due_at, id) of the last row of the previous batch (keyset
        paging); ``recipient`` and ``kinds`` narrow the search (daily digests)."""
        until = utc(until)
        start = None if after is None else (utc(after[0]), after[1])
        who = None if recipient is None else _recipient(recipient)
        wanted = None if kinds is None else set(kinds)
        rows = sorted((r for r in self._read("reminders").values()
                       if r.status == "pending" and r.due_at <= until
                       and (start is None or (r.due_at, r.id) > start)
                       and (who is None or r.recipient == who)
                       and (wanted is None or r.kind in wanted)),
                      key=lambda r: (r.due_at, r.id))
        return [self._copy(r) for r in rows[:limit]]

    def next_reminder_due(self) -> datetime | None:
        """When the earliest pending reminder is due."""
        return min((r.due_at for r in self._read("reminders").values()
                    if r.status == "pending"), default=None)

    def reminder(self, reminder_id: int) -> Reminder | None:
        row = self._read("reminders").get(reminder_id)
        return None if row is None else self._copy(row)

    def reminders_of(self, source_ref: str, *, status: str | None = None
                           ) -> list[Reminder]:
        """Every row of a source (any status unless given), in due order."""
        rows = sorted((r for r in self._read("reminders").values()
                       if r.source_ref == source_ref and (status is None or r.status == status)),
                      key=lambda r: (r.due_at, r.id))
        return [self._copy(r) for r in rows]

    def mark_reminder_sent(self, reminder_id: int, now: datetime, late: bool) -> bool:
        """pending -> sent. False (nothing changed) if the row is not pending."""
        return self._finish(reminder_id, "sent", now, late)

    def mark_reminder_dropped(self, reminder_id: int, now: datetime) -> bool:
        """pending -> dropped: due, but nothing to send."""
        return self._finish(reminder_id, "dropped", now, False)

    def mark_reminder_failed(self, reminder_id: int, now: datetime) -> bool:
        """pending -> failed: composing it raised (a bug); kept for inspection."""
        return self._finish(reminder_id, "failed", now, False)

    def _finish(self, reminder_id: int, status: str, now: datetime, late: bool) -> bool:
        now = utc(now)
        row = self._read("reminders").get(reminder_id)
        if row is None or row.status != "pending":
            return False
        self._write("reminders")[reminder_id] = replace(row, status=status, sent_at=now,
                                                        late=bool(late))
        return True

    def reminder_stats(self) -> dict[str, int]:
        stats = dict.fromkeys(REMINDER_STATUSES, 0)
        for row in self._read("reminders").values():
            stats[row.status] = stats.get(row.status, 0) + 1
        return stats

    @staticmethod
    def _copy(row: Reminder) -> Reminder:
        return replace(row, payload=json_copy(row.payload))
