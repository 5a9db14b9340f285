"""Delivering the outbox: every committed answer is sent, and sent once.

Each row goes pending -> sending -> sent. The "sending" mark is committed
before the SMTP transaction and "sent" after it, so a crash in between leaves
a row whose fate is unknown. The bot's own address is added as a blind
recipient of every mail: when that copy arrives in our mailbox, the mailroom
confirms the row (the server did accept it). After a restart, a "sending" row
is sent again only once the inbox has been drained and its copy has still not
come back after a grace period: no answer lost, none sent twice.

The rows due are taken by chunks and sent over concurrent SMTP sessions.
Each row is marked "sending" just before its own SMTP transaction (a row never
tried stays "pending"), and one transaction records the results of the whole
chunk. A crash before that leaves the rows tried "sending", which the witness
copies settle as above.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from esp_coord import witness
from esp_coord.ports import (
    MailSender,
    SendAborted,
    SendRejected,
    SendTemporaryError,
    StorePort,
    UnitOfWork,
)
from esp_coord.store import LeaseLost, OutboxItem, OutboxStateError, StoreBusy

log = logging.getLogger(__name__)

CHUNK = 50


@dataclass(frozen=True)
class _Result:
    """What one SMTP attempt came to, recorded with the rest of its chunk."""

    item: OutboxItem
    status: str  # sent | retry | failed
    error: str = ""
    retry_at: datetime | None = None


class Delivery:
    def __init__(self, *, store: StorePort, sender: MailSender, bot_address: str,
                 now: Callable[[], datetime], witness: bool = True,
                 witness_grace: timedelta = timedelta(minutes=2),
                 retry_base: timedelta = timedelta(seconds=5),
                 retry_cap: timedelta = timedelta(minutes=10),
                 workers: int = 2, poll_interval: float = 5.0,
                 may_send: Callable[[], bool] = lambda: True) -> None:
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
        self.may_send = may_send
        self.last_drain: datetime | None = None
        # Outcomes known but not yet written (the database was busy): written
        # before anything else, so a row that went out is never taken for one
        # whose fate is unknown, which its witness copy would have to settle.
        self._unrecorded: list[_Result] = []
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
            except LeaseLost:
                # On a platform: the lease may have run out (this worker was
                # slow or stopped); its next renewal, or the worker taking
                # the team over, goes on.
                log.warning("outbox delivery paused: the team's lease may have run out")
                busy = False
            except Exception as e:
                # Unforeseen (a library bug, a disk error): the row it hit
                # stays "sending", its fate unknown, and the witness copy
                # decides as after a crash. The delivery itself goes on.
                log.error("outbox delivery: unexpected %s; pausing", type(e).__name__)
                busy = False
            if busy:
                continue
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for loses a
            # cancellation that lands as the wait ends (gh-86296), and this
            # loop then outlives the service's stop.
            try:
                async with asyncio.timeout(self.poll_interval):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def _record_results(self, results: list[_Result]) -> None:
        todo, self._unrecorded = self._unrecorded + results, []
        if not todo:
            return
        try:
            await self.store.run(lambda tx: self._record(tx, todo))
        except BaseException:
            self._unrecorded = todo + self._unrecorded
            raise

    async def deliver_due(self) -> bool:
        """Send every due row; True if there may be more."""
        await self._record_results([])
        items = await self.store.run(lambda tx: tx.outbox_due(self.now(), limit=CHUNK))
        if not items:
            return False
        queue: asyncio.Queue[OutboxItem] = asyncio.Queue()
        for item in items:
            queue.put_nowait(item)
        results: list[_Result] = []
        try:
            # A worker that fails stops; the others finish the chunk, then the
            # results are recorded and the first failure is raised.
            ends = await asyncio.gather(*(self._worker(queue, results)
                                          for _ in range(min(self.workers, len(items)))),
                                        return_exceptions=True)
        finally:
            # Also when cancelled: what went out is recorded.
            await asyncio.shield(self._record_results(results))
        for end in ends:
            if isinstance(end, BaseException):
                raise end
        return len(items) == CHUNK

    def _record(self, tx: UnitOfWork, results: list[_Result]) -> None:
        now = self.now()
        for r in results:
            try:
                if r.status == "sent":
                    tx.mark_sent(r.item.id, now)
                elif r.status == "retry":
                    assert r.retry_at is not None
                    tx.mark_retry(r.item.id, now, error=r.error,
                                        next_attempt_at=r.retry_at)
                else:
                    tx.mark_failed(r.item.id, now, error=r.error)
            except OutboxStateError as e:
                # One row changed under us must not undo the others' records.
                log.error("outbox %s: result not recorded (%s)", r.item.message_id, e)

    async def _worker(self, queue: asyncio.Queue[OutboxItem], results: list[_Result]) -> None:
        while not queue.empty():
            result = await self._attempt(queue.get_nowait())
            if result is not None:
                results.append(result)

    async def _send(self, item: OutboxItem) -> None:
        """One row on its own: marked, sent, recorded (re-sending after a crash)."""
        result = await self._attempt(item)
        if result is not None:
            await self._record_results([result])

    async def _attempt(self, item: OutboxItem) -> _Result | None:
        """Mark the row "sending" (committed), then SMTP; the result, not yet
        recorded. None when the row needs no sending any more."""
        try:
            await self.store.run(lambda tx: tx.mark_sending(item.id, self.now()))
        except OutboxStateError:
            return None  # its witness copy came back meanwhile: already delivered
        recipients = list(item.recipients)
        if self.witness and self.bot_address not in recipients:
            recipients.append(self.bot_address)
        try:
            raw = witness.stamp(item.raw, self.store.keyring, item.message_id)
            await self.sender.send(raw, sender=self.bot_address, recipients=recipients,
                                   proceed=self.may_send)
        except SendAborted as e:
            # ``may_send``, asked just before the message data: a platform
            # worker whose lease may have run out (paused, cut off) since the
            # row was marked. The row stays "sending", and the worker now
            # serving the team settles it by its witness copy (none will come:
            # it sends the row again after the grace).
            raise LeaseLost("the team's lease may have expired: not sending") from e
        except SendTemporaryError as e:
            delay = min(self.retry_cap, self.retry_base * 2 ** min(item.attempts, 16))
            log.warning("outbox %s: temporary failure (%s), retry in %ss",
                        item.message_id, type(e).__name__, int(delay.total_seconds()))
            return _Result(item, "retry", str(e)[:200], self.now() + delay)
        except SendRejected as e:
            log.error("outbox %s: rejected by the server (code %s)", item.message_id, e.code)
            return _Result(item, "failed", str(e)[:200])
        log.info("outbox %s: sent to %d recipient(s)", item.message_id, len(item.recipients))
        return _Result(item, "sent")

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
