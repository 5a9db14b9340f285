"""The outbox: answers wait here, encrypted, until the sender delivers them.

An answer is enqueued in the same transaction as the state change it reports,
so either both exist or neither. States::

    pending --mark_sending--> sending --mark_sent--> sent
       ^                         |  ^ (mark_sending again: re-send after a crash)
       +-------mark_retry--------+--mark_failed--> failed

    confirm_delivered: any state --> sent

A delivery report (DSN) that one of our mails bounced is recorded on its row
(``record_bounce``, whatever its state: the relay took it, then failed) and
on the address's row of ``bounced_addresses``, which says whether the
coordination is to be told.

``sending`` means an attempt started and its outcome is unknown (the process
may have died mid-SMTP): on restart the service looks for its own copy in the
mailbox (``confirm_delivered``) before retrying. ``sent`` is final: a late
retry or failure report for a sent item changes nothing, because the message
was delivered and must not go out twice.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select, update

from esp_coord.store.base import TxBase
from esp_coord.store.errors import OutboxStateError
from esp_coord.store.records import OUTBOX_STATUSES, Bounce, BouncedAddress, OutboxItem
from esp_coord.store.tables import bounced_addresses, outbox

_MAX_ERROR_CHARS = 1000


def _moving(frm: tuple[str, ...], **values: Any) -> Any:
    """UPDATE of the item ``:item_id`` if its status is one of ``frm``."""
    return (update(outbox)
            .where(outbox.c.id == bindparam("item_id"), outbox.c.status.in_(frm))
            .values(**values))


def _context(message_id: str) -> bytes:
    return b"outbox:" + message_id.encode()


def _bounce_context(message_id: str) -> bytes:
    return b"outbox-bounce:" + message_id.encode()


def bounced_recipient(recipients: Sequence[str], recipient: str) -> str | None:
    """``recipient`` as one of ``recipients`` (compared without case), or None."""
    address = recipient.strip().lower()
    return address if any(r.strip().lower() == address for r in recipients) else None


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
            .on_conflict_do_nothing()
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

    def record_bounce(self, *, message_id: str, recipient: str, status: str, diagnostic: str,
                      at: datetime, renotify_after: timedelta) -> Bounce | None:
        """A delivery report says that our message ``message_id`` could not be
        delivered to ``recipient``. None, and nothing recorded, unless an
        outbox row has this id and ``recipient`` among its recipients. The
        row keeps its first bounce (the diagnostic encrypted: a server may
        quote anything); the address's row counts every one and says whether
        to tell the coordination (``Bounce.notify``)."""
        row = self._conn.execute(
            select(outbox.c.id, outbox.c.recipients, outbox.c.bounced_at)
            .where(outbox.c.message_id == message_id)).first()
        if row is None:
            return None
        address = bounced_recipient(json.loads(row.recipients), recipient)
        if address is None:
            return None
        if row.bounced_at is None:
            self._conn.execute(update(outbox).where(outbox.c.id == row.id).values(
                bounced_at=at, bounce_status=status, bounce_recipient=address,
                bounce_diagnostic_enc=self._keyring.encrypt(
                    diagnostic.encode(), context=_bounce_context(message_id))))
        notify = self._address_bounced(address, status, at, renotify_after)
        return Bounce(item_id=int(row.id), message_id=message_id, recipient=address,
                      status=status, notify=notify)

    def _address_bounced(self, address: str, status: str, at: datetime,
                         renotify_after: timedelta) -> bool:
        """Count the bounce on the address's row; True when the coordination
        is to be told (a new row, or a notice older than ``renotify_after``,
        whose date then moves to ``at``). Each step is one atomic statement."""
        inserted = self._conn.execute(
            self._upsert(bounced_addresses)
            .values(address=address, first_at=at, last_at=at, bounces=1, last_status=status,
                    notified_at=at)
            .on_conflict_do_nothing()
            .returning(bounced_addresses.c.address)).first()
        if inserted is not None:
            return True
        counted = {"last_at": at, "bounces": bounced_addresses.c.bounces + 1,
                   "last_status": status}
        renotified = self._conn.execute(
            update(bounced_addresses)
            .where(bounced_addresses.c.address == address,
                   bounced_addresses.c.notified_at <= at - renotify_after)
            .values(notified_at=at, **counted))
        if renotified.rowcount == 1:
            return True
        self._conn.execute(update(bounced_addresses)
                           .where(bounced_addresses.c.address == address).values(**counted))
        return False

    def address_bounces(self, address: str) -> BouncedAddress | None:
        """What is known of bounces from ``address`` (lower case), or None."""
        fields = [bounced_addresses.c[f.name] for f in dataclasses.fields(BouncedAddress)]
        row = self._conn.execute(select(*fields).where(
            bounced_addresses.c.address == address.strip().lower())).first()
        return BouncedAddress(**row._mapping) if row is not None else None

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
            bounced_at=row["bounced_at"],
            bounce_status=row["bounce_status"],
            bounce_recipient=row["bounce_recipient"],
            bounce_diagnostic=None if row["bounce_diagnostic_enc"] is None else
            self._keyring.decrypt(row["bounce_diagnostic_enc"],
                                  context=_bounce_context(row["message_id"])).decode(),
        )
