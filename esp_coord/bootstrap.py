"""The composition root: the one place that builds the real service from the config.

Tests and the demo build the same service with other adapters (a driven
clock, the embedded mail server) through the same function.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from esp_coord import absence_intake
from esp_coord.clock import SystemClock
from esp_coord.config import Config
from esp_coord.crypto import Keyring
from esp_coord.delivery import Delivery
from esp_coord.handlers import make_handler
from esp_coord.mailroom import Mailroom, Progress
from esp_coord.ports import Clock, Mailbox, MailSender, StorePort
from esp_coord.processing import Handler, Processor
from esp_coord.received.handler import EXPIRY_EVERY, expire_documents, handle_document
from esp_coord.scheduling import (
    meeting_reminders,
    plan_digest,
    plan_mails,
    quarantine_notice,
    report_schedule,
)
from esp_coord.scheduling.engine import ReminderEngine
from esp_coord.scheduling.registry import Composers
from esp_coord.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Tuning:
    """Knobs tests turn to make minutes of behaviour take seconds."""

    batch_size: int = 50
    idle_timeout: float = 25.0
    witness: bool = True
    witness_grace: timedelta = timedelta(minutes=2)
    retry_base: timedelta = timedelta(seconds=5)
    retry_cap: timedelta = timedelta(minutes=10)
    smtp_workers: int = 4  # concurrent SMTP sessions: answers wait on the relay, not on us
    outbox_poll: float = 5.0


@dataclass
class Service:
    config: Config
    store: Store
    mailbox: Mailbox
    sender: MailSender
    clock: Clock
    processor: Processor
    mailroom: Mailroom
    delivery: Delivery
    reminders: ReminderEngine | None = None
    expiry: _Expiry | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self, stack: AsyncExitStack) -> None:
        """Open the store, then run the mailbox loop and the outbox delivery
        until the stack closes. The store is opened first: it refuses a key
        file other than the one that wrote the database (``KeyMismatch``)
        before any mail is fetched or sent."""
        await self.store.start(stack)
        stack.push_async_callback(self.sender.close)
        stack.push_async_callback(self.mailbox.close)
        for name, coro in (("mailroom", self.mailroom.run()), ("delivery", self.delivery.run())):
            task = asyncio.create_task(coro, name=name)
            task.add_done_callback(_report_crash)
            self._tasks.append(task)
        stack.push_async_callback(self._stop_tasks)
        if self.reminders is not None:
            await self.reminders.start(stack)  # sends what was missed while down

    async def _stop_tasks(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self.expiry is not None and self.expiry.running:
            # A pass of expiry under way finishes before the store closes.
            await asyncio.gather(*self.expiry.running, return_exceptions=True)
        if self._tasks:
            # wait() never raises: a task that died of its own error was
            # already reported by _report_crash.
            await asyncio.wait(self._tasks)
        self._tasks.clear()


class _Expiry:
    """At most once per ``EXPIRY_EVERY``, after a pass of the mailroom: the
    received documents whose time is up are erased even when no mail comes."""

    def __init__(self, store: StorePort) -> None:
        self.store = store
        self.last: datetime | None = None
        self.running: set[asyncio.Task[int]] = set()

    def maybe(self, now: datetime) -> None:
        if self.last is not None and now - self.last < EXPIRY_EVERY:
            return
        self.last = now
        task = asyncio.get_running_loop().create_task(expire_documents(self.store, now))
        self.running.add(task)  # held until done: a bare task may be collected
        task.add_done_callback(self.running.discard)


def _report_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.critical("task %s stopped: %s", task.get_name(), type(task.exception()).__name__)


def make_processor(config: Config, store: StorePort, *, now: Callable[[], datetime],
                   handler: Handler | None = None) -> Processor:
    """The processor of the service: the command handlers unless ``handler``
    is given, the documents received from the trust space
    (``received.handler``), the coordinators' daily notice told of every
    mail quarantined or left unanswered, and the absences read from members'
    out-of-office replies."""
    return Processor(config=config, store=store, handler=handler or make_handler(config),
                     now=now, report=quarantine_notice.schedule, documents=handle_document,
                     auto_reply=absence_intake.from_automatic)


def reminder_kinds() -> Composers:
    """Every kind of reminder the service sends, with its composer."""
    return Composers(plan_mails.KINDS, meeting_reminders.KINDS, quarantine_notice.KINDS,
                     report_schedule.KINDS, digests=plan_digest.DIGESTS)


def build_service(config: Config, *, keyring: Keyring | None = None,
                  mailbox: Mailbox | None = None, sender: MailSender | None = None,
                  clock: Clock | None = None, tuning: Tuning = Tuning(),
                  progress: Progress | None = None,
                  database_url: str | None = None, store: Store | None = None,
                  may_send: Callable[[], bool] = lambda: True) -> Service:
    """The service of one team. ``store``: the team's store on a platform's
    shared database (``esp_coord.platform``), else one of its own on
    ``database_url`` or the configuration's; ``may_send``: asked just before
    each message's data is sent (a platform worker whose lease may have run
    out sends nothing: the worker that took the team over will)."""
    if mailbox is None:
        from adapters.imap import ImapMailbox

        mailbox = ImapMailbox(config.imap, config.folders)
    if sender is None:
        from adapters.smtp import SmtpSender

        sender = SmtpSender(config.smtp, max_connections=tuning.smtp_workers)
    clock = clock or SystemClock()
    keyring = keyring or Keyring.load(config.key_file)
    if store is None:
        store = Store(database_url or config.database_url, keyring, team=config.team_id)
    processor = make_processor(config, store, now=clock.now)
    delivery = Delivery(store=store, sender=sender, bot_address=config.bot_address,
                        now=clock.now, witness=tuning.witness,
                        witness_grace=tuning.witness_grace, retry_base=tuning.retry_base,
                        retry_cap=tuning.retry_cap, workers=tuning.smtp_workers,
                        poll_interval=tuning.outbox_poll, may_send=may_send)
    expiry = _Expiry(store)

    def on_drained() -> None:
        now = clock.now()
        delivery.note_drained(now)
        expiry.maybe(now)  # received documents kept past their days are erased

    reminders = ReminderEngine(store=store, config=config, clock=clock, composers=reminder_kinds(),
                               on_enqueued=delivery.kick)

    def on_committed() -> None:
        delivery.kick()
        reminders.wake()  # a handler may have scheduled reminders

    mailroom = Mailroom(mailbox=mailbox, processor=processor, on_committed=on_committed,
                        on_drained=on_drained, batch_size=tuning.batch_size,
                        idle_timeout=tuning.idle_timeout, progress=progress)
    return Service(config=config, store=store, mailbox=mailbox, sender=sender, clock=clock,
                   processor=processor, mailroom=mailroom, delivery=delivery,
                   reminders=reminders, expiry=expiry)
