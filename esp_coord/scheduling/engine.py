"""The reminder engine: APScheduler wakes it, the database says what is due.

Design
------
The ``reminders`` table is the only truth. The scheduler holds exactly one
APScheduler job, ``dispatch-reminders``, with a ``DateTrigger`` at the
earliest pending ``due_at`` (an indexed ``min`` over ``(status, due_at)``).
When it fires, due rows are read in keyset-paged batches and each is sent in
its own store transaction: re-check it is still pending, check the recipient
is still on the roster, compose (``registry``), render and enqueue the mails
in the outbox, mark the row sent. Then the job is re-armed at the next due
time. So starting the service *is* the rebuild: one ``min()`` query and one
job, whatever the number of rows (no job per reminder: 100,000 rows cost no
memory), and rows due while the service was down are simply due now: sent at
start, marked ``late``. A crash before the commit leaves the row pending and
nothing enqueued; after it, the row is sent and the outbox delivers the mail
exactly once. A reminder is never sent twice.

Time
----
APScheduler 3.11 reads "now" as ``datetime.now(scheduler.timezone)`` and
waits with ``loop.call_later``. To run the same code on the real clock and on
the tests' ``DrivenClock`` (months in seconds), through APScheduler's public
API only:

- the scheduler is given ``ClockZone`` as its timezone: a UTC ``tzinfo``
  whose ``fromutc`` (what ``datetime.now(tz)`` calls) answers the service
  clock's now. Every datetime handed to APScheduler carries that same
  ``tzinfo`` object, so its ``astimezone(zone)`` calls are the identity and
  never reach ``fromutc``; misfire checks (which read the wall clock) are
  disabled on the job;
- beside APScheduler's own timer, a watch task sleeps on the service clock
  until the armed time (at most ``max_sleep`` at a time, so a wall clock that
  jumps, e.g. after a suspend, is noticed within minutes) and then calls
  ``scheduler.wakeup()``, which makes APScheduler look at its jobs again.

With ``SystemClock`` the watch only doubles APScheduler's own wake-up; with a
``DrivenClock`` it is what fires the job as soon as a test moves the clock.

Wake-ups: ``wake()`` (synchronous, for the mailroom's ``on_committed`` hook)
and ``notify_changed()`` re-read the earliest due time and re-arm, so a
reminder added earlier than the armed time is honoured.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import replace
from datetime import UTC, datetime, timedelta, tzinfo
from functools import partial
from typing import Any, TypeVar

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger

from esp_coord.answers import Answer, render_answer
from esp_coord.config import Config
from esp_coord.ports import Clock, StorePort, UnitOfWork
from esp_coord.scheduling.digest import Entry
from esp_coord.scheduling.registry import Composers, Rebuild
from esp_coord.store.errors import LeaseLost, StoreBusy
from esp_coord.store.reminders import Reminder

log = logging.getLogger(__name__)
T = TypeVar("T")

JOB_ID = "dispatch-reminders"
__all__ = ["JOB_ID", "ClockZone", "ReminderEngine"]


class ClockZone(tzinfo):
    """UTC whose "now" is the service clock's (see the module docstring)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def utcoffset(self, dt: datetime | None) -> timedelta:
        return timedelta(0)

    def dst(self, dt: datetime | None) -> timedelta:
        return timedelta(0)

    def tzname(self, dt: datetime | None) -> str:
        return "UTC"

    def fromutc(self, dt: datetime) -> datetime:
        # Reached from datetime.now(zone) only (see the module docstring).
        return self._clock.now().astimezone(UTC).replace(tzinfo=self)

    def at(self, moment: datetime) -> datetime:
        """``moment`` expressed in this zone without asking the clock."""
        return moment.astimezone(UTC).replace(tzinfo=self)


class ReminderEngine:
    """Sends due reminders; see the module docstring."""

    def __init__(self, *, store: StorePort, config: Config, clock: Clock, composers: Composers,
                 on_enqueued: Callable[[], None] = lambda: None, batch_size: int = 200,
                 late_after: timedelta = timedelta(minutes=15),
                 busy_pause: timedelta = timedelta(seconds=30),
                 max_sleep: timedelta = timedelta(minutes=5)) -> None:
        self.store = store
        self.config = config
        self.clock = clock
        self.composers = composers
        self.on_enqueued = on_enqueued
        self.batch_size = batch_size
        self.late_after = late_after
        self.busy_pause = busy_pause
        self.max_sleep = max_sleep
        self.zone = ClockZone(clock)
        self.scheduler: AsyncIOScheduler | None = None
        self._watch: asyncio.Task[None] | None = None
        self.sent = 0            # reminders sent since start (mails may be fewer: digests)
        self._running = False
        self._again = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._pass: asyncio.Task[Any] | None = None

    # --- life cycle -------------------------------------------------------------

    async def start(self, stack: AsyncExitStack) -> None:
        """Start the scheduler and arm the job from the database (the store
        must be started). Stops when ``stack`` closes."""
        # Sources that add rows as they go (meeting series, quarantined mails
        # still unreported) get theirs back before anything is sent: after a
        # long stop, past rows are closed and the next ones made.
        for rebuild in self.composers.rebuilds():
            def run(tx: UnitOfWork, rebuild: Rebuild = rebuild) -> None:
                rebuild(tx, self.config, self.clock.now())

            await self.store.run(run)
        self.scheduler = AsyncIOScheduler(timezone=self.zone)
        self.scheduler.start()
        stack.push_async_callback(self.stop)
        await self.notify_changed()

    async def stop(self) -> None:
        scheduler, self.scheduler = self.scheduler, None
        if scheduler is not None and scheduler.running:
            scheduler.shutdown(wait=False)
        self._stop_watch()
        # The pass APScheduler started, if any, ends (rolled back) before the
        # store closes behind us.
        tasks = list(self._tasks) + ([self._pass] if self._pass is not None else [])
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)

    async def caught_up(self) -> bool:
        """Nothing due is left unsent and no pass is running (tests, demo)."""
        if self._running or any(not t.done() for t in self._tasks):
            return False
        nxt = await self._read(lambda tx: tx.next_reminder_due())
        return nxt is None or nxt > self.clock.now()

    def wake(self) -> None:
        """Something may have added reminders: re-arm soon (callable from sync code)."""
        if self.scheduler is None:
            return
        self._spawn(self.notify_changed())

    async def notify_changed(self) -> None:
        """Re-arm the job at the earliest pending due time in the database."""
        scheduler = self.scheduler
        if scheduler is None:
            return
        try:
            nxt = await self._read(lambda tx: tx.next_reminder_due())
        except Exception as e:  # noqa: BLE001 - never left unarmed: look again later
            if not isinstance(e, StoreBusy):
                log.error("reminders: cannot read the next due time (%s)", type(e).__name__)
            nxt = self.clock.now() + self.busy_pause
        if self.scheduler is None:
            return
        self._stop_watch()
        if nxt is None:
            if scheduler.get_job(JOB_ID) is not None:
                scheduler.remove_job(JOB_ID)
            return
        scheduler.add_job(self._run, trigger=DateTrigger(run_date=self.zone.at(nxt)),
                          id=JOB_ID, replace_existing=True, misfire_grace_time=None,
                          coalesce=True, max_instances=8)
        self._watch = asyncio.get_running_loop().create_task(self._watch_until(nxt))

    async def _watch_until(self, due: datetime) -> None:
        """Wake APScheduler when the service clock reaches ``due`` (see the
        module docstring), and every ``max_sleep`` until then."""
        scheduler = self.scheduler
        while scheduler is not None and scheduler.running:
            now = self.clock.now()
            if now >= due:
                scheduler.wakeup()
                return
            await self.clock.sleep_until(min(due, now + self.max_sleep))
            scheduler.wakeup()

    def _stop_watch(self) -> None:
        task, self._watch = self._watch, None
        if task is not None and not task.done():
            task.cancel()

    async def _read(self, fn: Callable[[UnitOfWork], T]) -> T:
        """A read-only transaction: on SQLite a deferred BEGIN, which does not
        queue behind (nor hold up) the mailroom's writes."""
        return await self.store.run(fn, readonly=True)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self) -> None:
        """The APScheduler job. Re-entrant calls (a re-arm while a pass runs)
        only ask the running pass for one more round."""
        if self._running:
            self._again = True
            return
        self._running = True
        self._pass = asyncio.current_task()
        try:
            while True:
                self._again = False
                try:
                    await self.dispatch_due()
                except StoreBusy:
                    log.warning("reminders: database busy; trying again later")
                    await self.clock.sleep_until(self.clock.now() + self.busy_pause)
                    self._again = True
                except LeaseLost:
                    # A platform worker's team taken over: it stops serving it.
                    log.warning("reminders: the team's lease is lost: nothing sent")
                except Exception as e:  # noqa: BLE001 - the engine must keep running
                    log.error("reminders: dispatch pass failed (%s)", type(e).__name__)
                if not self._again:
                    break
        finally:
            self._running = False
            self._pass = None
        await self.notify_changed()

    # --- dispatch ---------------------------------------------------------------

    async def dispatch_due(self) -> int:
        """Send every reminder due now; returns how many were sent."""
        now = self.clock.now()
        sent = 0
        after: tuple[datetime, int] | None = None
        while True:
            batch = await self._read(partial(_due, now=now, limit=self.batch_size, after=after))
            for reminder in batch:
                sent += await self._dispatch_one(reminder, now)
            if len(batch) < self.batch_size:
                break
            after = (batch[-1].due_at, batch[-1].id)
        self.sent += sent
        if sent:
            self.on_enqueued()
        return sent

    async def _dispatch_one(self, reminder: Reminder, now: datetime) -> int:
        registered = self.composers.get(reminder.kind)
        digest = (registered is not None and registered.digest
                  and self.config.reminders.wants_digest(reminder.recipient))
        try:
            if digest:
                return await self.store.run(lambda tx: self._send_digest(tx, reminder, now))
            return await self.store.run(lambda tx: self._send(tx, reminder.id, now))
        except StoreBusy:
            raise
        except Exception as e:  # noqa: BLE001 - a composer bug must not stop the others
            # Only the type: an exception message may quote patient data.
            log.error("reminder %d (%s): composing failed (%s); marked failed",
                      reminder.id, reminder.kind, type(e).__name__)
            await self.store.run(lambda tx: tx.mark_reminder_failed(reminder.id, now))
            return 0

    def _pending(self, tx: UnitOfWork, reminder_id: int, now: datetime) -> Reminder | None:
        """The row if it is still to be sent; unsendable rows are closed here."""
        current = tx.reminder(reminder_id)
        if current is None or current.status != "pending":
            return None
        if self.config.member(current.recipient) is None:
            tx.mark_reminder_dropped(current.id, now)  # no longer on the roster
            return None
        if self.composers.get(current.kind) is None:
            log.error("reminder %d: no composer for kind %s; marked failed",
                      current.id, current.kind)
            tx.mark_reminder_failed(current.id, now)
            return None
        return current

    def _compose(self, tx: UnitOfWork, reminder: Reminder, now: datetime) -> list[Answer]:
        registered = self.composers.get(reminder.kind)
        assert registered is not None
        answers = registered.compose(tx, reminder, now, self.config)
        return self._on_roster(answers)

    def _send(self, tx: UnitOfWork, reminder_id: int, now: datetime) -> int:
        reminder = self._pending(tx, reminder_id, now)
        if reminder is None:
            return 0
        answers = self._compose(tx, reminder, now)
        if not answers:
            tx.mark_reminder_dropped(reminder.id, now)
            return 0
        self._enqueue(tx, answers, now, cause=f"reminder:{reminder.key}")
        self._mark_sent(tx, reminder, now)
        return 1

    def _send_digest(self, tx: UnitOfWork, first: Reminder, now: datetime) -> int:
        """Every row due for ``first``'s recipient in ``first``'s digest and
        those it shares a mail with (``Composers.one_mail``), in one mail;
        rows whose item is gone are dropped."""
        registered = self.composers[first.kind]
        assert registered.digest is not None
        names = self.composers.one_mail(registered.digest)
        digest_of = {kind: name for name in names for kind in self.composers.digest_kinds(name)}
        items: list[tuple[Reminder, Entry]] = []
        seen: set[int] = set()
        # Composing an item reconciles its source, which may write rows due
        # now (what today's mail must also tell): they join this mail rather
        # than make a second one, hence the rounds (few: a reconcile writes
        # rows of its own source only, each once).
        for _ in range(10):
            rows = [r for r in tx.reminders_due(now, 1000, recipient=first.recipient,
                                                kinds=list(digest_of)) if r.id not in seen]
            if not rows:
                break
            for row in rows:
                seen.add(row.id)
                reminder = self._pending(tx, row.id, now)
                if reminder is None:
                    continue
                item = self.composers[reminder.kind].item
                assert item is not None  # Registered checks it
                entry = item(tx, reminder, now, self.config)
                if entry is None:
                    tx.mark_reminder_dropped(reminder.id, now)
                    continue
                items.append((reminder, entry))
        # Composing an item reconciles its source from now on, keeping that
        # row only: a row composed earlier that it no longer wants (a recall
        # or an occurrence missed during a long stop) was cancelled then, and
        # leaves the mail.
        items = [(r, e) for r, e in items if _still_pending(tx, r)]
        if not items:
            return 0
        entries = {name: [e for r, e in items if digest_of[r.kind] == name] for name in names}
        present = [name for name in names if entries[name]]
        # The host writes the mail when it has entries; the others are its parts.
        writer, *guests = present
        parts = []
        for name in guests:
            part = self.composers.digests[name].part
            assert part is not None  # Digest checks it: only hosts have none
            parts.append(part(tx, first.recipient, entries[name], now, self.config))
        answer = self.composers.digests[writer].write(tx, first.recipient, entries[writer], now,
                                                      self.config, parts)
        self._enqueue(tx, self._on_roster([answer]), now, cause=f"digest:{first.key}")
        for reminder, _ in items:
            self._mark_sent(tx, reminder, now)
        return len(items)

    def _mark_sent(self, tx: UnitOfWork, reminder: Reminder, now: datetime) -> None:
        late = now - reminder.due_at > self.late_after
        if not tx.mark_reminder_sent(reminder.id, now, late):
            raise RuntimeError("reminder changed during dispatch")  # rolls the mail back
        # Ids and kinds only: the payload and the mail are patient-related.
        log.info("reminder %d (%s, %s) sent%s", reminder.id, reminder.kind, reminder.source_ref,
                 " late" if late else "")

    def _on_roster(self, answers: Sequence[Answer]) -> list[Answer]:
        """Never mail anyone who is not (or no longer) on the team's roster."""
        kept = []
        for answer in answers:
            to = tuple(a for a in answer.to if self.config.member(a) is not None)
            if to:
                kept.append(answer if to == answer.to else _with_to(answer, to))
        return kept

    def _enqueue(self, tx: UnitOfWork, answers: Sequence[Answer], now: datetime,
                       *, cause: str) -> None:
        for answer in answers:
            out = render_answer(answer, config=self.config, now=now, incoming=None)
            tx.enqueue(message_id=out.message_id, sender=self.config.bot_address,
                             recipients=out.recipients, raw=out.raw, at=now, cause=cause)


def _due(tx: UnitOfWork, *, now: datetime, limit: int, after: tuple[datetime, int] | None
         ) -> list[Reminder]:
    return tx.reminders_due(now, limit, after=after)


def _still_pending(tx: UnitOfWork, reminder: Reminder) -> bool:
    current = tx.reminder(reminder.id)
    return current is not None and current.status == "pending"


def _with_to(answer: Answer, to: tuple[str, ...]) -> Answer:
    return replace(answer, to=to)
