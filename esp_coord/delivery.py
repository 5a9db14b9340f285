"""Delivering the outbox: every committed answer is sent, and sent once.

Each row goes pending -> sending -> sent. The "sending" mark is committed
before the SMTP transaction and "sent" after it, so a crash in between leaves
a row whose fate is unknown. The bot's own address is added as a blind
recipient of every mail: when that copy arrives in our mailbox, the mailroom
confirms the row (the server did accept it). After a restart, a "sending" row
is sent again only once the inbox has been drained and its copy has still not
come back after a grace period: no answer lost, none sent twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from esp_coord.ports import MailSender, SendRejected, SendTemporaryError
from esp_coord.store import OutboxItem, OutboxStateError, Store, StoreBusy

log = logging.getLogger(__name__)


class Delivery:
    def __init__(self, *, store: Store, sender: MailSender, bot_address: str,
                 now: Callable[[], datetime], witness: bool = True,
                 witness_grace: timedelta = timedelta(minutes=2),
                 retry_base: timedelta = timedelta(seconds=5),
                 retry_cap: timedelta = timedelta(minutes=10),
                 workers: int = 2, poll_interval: float = 5.0) -> None:
        self.store = store
        self.sender = sender
        self.bot_address = bot_address
        self.now = now
        self.witness = witness
        self.witness_grace = witness_grace
        self.retry_base = retry_base
        self.retry_cap = retry_cap
        self.workers = workers
        self.poll_interval = poll_interval
        self.last_drain: datetime | None = None
        self.sent = 0
        self._wake = asyncio.Event()

    def note_drained(self, at: datetime) -> None:
        """The mailroom emptied the inbox at ``at``: copies sent before are in."""
        self.last_drain = at
        self.kick()

    def kick(self) -> None:
        """New rows were committed: look at the outbox now."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake.clear()
            try:
                busy = await self.deliver_due()
                if self.witness and self.last_drain is not None:
                    await self._resend_unconfirmed(self.last_drain)
            except StoreBusy:
                log.warning("database busy: outbox delivery paused")
                busy = False
            if busy:
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
            except TimeoutError:
                pass

    async def deliver_due(self) -> bool:
        """Send every due row; True if there may be more."""
        items = await self.store.run(lambda tx: tx.outbox_due(self.now(), limit=50))
        if not items:
            return False
        queue: asyncio.Queue[OutboxItem] = asyncio.Queue()
        for item in items:
            queue.put_nowait(item)
        await asyncio.gather(*(self._worker(queue) for _ in range(min(self.workers, len(items)))))
        return len(items) == 50

    async def _worker(self, queue: asyncio.Queue[OutboxItem]) -> None:
        while not queue.empty():
            await self._send(queue.get_nowait())

    async def _send(self, item: OutboxItem) -> None:
        try:
            await self.store.run(lambda tx: tx.mark_sending(item.id, self.now()))
        except OutboxStateError:
            return  # its witness copy came back meanwhile: already delivered
        recipients = list(item.recipients)
        if self.witness and self.bot_address not in recipients:
            recipients.append(self.bot_address)
        try:
            await self.sender.send(item.raw, sender=self.bot_address, recipients=recipients)
        except SendTemporaryError as e:
            error = str(e)[:200]
            delay = min(self.retry_cap, self.retry_base * 2 ** min(item.attempts, 16))
            log.warning("outbox %s: temporary failure (%s), retry in %ss",
                        item.message_id, type(e).__name__, int(delay.total_seconds()))
            await self.store.run(lambda tx: tx.mark_retry(
                item.id, self.now(), error=error, next_attempt_at=self.now() + delay))
            return
        except SendRejected as e:
            error = str(e)[:200]
            log.error("outbox %s: rejected by the server (code %s)", item.message_id, e.code)
            await self.store.run(lambda tx: tx.mark_failed(item.id, self.now(), error=error))
            return
        await self.store.run(lambda tx: tx.mark_sent(item.id, self.now()))
        self.sent += 1
        log.info("outbox %s: sent to %d recipient(s)", item.message_id, len(item.recipients))

    async def _resend_unconfirmed(self, drained_at: datetime) -> None:
        """Rows left "sending" by a crash, whose copy had time to come back and
        was not in the inbox when it was last drained: send again."""
        limit = drained_at - self.witness_grace
        stale = [i for i in await self.store.run(lambda tx: tx.outbox_sending())
                 if i.last_attempt_at is None or i.last_attempt_at <= limit]
        for item in stale:
            log.warning("outbox %s: no proof of delivery after a crash: sending again",
                        item.message_id)
            await self._send(item)
