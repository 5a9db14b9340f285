"""The mailbox loop: drain the inbox, then wait for new mail; reconnect on loss.

Order of steps for a batch: fetch, decide each mail, commit the batch
(processing), then move the batch out of the inbox. A crash anywhere leaves each mail either
still in the inbox (decided again: the dedup record makes that a no-op) or
already moved with its effect committed. Nothing is deleted.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from esp_coord.intake import HeadersOnly
from esp_coord.ports import Mailbox, MailboxAuthError, MailboxError, MailboxTLSError
from esp_coord.processing import Processor
from esp_coord.store import LeaseLost, StoreBusy

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


@dataclass
class Backoff:
    """Exponential backoff with jitter, reset after a success."""

    base: float = 0.5
    cap: float = 30.0
    _attempt: int = 0

    def next(self) -> float:
        delay = min(self.cap, self.base * 2.0 ** self._attempt)
        self._attempt += 1
        return delay * random.uniform(0.8, 1.2)

    def reset(self) -> None:
        self._attempt = 0


class Mailroom:
    def __init__(self, *, mailbox: Mailbox, processor: Processor,
                 on_committed: Callable[[], None] = lambda: None,
                 on_drained: Callable[[], None] = lambda: None,
                 batch_size: int = 50, idle_timeout: float = 25.0,
                 backoff: Backoff | None = None, progress: Progress | None = None) -> None:
        self.mailbox = mailbox
        self.processor = processor
        self.on_committed = on_committed
        self.on_drained = on_drained
        self.batch_size = batch_size
        self.idle_timeout = idle_timeout
        self.backoff = backoff or Backoff()
        self.progress = progress
        self.backlog_done = asyncio.Event()
        self.processed = 0
        self.waiting = 0  # mails in the inbox not yet handled, as of the last look
        self._uidvalidity: int | None = None

    async def run(self) -> None:
        """Run until cancelled. Connection problems are retried with backoff."""
        while True:
            try:
                await self.mailbox.connect()
                self.backoff.reset()
                await self._check_uidvalidity()
                await self.drain(report=not self.backlog_done.is_set())
                self.backlog_done.set()
                while True:
                    await self.mailbox.wait_for_mail(self.idle_timeout)
                    await self.drain()
            except StoreBusy:
                # The database stayed locked: the mail is still in the inbox,
                # it will be taken again after a pause.
                log.warning("database busy: pausing before the next pass")
                await asyncio.sleep(self.backoff.next())
            except LeaseLost:
                # Another platform worker took the team: nothing was committed,
                # the mail is still in the inbox for it; this worker stops
                # serving the team at its next beat.
                log.warning("the team's lease is lost: pausing")
                await self._pause()
            except (MailboxTLSError, MailboxAuthError) as e:
                # A configuration problem: keep trying slowly, say it loudly.
                log.error("mailbox: %s", e)
                await self._pause(cap_first=True)
            except MailboxError as e:
                log.warning("mailbox unavailable (%s): reconnecting", type(e).__name__)
                await self._pause()
            except Exception as e:
                # Unforeseen (a disk error, a library bug): the mail is still
                # in the inbox; pause and start over rather than go deaf. Only
                # the type is logged: a message may quote a mail.
                log.error("mailroom: unexpected %s: pausing, then reconnecting",
                          type(e).__name__)
                await self._pause()

    async def _pause(self, cap_first: bool = False) -> None:
        await self.mailbox.close()
        delay = self.backoff.next()
        await asyncio.sleep(max(delay, self.backoff.cap / 2) if cap_first else delay)

    async def _check_uidvalidity(self) -> None:
        value = await self.mailbox.uidvalidity()
        if self._uidvalidity is not None and value != self._uidvalidity:
            # Safe: mails are recognised by Message-ID, never by UID.
            log.warning("inbox UIDVALIDITY changed (%s -> %s)", self._uidvalidity, value)
        self._uidvalidity = value

    async def drain(self, *, report: bool = False) -> int:
        """Process everything in the inbox, including mail that arrives meanwhile."""
        handled = 0
        while uids := await self.mailbox.pending():
            total = handled + len(uids)
            for start in range(0, len(uids), self.batch_size):
                self.waiting = len(uids) - start
                handled += await self._batch(uids[start:start + self.batch_size])
                if report and self.progress:
                    self.progress(handled, total)
        self.waiting = 0
        self.on_drained()
        return handled

    async def _batch(self, uids: list[int]) -> int:
        # A mail over the limit comes as its header block: enough to answer
        # "too large", without ever holding the whole of it in memory.
        mails = await self.mailbox.fetch(
            uids, max_bytes=self.processor.config.limits.max_message_bytes)
        moves: dict[str, list[int]] = defaultdict(list)
        # One commit for the batch; nothing moves before it (see processing).
        async with self.processor.batch(on_commit=self.on_committed):
            for mail in mails:
                raw = HeadersOnly(mail.raw, mail.size) if mail.headers_only else mail.raw
                outcome = await self.processor.process(raw)
                moves[outcome.folder].append(mail.uid)
        self.processed += len(mails)
        self.on_committed()
        for folder, folder_uids in moves.items():
            await self.mailbox.move(folder_uids, folder)
        return len(mails)
