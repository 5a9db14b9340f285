"""The store in memory: the same contract as ``Store`` and ``Tx``, no database.

For service-layer tests (and demos) that need a store but not SQL: it passes
the store's contract tests (tests/integration/test_store*.py and their
siblings, on the ``memory`` backend). What it keeps and what it does not:

* Transactions are real. A writer holds the data's lock (a ``threading.Lock``,
  one writer at a time as on SQLite) from its start to its end and works on
  its own copy of the tables, copied lazily, table by table, on first write;
  the commit installs that copy in one assignment, an exception throws it
  away. ``savepoint()`` nests the same way. A readonly transaction reads the
  last committed tables without the lock (SQLite's WAL readers); its first
  write takes the lock, or raises ``StoreBusy`` if another writer committed
  since it began (SQLite's stale snapshot). Waiting longer than
  ``busy_timeout`` for the lock raises ``StoreBusy``, which ``run`` retries.
* Rows are the store's own frozen records (``OutboxItem``, ``Document``,
  ``Reminder``, ``AuditRecord``...), replaced, never changed in place. Data
  and payloads go through the same JSON serialisation as the SQL store's (so
  keys come back sorted, tuples as lists), and every read returns a fresh
  copy. Datetimes are stored aware UTC; naive ones are refused alike.
* Nothing is encrypted (there is no disk). Blind indexes are still the
  keyring's digests, so ``Document.blind`` and ``find_documents`` behave the
  same. There is no key check, no migration, no SQL (``Tx.connection``).

``MemoryData`` is the "database": a second ``MemoryStore`` on the same data
sees what the first committed, as a restarted service would.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from esp_coord.crypto import Keyring
from esp_coord.store.audit import (
    AuditRecord,
    BrokenRecord,
    ChainReport,
    _Walk,
    audit_fields,
    record_hash,
)
from esp_coord.store.documents import _member
from esp_coord.store.errors import (
    AlreadyProcessed,
    ConflictError,
    OutboxStateError,
    StoreBusy,
    StoreError,
    UnknownDocument,
)
from esp_coord.store.mail import QUARANTINE_OUTCOMES, SILENCED_REASONS, QuarantinedMail
from esp_coord.store.memory_base import MemoryData, json_copy, utc, utc_or_none
from esp_coord.store.memory_received import MemoryReceivedOps
from esp_coord.store.memory_reminders import MemoryReminderOps
from esp_coord.store.outbox import _MAX_ERROR_CHARS, bounced_recipient
from esp_coord.store.records import (
    OUTBOX_STATUSES,
    OUTCOMES,
    Bounce,
    BouncedAddress,
    Document,
    HistoryEntry,
    MailActivity,
    OutboxItem,
    ProcessedMail,
    RecentMail,
)
from esp_coord.store.threads import ThreadBatch, in_executor, retrying

__all__ = ["MemoryBatch", "MemoryData", "MemoryStore", "MemoryTx"]

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Mail:
    """A row of ``processed_mail``."""

    id: int
    dedup_key: str
    message_id: str | None
    sender: str
    outcome: str
    folder: str
    at: datetime
    reason: str | None
    thread: str | None
    notice_at: datetime | None = None


def _reported(row: _Mail) -> bool:
    """The mails the daily notice reports (``mail._REPORTED``)."""
    return row.outcome in QUARANTINE_OUTCOMES or (
        row.outcome == "ignored" and row.reason in SILENCED_REASONS)


class MemoryTx(MemoryReminderOps, MemoryReceivedOps):
    """``Tx`` in memory: every public method with the same signature and meaning.

    Valid only inside the ``MemoryStore.run`` callback (or ``transaction()``
    block, ``MemoryBatch.run`` callback) that produced it.
    """

    __slots__ = ()

    # --- incoming mail and numbering (mail.py) ----------------------------

    def processed(self, dedup_key: str) -> ProcessedMail | None:
        row = self._read("mail").get(dedup_key)
        return None if row is None else ProcessedMail(
            row.dedup_key, row.message_id, row.sender, row.outcome, row.folder, row.at)

    def record_processed(
        self,
        *,
        dedup_key: str,
        message_id: str | None,
        sender: str,
        outcome: str,
        folder: str,
        at: datetime,
        reason: str | None = None,
        thread: str | None = None,
    ) -> None:
        """Record a handled mail. Raises ``AlreadyProcessed`` if the key is known."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}; expected one of {sorted(OUTCOMES)}")
        at = utc(at)
        if dedup_key in self._read("mail"):
            raise AlreadyProcessed(dedup_key)
        self._write("mail")[dedup_key] = _Mail(
            self._new_id("mail"), dedup_key, message_id, sender, outcome, folder, at,
            reason, thread)

    def recent_of_sender(self, sender: str, since: datetime,
                               limit: int = 200) -> list[RecentMail]:
        """The sender's mails recorded since ``since``, newest first, at most ``limit``."""
        since = utc(since)
        rows = sorted((r for r in self._read("mail").values()
                       if r.sender == sender and r.at >= since),
                      key=lambda r: (r.at, r.id), reverse=True)
        return [RecentMail(r.at, r.outcome, r.reason, r.thread) for r in rows[:limit]]

    def quarantine_count(self, since: datetime | None = None) -> int:
        """Mails put in quarantine (unknown sender, or the handler failed)."""
        since = utc_or_none(since)
        return sum(1 for r in self._read("mail").values()
                   if r.outcome in QUARANTINE_OUTCOMES and (since is None or r.at >= since))

    def mail_activity(self, since: datetime, until: datetime) -> MailActivity:
        """Mails handled from ``since`` to ``until`` by outcome, and each answered
        mail's delay to its first answer sent (our own copies aside)."""
        since, until = utc(since), utc(until)
        mails = [r for r in self._read("mail").values() if since <= r.at < until]
        counts = Counter(r.outcome for r in mails)
        first_sent: dict[str, datetime] = {}
        for item in self._read("outbox").values():
            if item.cause is not None and item.sent_at is not None:
                known = first_sent.get(item.cause)
                first_sent[item.cause] = item.sent_at if known is None else min(known,
                                                                                 item.sent_at)
        delays = tuple(sorted(max(0.0, (first_sent[r.dedup_key] - r.at).total_seconds())
                              for r in mails
                              if r.outcome == "answered" and r.dedup_key in first_sent))
        return MailActivity(handled=sum(v for k, v in counts.items() if k != "own-copy"),
                            answered=counts["answered"],
                            quarantined=sum(counts[o] for o in QUARANTINE_OUTCOMES),
                            ignored=counts["ignored"], answer_delays=delays)

    def claim_quarantined(self, before: datetime, notice_at: datetime) -> int:
        """Give every reported mail recorded before ``before`` and not yet
        reported to the notice ``notice_at``; returns how many were claimed."""
        before, notice_at = utc(before), utc(notice_at)
        claimed = [r for r in self._read("mail").values()
                   if _reported(r) and r.notice_at is None and r.at < before]
        if claimed:
            rows = self._write("mail")
            for r in claimed:
                rows[r.dedup_key] = replace(r, notice_at=notice_at)
        return len(claimed)

    def unreported_quarantine(self) -> bool:
        """Whether a quarantined mail (or a member's left unanswered) awaits its notice."""
        return any(_reported(r) and r.notice_at is None for r in self._read("mail").values())

    def quarantined_in_notice(self, notice_at: datetime) -> list[QuarantinedMail]:
        """The mails claimed by the notice ``notice_at``, oldest first."""
        notice_at = utc(notice_at)
        rows = sorted((r for r in self._read("mail").values() if r.notice_at == notice_at),
                      key=lambda r: (r.at, r.id))
        return [QuarantinedMail(r.at, r.sender, r.outcome, r.reason) for r in rows]

    def next_number(self, kind: str, year: int) -> int:
        """1, 2, 3... per (kind, year); a rolled-back transaction gives its number back."""
        counters = self._write("counters")
        counters[(kind, year)] = number = counters.get((kind, year), 0) + 1
        return int(number)

    # --- the outbox (outbox.py) --------------------------------------------

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
        addresses = tuple(json.loads(json.dumps(list(recipients))))
        at, not_before = utc(at), utc_or_none(not_before)
        existing = self._read("outbox_ids").get(message_id)
        if existing is not None:
            return int(existing)
        item_id = self._new_id("outbox")
        self._write("outbox")[item_id] = OutboxItem(
            id=item_id, message_id=message_id, sender=sender, recipients=addresses,
            raw=bytes(raw), status="pending", attempts=0, created_at=at,
            next_attempt_at=not_before or at, last_attempt_at=None, sent_at=None,
            last_error=None, cause=cause)
        self._write("outbox_ids")[message_id] = item_id
        return item_id

    def outbox_due(self, now: datetime, limit: int = 100) -> list[OutboxItem]:
        now = utc(now)
        due = [i for i in self._read("outbox").values()
               if i.status == "pending" and i.next_attempt_at <= now]
        return sorted(due, key=lambda i: (i.next_attempt_at, i.id))[:limit]

    def outbox_sending(self) -> list[OutboxItem]:
        return sorted((i for i in self._read("outbox").values() if i.status == "sending"),
                      key=lambda i: i.id)

    def outbox_item(self, item_id: int) -> OutboxItem | None:
        item: OutboxItem | None = self._read("outbox").get(item_id)
        return item

    def mark_sending(self, item_id: int, now: datetime) -> None:
        """pending (or sending, when re-sending after a crash) -> sending.
        Raises ``OutboxStateError`` for an item already sent or failed."""
        self._transition(item_id, ("pending", "sending"), "sending", last_attempt_at=utc(now))

    def mark_sent(self, item_id: int, now: datetime) -> None:
        self._transition(item_id, ("sending", "pending"), "sent", sent_at=utc(now))

    def mark_retry(
        self, item_id: int, now: datetime, *, error: str, next_attempt_at: datetime
    ) -> None:
        self._transition(item_id, ("sending", "pending"), "pending", count=True,
                         last_error=error[:_MAX_ERROR_CHARS],
                         next_attempt_at=utc(next_attempt_at), last_attempt_at=utc(now))

    def mark_failed(self, item_id: int, now: datetime, *, error: str) -> None:
        self._transition(item_id, ("sending", "pending"), "failed", count=True,
                         last_error=error[:_MAX_ERROR_CHARS], last_attempt_at=utc(now))

    def confirm_delivered(self, message_id: str, now: datetime) -> bool:
        """Our own copy of this message was seen: it is sent, whatever we thought."""
        now = utc(now)
        item_id = self._read("outbox_ids").get(message_id)
        if item_id is None:
            return False
        item = self._read("outbox")[item_id]
        self._write("outbox")[item_id] = replace(item, status="sent",
                                                 sent_at=item.sent_at or now)
        return True

    def record_bounce(self, *, message_id: str, recipient: str, status: str, diagnostic: str,
                      at: datetime, renotify_after: timedelta) -> Bounce | None:
        """As ``OutboxOps.record_bounce`` (the diagnostic kept in clear: no disk)."""
        at = utc(at)
        item_id = self._read("outbox_ids").get(message_id)
        if item_id is None:
            return None
        item: OutboxItem = self._read("outbox")[item_id]
        address = bounced_recipient(item.recipients, recipient)
        if address is None:
            return None
        if item.bounced_at is None:
            self._write("outbox")[item_id] = replace(
                item, bounced_at=at, bounce_status=status, bounce_recipient=address,
                bounce_diagnostic=diagnostic)
        known: BouncedAddress | None = self._read("bounced").get(address)
        notify = known is None or known.notified_at <= at - renotify_after
        if known is None:
            record = BouncedAddress(address=address, first_at=at, last_at=at, bounces=1,
                                    last_status=status, notified_at=at)
        else:
            record = replace(known, last_at=at, bounces=known.bounces + 1, last_status=status,
                             notified_at=at if notify else known.notified_at)
        self._write("bounced")[address] = record
        return Bounce(item_id=item_id, message_id=message_id, recipient=address,
                      status=status, notify=notify)

    def address_bounces(self, address: str) -> BouncedAddress | None:
        """The record of bounces from ``address``, or None."""
        found: BouncedAddress | None = self._read("bounced").get(address.strip().lower())
        return found

    def outbox_stats(self) -> dict[str, int]:
        stats = dict.fromkeys(OUTBOX_STATUSES, 0)
        for item in self._read("outbox").values():
            stats[item.status] = stats.get(item.status, 0) + 1
        return stats

    def _transition(self, item_id: int, frm: tuple[str, ...], status: str, *,
                    count: bool = False, **values: Any) -> None:
        item = self._read("outbox").get(item_id)
        if item is None:
            raise OutboxStateError(f"no outbox item {item_id}")
        if item.status in frm:
            attempts = item.attempts + 1 if count else item.attempts
            self._write("outbox")[item_id] = replace(item, status=status, attempts=attempts,
                                                     **values)
            return
        if item.status == "sent" and status != "sending":
            return  # delivered already (e.g. witnessed): late reports change nothing
        raise OutboxStateError(
            f"outbox item {item_id} is {item.status}; cannot move it to {status}")

    # --- documents (documents.py) ------------------------------------------

    def save_document(
        self,
        *,
        kind: str,
        ref: str,
        data: dict[str, Any],
        status: str,
        expected_version: int | None,
        blind: Mapping[str, str] = {},  # noqa: B006 - read only
        members: Iterable[str] = (),
        at: datetime,
        previous: Document | None = None,
    ) -> int:
        """Create (``expected_version=None``) or update a document; returns its
        new version (1 on creation). ``blind`` and ``members`` replace the
        stored ones; ``previous`` is accepted and unneeded (nothing to spare).

        Raises ``ConflictError`` if the reference exists on creation, or if the
        stored version is not ``expected_version`` on update.
        """
        digests = frozenset((name, self._keyring.blind_index(value, purpose=name))
                            for name, value in blind.items())
        addresses = frozenset(_member(m) for m in members)
        stored = json_copy(data)
        at = utc(at)
        found = self._read("documents").get((kind, ref))
        found_version = None if found is None else found.version
        if found_version != expected_version:
            raise ConflictError(kind, ref, expected=expected_version, found=found_version)
        version = 1 if expected_version is None else expected_version + 1
        self._write("documents")[(kind, ref)] = Document(
            kind=kind, ref=ref, version=version, status=status, data=stored,
            members=addresses, created_at=at if found is None else found.created_at,
            updated_at=at, blind=digests)
        return version

    def load_document(self, kind: str, ref: str) -> Document | None:
        doc = self._read("documents").get((kind, ref))
        return None if doc is None else replace(doc, data=json_copy(doc.data))

    def find_documents(
        self,
        kind: str,
        *,
        blind: tuple[str, str] | None = None,
        member: str | None = None,
        status: str | None = None,
    ) -> list[Document]:
        """Documents of ``kind`` matching every given filter, oldest first.

        ``blind`` = (index name, clear value), compared through its digest.
        """
        wanted = None if blind is None else (
            blind[0], self._keyring.blind_index(blind[1], purpose=blind[0]))
        address = None if member is None else _member(member)
        return [replace(d, data=json_copy(d.data)) for d in self._read("documents").values()
                if d.kind == kind and (wanted is None or wanted in d.blind)
                and (address is None or address in d.members)
                and (status is None or d.status == status)]

    def add_history(
        self,
        *,
        kind: str,
        ref: str,
        version: int,
        author: str,
        source_message_id: str | None,
        at: datetime,
        change: dict[str, Any],
    ) -> None:
        """Append a history entry. Raises ``UnknownDocument``."""
        entry = HistoryEntry(kind=kind, ref=ref, version=version, author=author,
                             source_message_id=source_message_id, at=utc(at),
                             change=json_copy(change))
        if (kind, ref) not in self._read("documents"):
            raise UnknownDocument(kind, ref)
        self._write("history").append(entry)

    def history(self, kind: str, ref: str) -> list[HistoryEntry]:
        return [replace(e, change=json_copy(e.change)) for e in self._read("history")
                if (e.kind, e.ref) == (kind, ref)]

    # --- the audit trail (audit.py) ----------------------------------------

    def audit(self, actor: str, action: str, ref: str | None,
                    source_message_id: str | None, detail: str, at: datetime) -> int:
        """Append one record in this transaction; returns its position."""
        fields = audit_fields(actor, action, ref, source_message_id, detail, at)
        head: tuple[int, str] = self._read("audit_head")
        seq, prev = head
        digest = record_hash(id=seq + 1, prev_hash=prev, **fields)
        self._write("audit").append(AuditRecord(id=seq + 1, prev_hash=prev, hash=digest,
                                                **fields))
        self._put("audit_head", (seq + 1, digest))
        return seq + 1

    def audit_records(self, ref: str | None = None, *, actor: str | None = None,
                            limit: int | None = None) -> list[AuditRecord]:
        """Records in chain order, for one plan and/or one actor."""
        who = None if actor is None else actor.strip().lower()
        found = [r for r in sorted(self._read("audit"), key=lambda r: r.id)
                 if (ref is None or r.ref == ref) and (who is None or r.actor == who)]
        return found if limit is None else found[:limit]

    def verify_audit(self, *, anchor: tuple[int, str] | None = None) -> ChainReport:
        """Walk the whole chain; stop at the first broken record (as ``Tx``'s)."""
        walk = _Walk(anchor)
        head: tuple[int, str] = self._read("audit_head")
        for r in sorted(self._read("audit"), key=lambda r: r.id):
            if r.id > head[0]:
                # Only by hand in memory (a test's tampering), as in SQL.
                return walk.report(BrokenRecord(
                    r.id, "it lies beyond the head: added outside the service"))
            broken = walk.step(r)
            if broken is not None:
                return walk.report(broken)
        return walk.conclude(head)


class MemoryBatch(ThreadBatch[MemoryTx]):
    """``Batch`` in memory (see ``ThreadBatch``), holding the writers' lock
    from the first ``run`` to ``commit`` or ``rollback``. ``close`` also rolls
    back what is still open."""

    def __init__(self, store: MemoryStore) -> None:
        super().__init__("esp-memory-batch")
        self._store = store

    def _open(self) -> MemoryTx:
        return self._store._begin(readonly=False)

    def _finish(self, tx: MemoryTx, commit: bool) -> None:
        tx._end(commit)

    def close(self) -> None:
        self._end(False)
        super().close()


class MemoryStore:
    """``Store`` in memory (see the module doc). ``keyring`` computes the blind
    indexes (a fresh one if not given); ``data`` is shared with other stores
    to see the same "database"; the timing options are ``Store``'s."""

    def __init__(self, keyring: Keyring | None = None, *, data: MemoryData | None = None,
                 busy_timeout: float = 5.0, retry_delay: float = 0.05,
                 max_retry_delay: float = 2.0, threads: int = 4) -> None:
        self._keyring = keyring if keyring is not None else Keyring.generate()
        self._data = data if data is not None else MemoryData()
        self._busy_timeout = busy_timeout
        self._retry_delay = retry_delay
        self._max_retry_delay = max_retry_delay
        self._threads = threads
        self._executor: ThreadPoolExecutor | None = None

    @property
    def keyring(self) -> Keyring:
        return self._keyring

    @property
    def data(self) -> MemoryData:
        return self._data

    async def start(self, stack: AsyncExitStack) -> None:
        """Get the store's threads; they go when ``stack`` closes."""
        if self._executor is not None:
            raise StoreError("the store is already started")
        self._executor = ThreadPoolExecutor(self._threads, thread_name_prefix="esp-memory")
        stack.push_async_callback(self.close)

    async def close(self) -> None:
        """Wait for the work in flight (as ``Store.close``), then let the threads go."""
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, wait=True)

    def _begin(self, *, readonly: bool) -> MemoryTx:
        """A transaction begun (a writer waits for the lock, in the calling thread)."""
        if self._executor is None:
            raise StoreError("the store is not started (call MemoryStore.start first)")
        if not readonly and not self._data.lock.acquire(timeout=self._busy_timeout):
            raise StoreBusy("the memory store stayed locked by another writer")
        return MemoryTx(self._data, self._keyring, locked=not readonly,
                        busy_timeout=self._busy_timeout)

    def _transact(self, fn: Callable[[MemoryTx], T], readonly: bool) -> T:
        tx = self._begin(readonly=readonly)
        try:
            result = fn(tx)
        except BaseException:
            tx._end(False)
            raise
        tx._end(True)
        return result

    @asynccontextmanager
    async def transaction(self, *, readonly: bool = False) -> AsyncIterator[MemoryTx]:
        """One transaction in the calling thread, as ``Store.transaction``:
        commit on clean exit, rollback on exception."""
        tx = self._begin(readonly=readonly)
        try:
            yield tx
        except BaseException:
            tx._end(False)
            raise
        tx._end(True)

    async def run(self, fn: Callable[[MemoryTx], T], *, attempts: int = 5,
                  readonly: bool = False) -> T:
        """``fn`` in a transaction in one of the store's threads, again from
        the start while the lock stays taken (``StoreBusy`` after the last)."""
        executor = self._executor
        if executor is None:
            raise StoreError("the store is not started (call MemoryStore.start first)")
        return await retrying(
            lambda: in_executor(executor, self._transact, fn, readonly),
            attempts=attempts, delay=self._retry_delay, max_delay=self._max_retry_delay)

    def batch(self) -> MemoryBatch:
        """A transaction kept open over several trips (see ``MemoryBatch``)."""
        return MemoryBatch(self)
