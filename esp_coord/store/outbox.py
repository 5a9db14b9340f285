"""The outbox: answers wait here, encrypted, until the sender delivers them.

An answer is enqueued in the same transaction as the state change it reports,
so either both exist or neither. States::

    pending --mark_sending--> sending --mark_sent--> sent
       ^                         |  ^ (mark_sending again: re-send after a crash)
       +-------mark_retry--------+--mark_failed--> failed

    confirm_delivered: any state --> sent

``sending`` means an attempt started and its outcome is unknown (the process
may have died mid-SMTP): on restart the service looks for its own copy in the
mailbox (``confirm_delivered``) before retrying. ``sent`` is final: a late
retry or failure report for a sent item changes nothing, because the message
was delivered and must not go out twice.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, update

from esp_coord.store.base import TxBase
from esp_coord.store.errors import OutboxStateError
from esp_coord.store.records import OUTBOX_STATUSES, OutboxItem
from esp_coord.store.tables import outbox

_MAX_ERROR_CHARS = 1000


def _moving(frm: tuple[str, ...], **values: Any) -> Any:
    """UPDATE of the item ``:item_id`` if its status is one of ``frm``."""
    return (update(outbox)
            .where(outbox.c.id == bindparam("item_id"), outbox.c.status.in_(frm))
            .values(**values))


def _context(message_id: str) -> bytes:
    return b"outbox:" + message_id.encode()


class OutboxOps(TxBase):
    __slots__ = ()

    def enqueue(
        self,
        *,
        message_id: str,
        sender: str,
        recipients: Sequence[str],
        raw: bytes,
        at: datetime,
        cause: str | None = None,
        not_before: datetime | None = None,
    ) -> int:
        """Queue a message; the same ``message_id`` twice is a no-op returning
        the first item's id."""
        if isinstance(recipients, str):
            raise TypeError("recipients must be a sequence of addresses, not one string")
        statement = self._statement("enqueue", lambda: (
            self._upsert(outbox)
            .on_conflict_do_nothing(index_elements=["message_id"])
            .returning(outbox.c.id)))
        values = {"message_id": message_id, "sender": sender,
                  "recipients": json.dumps(list(recipients)),
                  "raw_enc": self._keyring.encrypt(raw, context=_context(message_id)),
                  "cause": cause, "status": "pending", "attempts": 0, "created_at": at,
                  "next_attempt_at": not_before or at}
        new_id = self._conn.execute(statement, values).scalar_one_or_none()
        if new_id is not None:
            return int(new_id)
        existing = self._conn.execute(
            select(outbox.c.id).where(outbox.c.message_id == message_id)
        )
        return int(existing.scalar_one())

    def outbox_due(self, now: datetime, limit: int = 100) -> list[OutboxItem]:
        query = (
            select(outbox)
            .where(outbox.c.status == "pending", outbox.c.next_attempt_at <= now)
            .order_by(outbox.c.next_attempt_at, outbox.c.id)
            .limit(limit)
        )
        return [self._item(row) for row in (self._conn.execute(query)).mappings()]

    def outbox_sending(self) -> list[OutboxItem]:
        query = select(outbox).where(outbox.c.status == "sending").order_by(outbox.c.id)
        return [self._item(row) for row in (self._conn.execute(query)).mappings()]

    def outbox_item(self, item_id: int) -> OutboxItem | None:
        row = (self._conn.execute(select(outbox).where(outbox.c.id == item_id))).first()
        return self._item(row._mapping) if row is not None else None

    def mark_sending(self, item_id: int, now: datetime) -> None:
        """pending (or sending, when re-sending after a crash) -> sending.

        Raises ``OutboxStateError`` for an item already sent or failed: the
        caller must not send it (it was delivered, e.g. witnessed meanwhile).
        """
        # The two transitions of every answer, built once (see base.py).
        statement = self._statement("mark_sending", lambda: _moving(
            ("pending", "sending"), status="sending", last_attempt_at=bindparam("now")))
        self._moved(statement, item_id, now, "sending")

    def mark_sent(self, item_id: int, now: datetime) -> None:
        statement = self._statement("mark_sent", lambda: _moving(
            ("sending", "pending"), status="sent", sent_at=bindparam("now")))
        self._moved(statement, item_id, now, "sent")

    def _moved(self, statement: Any, item_id: int, now: datetime, status: str) -> None:
        result = self._conn.execute(statement, {"item_id": item_id, "now": now})
        if result.rowcount != 1:
            self._refused(item_id, status)

    def mark_retry(
        self, item_id: int, now: datetime, *, error: str, next_attempt_at: datetime
    ) -> None:
        self._transition(
            item_id,
            frm=("sending", "pending"),
            values={
                "status": "pending",
                "attempts": outbox.c.attempts + 1,
                "last_error": error[:_MAX_ERROR_CHARS],
                "next_attempt_at": next_attempt_at,
                "last_attempt_at": now,
            },
        )

    def mark_failed(self, item_id: int, now: datetime, *, error: str) -> None:
        self._transition(
            item_id,
            frm=("sending", "pending"),
            values={
                "status": "failed",
                "attempts": outbox.c.attempts + 1,
                "last_error": error[:_MAX_ERROR_CHARS],
                "last_attempt_at": now,
            },
        )

    def confirm_delivered(self, message_id: str, now: datetime) -> bool:
        """Our own copy of this message was seen: it is sent, whatever we thought."""
        statement = self._statement("confirm_delivered", lambda: (
            update(outbox)
            .where(outbox.c.message_id == bindparam("mid"))
            .values(status="sent", sent_at=func.coalesce(outbox.c.sent_at, bindparam("now")))))
        return self._conn.execute(statement, {"mid": message_id, "now": now}).rowcount > 0

    def outbox_stats(self) -> dict[str, int]:
        stats = dict.fromkeys(OUTBOX_STATUSES, 0)
        query = select(outbox.c.status, func.count()).group_by(outbox.c.status)
        for status, count in (self._conn.execute(query)).all():
            stats[status] = int(count)
        return stats

    def _transition(
        self, item_id: int, *, frm: tuple[str, ...], values: dict[str, Any]
    ) -> None:
        result = self._conn.execute(
            update(outbox).where(outbox.c.id == item_id, outbox.c.status.in_(frm)).values(values)
        )
        if result.rowcount != 1:
            self._refused(item_id, values["status"])

    def _refused(self, item_id: int, status: str) -> None:
        """The move to ``status`` changed no row: why (raises), unless the item
        was delivered already (e.g. witnessed), when a late report changes nothing."""
        current = (
            self._conn.execute(select(outbox.c.status).where(outbox.c.id == item_id))
        ).scalar_one_or_none()
        if current is None:
            raise OutboxStateError(f"no outbox item {item_id}")
        if current == "sent" and status != "sending":
            return
        raise OutboxStateError(f"outbox item {item_id} is {current}; cannot move it to {status}")

    def _item(self, row: Any) -> OutboxItem:
        return OutboxItem(
            id=row["id"],
            message_id=row["message_id"],
            sender=row["sender"],
            recipients=tuple(json.loads(row["recipients"])),
            raw=self._keyring.decrypt(row["raw_enc"], context=_context(row["message_id"])),
            status=row["status"],
            attempts=row["attempts"],
            created_at=row["created_at"],
            next_attempt_at=row["next_attempt_at"],
            last_attempt_at=row["last_attempt_at"],
            sent_at=row["sent_at"],
            last_error=row["last_error"],
            cause=row["cause"],
        )
