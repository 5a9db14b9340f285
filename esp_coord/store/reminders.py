"""Scheduled reminders: one row per reminder occurrence, the database as the truth.

A source (a plan, a meeting) describes all the reminders it wants as
``ReminderSpec``s; ``replace_reminders`` reconciles the stored rows with them.
Each spec's ``key`` names one occurrence for one recipient, so recomputing the
same source is idempotent. States::

    pending --mark_reminder_sent--> sent        (final: never re-created)
    pending --mark_reminder_dropped--> dropped  (due, but nothing to send)
    pending --mark_reminder_failed--> failed    (composing it crashed: a bug, logged)
    pending --replace_reminders--> cancelled --replace_reminders--> pending

A spec due before ``now`` is never inserted: a reminder is not created late
(the due day of a plan action entered after the fact, the J-7 of a meeting
planned three days ahead). A row already pending keeps going even if its time
has passed: that is a reminder missed while the service was down, sent late.

Payloads are encrypted (``payload_enc``) even though the callers keep them
free of patient data: references and dates only, but cheap insurance.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, and_, bindparam, func, or_, select, update

from esp_coord.store.base import TxBase
from esp_coord.store.tables import reminders

__all__ = ["REMINDER_STATUSES", "Reconciled", "Reminder", "ReminderOps", "ReminderSpec",
           "keeping"]

REMINDER_STATUSES: tuple[str, ...] = ("pending", "sent", "dropped", "failed", "cancelled")
_KEY_MAX = 255


@dataclass(frozen=True, slots=True)
class ReminderSpec:
    """One wanted reminder. ``due_at`` must be timezone-aware."""

    key: str
    kind: str
    source_ref: str
    recipient: str
    due_at: datetime
    payload: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.due_at.tzinfo is None or self.due_at.utcoffset() is None:
            raise ValueError("a reminder's due_at must be timezone-aware")
        if not self.key or len(self.key) > _KEY_MAX:
            raise ValueError(f"a reminder key must have 1 to {_KEY_MAX} characters")


@dataclass(frozen=True, slots=True)
class Reminder:
    id: int
    key: str
    kind: str
    source_ref: str
    recipient: str
    due_at: datetime
    status: str
    payload: dict[str, Any] = field(repr=False)
    created_at: datetime
    sent_at: datetime | None
    late: bool


def keeping(specs: list[ReminderSpec], keep: Reminder | None) -> list[ReminderSpec]:
    """``specs`` plus ``keep`` (the row being sent now) as it was planned, even
    if the settings changed since: reconciling must not cancel it mid-send."""
    if keep is None or any(s.key == keep.key for s in specs):
        return specs
    return [*specs, ReminderSpec(key=keep.key, kind=keep.kind, source_ref=keep.source_ref,
                                 recipient=keep.recipient, due_at=keep.due_at,
                                 payload=keep.payload)]


@dataclass(frozen=True, slots=True)
class Reconciled:
    """What ``replace_reminders`` changed (for logs and tests)."""

    inserted: int = 0
    updated: int = 0
    cancelled: int = 0


def _context(key: str) -> bytes:
    return b"reminder:" + key.encode()


def _dump(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(dict(payload), ensure_ascii=False, separators=(",", ":"),
                      sort_keys=True).encode()


def _same_instant(a: datetime, b: datetime) -> bool:
    return a == b  # aware datetimes compare as instants


class ReminderOps(TxBase):
    __slots__ = ()

    def replace_reminders(self, source_ref: str, specs: Iterable[ReminderSpec],
                                now: datetime) -> Reconciled:
        """Make the source's pending reminders exactly ``specs`` (see module doc).

        Sent and dropped rows are never touched nor re-created; pending rows of
        the source not in ``specs`` are cancelled; a cancelled row named again
        comes back if its time is still ahead.
        """
        wanted: dict[str, ReminderSpec] = {}
        for spec in specs:
            if spec.source_ref != source_ref:
                raise ValueError("a spec of another source given to replace_reminders")
            wanted[spec.key] = spec
        query = self._statement("reminders_of_source", lambda: (
            select(reminders.c.id, reminders.c.key, reminders.c.kind, reminders.c.recipient,
                   reminders.c.due_at, reminders.c.status, reminders.c.payload_enc)
            .where(reminders.c.source_ref == bindparam("source"))))
        rows = self._conn.execute(query, {"source": source_ref}).mappings().all()
        known = {row["key"]: row for row in rows}
        inserted = updated = 0
        stale = [row["id"] for row in rows
                 if row["status"] == "pending" and row["key"] not in wanted]
        for key, spec in wanted.items():
            row = known.get(key)
            if row is None:
                continue
            status = row["status"]
            if status == "pending" and not self._matches(row, spec):
                self._rewrite(row["id"], spec, "pending")
                updated += 1
            elif status == "cancelled" and spec.due_at >= now:
                self._rewrite(row["id"], spec, "pending")
                updated += 1
        fresh = [spec for key, spec in wanted.items() if key not in known and spec.due_at >= now]
        if fresh:
            inserted = self.add_reminders(fresh, now)
        if stale:
            self._conn.execute(
                update(reminders).where(reminders.c.id.in_(stale),
                                        reminders.c.status == "pending")
                .values(status="cancelled"))
        return Reconciled(inserted=inserted, updated=updated, cancelled=len(stale))

    def add_reminders(self, specs: Sequence[ReminderSpec], now: datetime) -> int:
        """Insert new rows as they are (no past-time filter), skipping keys that
        exist. For reconciliation use ``replace_reminders``; this is its bulk
        step, and what a benchmark uses to fill the table."""
        if not specs:
            return 0
        rows = [{"key": s.key, "kind": s.kind, "source_ref": s.source_ref,
                 "recipient": s.recipient.strip().lower(), "due_at": s.due_at,
                 "status": "pending", "late": 0, "created_at": now,
                 "payload_enc": self._keyring.encrypt(_dump(s.payload), context=_context(s.key))}
                for s in specs]
        statement = self._upsert(reminders).on_conflict_do_nothing()
        result = self._conn.execute(statement, rows)
        # executemany rowcounts are not reliable on every driver: count instead.
        return int(result.rowcount) if result.rowcount is not None and result.rowcount >= 0 \
            else len(rows)

    def _matches(self, row: RowMapping, spec: ReminderSpec) -> bool:
        if (row["kind"], row["recipient"]) != (spec.kind, spec.recipient.strip().lower()):
            return False
        if not _same_instant(row["due_at"], spec.due_at):
            return False
        stored = self._payload(row["key"], row["payload_enc"])
        return bool(stored == json.loads(_dump(spec.payload)))

    def _rewrite(self, row_id: int, spec: ReminderSpec, status: str) -> None:
        self._conn.execute(
            update(reminders).where(reminders.c.id == row_id).values(
                kind=spec.kind, recipient=spec.recipient.strip().lower(), due_at=spec.due_at,
                status=status,
                payload_enc=self._keyring.encrypt(_dump(spec.payload),
                                                  context=_context(spec.key))))

    def reminders_due(self, until: datetime, limit: int = 100, *,
                            after: tuple[datetime, int] | None = None,
                            recipient: str | None = None,
                            kinds: Iterable[str] | None = None) -> list[Reminder]:
        """Pending reminders due at or before ``until``, oldest first.

        ``after`` = (due_at, id) of the last row of the previous batch (keyset
        paging: a row left pending cannot hold the next batches back);
        ``recipient`` and ``kinds`` narrow the search (daily digests)."""
        query = select(reminders).where(reminders.c.status == "pending",
                                        reminders.c.due_at <= until)
        if after is not None:
            due, last_id = after
            query = query.where(or_(reminders.c.due_at > due,
                                    and_(reminders.c.due_at == due, reminders.c.id > last_id)))
        if recipient is not None:
            query = query.where(reminders.c.recipient == recipient.strip().lower())
        if kinds is not None:
            query = query.where(reminders.c.kind.in_(list(kinds)))
        query = query.order_by(reminders.c.due_at, reminders.c.id).limit(limit)
        return [self._reminder(row) for row in (self._conn.execute(query)).mappings()]

    def next_reminder_due(self) -> datetime | None:
        """When the earliest pending reminder is due (index on status, due_at)."""
        query = select(func.min(reminders.c.due_at)).where(reminders.c.status == "pending")
        # min() keeps the column's type, so the value comes back aware UTC.
        value: datetime | None = (self._conn.execute(query)).scalar_one_or_none()
        return value

    def reminder(self, reminder_id: int) -> Reminder | None:
        row = (self._conn.execute(
            select(reminders).where(reminders.c.id == reminder_id))).mappings().first()
        return self._reminder(row) if row is not None else None

    def reminders_of(self, source_ref: str, *, status: str | None = None
                           ) -> list[Reminder]:
        """Every row of a source (any status unless given), in due order."""
        query = select(reminders).where(reminders.c.source_ref == source_ref)
        if status is not None:
            query = query.where(reminders.c.status == status)
        query = query.order_by(reminders.c.due_at, reminders.c.id)
        return [self._reminder(row) for row in (self._conn.execute(query)).mappings()]

    def mark_reminder_sent(self, reminder_id: int, now: datetime, late: bool) -> bool:
        """pending -> sent. False (nothing changed) if the row is not pending:
        the caller must then not send (roll its transaction back)."""
        return self._finish(reminder_id, "sent", now, late)

    def mark_reminder_dropped(self, reminder_id: int, now: datetime) -> bool:
        """pending -> dropped: due, but nothing to send (plan closed, recipient
        gone, action already done)."""
        return self._finish(reminder_id, "dropped", now, False)

    def mark_reminder_failed(self, reminder_id: int, now: datetime) -> bool:
        """pending -> failed: composing it raised (a bug); kept for inspection."""
        return self._finish(reminder_id, "failed", now, False)

    def _finish(self, reminder_id: int, status: str, now: datetime, late: bool) -> bool:
        result = self._conn.execute(
            update(reminders)
            .where(reminders.c.id == reminder_id, reminders.c.status == "pending")
            .values(status=status, sent_at=now, late=int(late)))
        return bool(result.rowcount == 1)

    def reminder_stats(self) -> dict[str, int]:
        stats = dict.fromkeys(REMINDER_STATUSES, 0)
        query = select(reminders.c.status, func.count()).group_by(reminders.c.status)
        for status, count in (self._conn.execute(query)).all():
            stats[status] = int(count)
        return stats

    def _payload(self, key: str, token: bytes | None) -> dict[str, Any]:
        if token is None:
            return {}
        data = json.loads(self._keyring.decrypt(token, context=_context(key)))
        assert isinstance(data, dict)
        return data

    def _reminder(self, row: Any) -> Reminder:
        return Reminder(
            id=row["id"], key=row["key"], kind=row["kind"], source_ref=row["source_ref"],
            recipient=row["recipient"], due_at=row["due_at"], status=row["status"],
            payload=self._payload(row["key"], row["payload_enc"]),
            created_at=row["created_at"], sent_at=row["sent_at"], late=bool(row["late"]))

