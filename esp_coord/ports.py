"""The ports: what the service needs from the outside world.

The service imports this module, never an adapter. Each port is a
``typing.Protocol``; adapters in ``adapters/`` implement them and document only
where they differ. Each port has one root exception combined with the built-in
category that fits (``ConnectionError``, ``PermissionError``), so callers can
catch either the port's family or the generic kind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, AsyncExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    # Value types of the store port, defined beside the SQL implementation.
    from esp_coord.crypto import Keyring
    from esp_coord.store.audit import AuditRecord, ChainReport
    from esp_coord.store.mail import QuarantinedMail
    from esp_coord.store.received import ReceivedDocument
    from esp_coord.store.records import (
        Bounce,
        BouncedAddress,
        Document,
        HistoryEntry,
        MailActivity,
        OutboxItem,
        ProcessedMail,
        RecentMail,
    )
    from esp_coord.store.reminders import Reconciled, Reminder, ReminderSpec

T = TypeVar("T")

# --- Mailbox (IMAP) -----------------------------------------------------------


class MailboxError(Exception):
    """Root of every error a mailbox adapter raises."""


class MailboxUnavailable(MailboxError, ConnectionError):
    """The server cannot be reached or the connection was lost.

    Transient: the service backs off and calls ``connect()`` again.
    """


class MailboxTLSError(MailboxError, ConnectionError):
    """TLS failed: untrusted or expired certificate, protocol too old, no STARTTLS.

    Not retried silently: ``esp-coord check`` shows ``str(error)``, which is
    written for a coordinator (plain words, what to check).
    """


class MailboxAuthError(MailboxError, PermissionError):
    """The server refused our credentials or client certificate."""


@dataclass(frozen=True, slots=True)
class FetchedMail:
    """One message as the server holds it: its UID in the inbox, its raw bytes
    and its size as the server reports it (RFC822.SIZE).

    ``headers_only``: the message was larger than the limit asked of ``fetch``,
    so ``raw`` is its header block alone (with the blank line that ends it;
    an adapter may cut an overlong one), and ``size`` is the size of the whole
    message on the server.
    """

    uid: int
    raw: bytes
    size: int
    headers_only: bool = False


class Mailbox(Protocol):
    """The team's secure mailbox, as the service uses it.

    The inbox holds only work to do: every message the service has handled is
    moved out (to the processed or the quarantine folder), never deleted. So
    "pending" is simply "what is in the inbox".
    """

    async def connect(self) -> None:
        """(Re)connect, secure the connection, log in, create the configured
        folders if missing, and select the inbox. Idempotent: after a lost
        connection, calling it again starts afresh.

        Raises ``MailboxUnavailable``, ``MailboxTLSError`` or ``MailboxAuthError``.
        """

    async def close(self) -> None:
        """Log out and close the connection. Never raises."""

    async def uidvalidity(self) -> int:
        """The inbox's UIDVALIDITY. When it changes, UIDs seen before mean nothing."""

    async def pending(self) -> list[int]:
        """UIDs of every message in the inbox, ascending."""

    async def fetch(self, uids: Sequence[int], *,
                    max_bytes: int | None = None) -> list[FetchedMail]:
        """Raw messages for these UIDs (without setting \\Seen), in UID order.

        UIDs no longer in the inbox are left out of the result. A message whose
        size on the server is over ``max_bytes`` is never downloaded whole: it
        comes with ``headers_only`` set and its header block as ``raw``.
        """

    async def move(self, uids: Sequence[int], folder: str) -> None:
        """Move messages from the inbox to ``folder`` (a configured folder name,
        not yet encoded: the adapter does the modified UTF-7). Uses MOVE where the
        server has it, else COPY + \\Deleted + UID EXPUNGE of exactly those UIDs.
        """

    async def wait_for_mail(self, timeout: float) -> None:
        """Return when new mail may have arrived, or after ``timeout`` seconds.

        IDLE where the server offers it, polling otherwise. Returning early
        without new mail is allowed; the caller simply looks again.
        """


# --- Sending (SMTP) -----------------------------------------------------------


class SendError(Exception):
    """Root of every error a mail sender raises."""


class SendTemporaryError(SendError, ConnectionError):
    """Server down, refusing for now (4xx), or connection lost: retry later."""


class SendRejected(SendError):
    """The server refused the message for good (5xx). Not retried."""

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class SendAborted(SendError):
    """``proceed`` said no just before the message data: nothing was submitted."""


class MailSender(Protocol):
    """Submission of outgoing mail."""

    async def send(self, message: bytes, *, sender: str, recipients: Sequence[str],
                   proceed: Callable[[], bool] = lambda: True) -> None:
        """Submit one message. Returns once the server accepted it for every
        recipient. Raises ``SendTemporaryError`` or ``SendRejected``.
        Connections may be kept open and reused between calls.

        ``proceed`` is asked once the envelope is accepted, just before the
        message data, the point after which the server may take it: on False
        the transaction is reset and ``SendAborted`` raised. (A platform
        worker frozen mid-session past its lease must not deliver what the
        team's new worker will send again.)
        """

    async def close(self) -> None:
        """Close any open connection. Never raises."""


# --- Time ---------------------------------------------------------------------


class Clock(Protocol):
    """The service's notion of now. Tests drive it to run months in seconds."""

    def now(self) -> datetime:
        """Current time, timezone-aware (UTC)."""

    async def sleep_until(self, when: datetime) -> None:
        """Return at ``when`` (or at once if it is past)."""


# --- DNS SRV records (esp-coord check --discover) ----------------------------


class ResolverError(Exception):
    """Root of every error a resolver adapter raises. ``str(error)`` is plain
    words for the operator."""


class NoSuchRecord(ResolverError, LookupError):
    """The name has no SRV record: it does not exist, or holds other types only.
    An answer, not a failure."""


class ResolverUnavailable(ResolverError, ConnectionError):
    """No answer could be had: the DNS server refused, failed or is unreachable."""


class ResolverTimeout(ResolverUnavailable, TimeoutError):
    """The DNS server did not answer in the time allowed."""


@dataclass(frozen=True, slots=True)
class SrvRecord:
    """One SRV record (RFC 2782). ``target`` is a host name without its final
    dot, or ``"."``: the service is decidedly not offered."""

    priority: int
    weight: int
    port: int
    target: str


class SrvResolver(Protocol):
    """Looks up SRV records."""

    async def srv(self, name: str) -> list[SrvRecord]:
        """The SRV records of ``name`` (taken as absolute, e.g.
        ``_imaps._tcp.example.org``), in the order received. Raises
        ``NoSuchRecord`` (at least one record otherwise), ``ResolverTimeout``
        or ``ResolverUnavailable``."""


# --- Store ----------------------------------------------------------------------
# The unit of work the service layer sees: one transaction, its operations
# grouped by what they keep. ``esp_coord.store.Tx`` (SQLAlchemy) and
# ``esp_coord.store.memory.MemoryTx`` implement it and pass the same contract
# tests (tests/integration/test_store*.py). Every method is synchronous: a
# whole unit of work runs in one trip to the database thread (``Store.run``).

class MailRecords(Protocol):
    def processed(self, dedup_key: str) -> ProcessedMail | None:
        ...

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
        """Record a handled mail."""

    def recent_of_sender(self, sender: str, since: datetime,
            limit: int = 200) -> list[RecentMail]:
        """The sender's mails recorded since ``since``, newest first, at most ``limit`` (more than
        any answer budget counts)."""

    def quarantine_count(self, since: datetime | None = None) -> int:
        """Mails put in quarantine (unknown sender, or the handler failed)."""

    def mail_activity(self, since: datetime, until: datetime) -> MailActivity:
        """What the mailbox did from ``since`` (included) to ``until`` (excluded): mails
        handled by outcome (our own copies aside), and for each answered mail the
        seconds from its processing to its first answer sent."""

    def claim_quarantined(self, before: datetime, notice_at: datetime) -> int:
        """Give every quarantined mail (or member's mail left unanswered) recorded before ``before``
        and not yet reported to the notice ``notice_at``; returns how many were claimed."""

    def unreported_quarantine(self) -> bool:
        """Whether a quarantined mail (or a member's left unanswered) awaits its notice."""

    def quarantined_in_notice(self, notice_at: datetime) -> list[QuarantinedMail]:
        """The mails claimed by the notice ``notice_at``, oldest first."""

    def next_number(self, kind: str, year: int) -> int:
        """1, 2, 3... per (kind, year), distinct under concurrency; a
        rolled-back transaction gives its number back."""


class Outbox(Protocol):
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

    def outbox_due(self, now: datetime, limit: int = 100) -> list[OutboxItem]:
        ...

    def outbox_sending(self) -> list[OutboxItem]:
        ...

    def outbox_item(self, item_id: int) -> OutboxItem | None:
        ...

    def mark_sending(self, item_id: int, now: datetime) -> None:
        """pending (or sending, when re-sending after a crash) -> sending."""

    def mark_sent(self, item_id: int, now: datetime) -> None:
        ...

    def mark_retry(
        self, item_id: int, now: datetime, *, error: str, next_attempt_at: datetime
    ) -> None:
        ...

    def mark_failed(self, item_id: int, now: datetime, *, error: str) -> None:
        ...

    def confirm_delivered(self, message_id: str, now: datetime) -> bool:
        """Our own copy of this message was seen: it is sent, whatever we thought."""

    def record_bounce(self, *, message_id: str, recipient: str, status: str, diagnostic: str,
                      at: datetime, renotify_after: timedelta) -> Bounce | None:
        """A delivery report says our message ``message_id`` bounced for
        ``recipient``: recorded on its row (the first bounce) and counted on
        the address's record, which survives restarts. None, nothing
        recorded, when no row has this id or ``recipient`` is not one of its
        recipients. ``Bounce.notify``: the address's first bounce, or its last
        notice is older than ``renotify_after``."""

    def address_bounces(self, address: str) -> BouncedAddress | None:
        """The record of bounces from ``address``, or None."""

    def outbox_stats(self) -> dict[str, int]:
        ...


class Documents(Protocol):
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
        """Create (``expected_version=None``) or update a document; returns its new version (1 on
        creation)."""

    def load_document(self, kind: str, ref: str) -> Document | None:
        ...

    def find_documents(
        self,
        kind: str,
        *,
        blind: tuple[str, str] | None = None,
        member: str | None = None,
        status: str | None = None,
    ) -> list[Document]:
        """Documents of ``kind`` matching every given filter, oldest first."""

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
        """Append a history entry (change encrypted). Raises ``UnknownDocument``."""

    def history(self, kind: str, ref: str) -> list[HistoryEntry]:
        ...


class Reminders(Protocol):
    def replace_reminders(self, source_ref: str, specs: Iterable[ReminderSpec],
            now: datetime) -> Reconciled:
        """Make the source's pending reminders exactly ``specs`` (see module doc)."""

    def add_reminders(self, specs: Sequence[ReminderSpec], now: datetime) -> int:
        """Insert new rows as they are (no past-time filter), skipping keys that exist."""

    def reminders_due(self, until: datetime, limit: int = 100, *,
            after: tuple[datetime, int] | None = None,
            recipient: str | None = None,
            kinds: Iterable[str] | None = None) -> list[Reminder]:
        """Pending reminders due at or before ``until``, oldest first."""

    def next_reminder_due(self) -> datetime | None:
        """When the earliest pending reminder is due (index on status, due_at)."""

    def reminder(self, reminder_id: int) -> Reminder | None:
        ...

    def reminders_of(self, source_ref: str, *, status: str | None = None
            ) -> list[Reminder]:
        """Every row of a source (any status unless given), in due order."""

    def mark_reminder_sent(self, reminder_id: int, now: datetime, late: bool) -> bool:
        """pending -> sent."""

    def mark_reminder_dropped(self, reminder_id: int, now: datetime) -> bool:
        """pending -> dropped:"""

    def mark_reminder_failed(self, reminder_id: int, now: datetime) -> bool:
        """pending -> failed: composing it raised (a bug); kept for inspection."""

    def reminder_stats(self) -> dict[str, int]:
        ...


class AuditTrail(Protocol):
    def audit(self, actor: str, action: str, ref: str | None,
            source_message_id: str | None, detail: str, at: datetime) -> int:
        """Append one record in this transaction; returns its position."""

    def audit_records(self, ref: str | None = None, *, actor: str | None = None,
            limit: int | None = None) -> list[AuditRecord]:
        """Records in chain order, for one plan and/or one actor."""

    def verify_audit(self, *, anchor: tuple[int, str] | None = None) -> ChainReport:
        """Walk the whole chain; stop at the first broken record."""


class ReceivedDocuments(Protocol):
    """Documents received from the trust space (esp_coord/store/received.py)."""

    def add_received(self, *, ref: str, status: str, plan_ref: str | None, number: int | None,
                     sender: str, ins: str | None, doc_id: str | None, set_id: str | None,
                     version: int | None, meta: Mapping[str, Any], archive: bytes,
                     at: datetime, expires_at: datetime | None,
                     source_message_id: str | None) -> None:
        """Keep a document, attached to a plan (with its number) or pending."""

    def received(self, ref: str) -> ReceivedDocument | None:
        ...

    def received_for_plan(self, plan_ref: str) -> list[ReceivedDocument]:
        """The plan's attached documents, by number."""

    def received_pending(self, ins: str, now: datetime) -> list[ReceivedDocument]:
        """Documents awaiting a plan for this INS, not expired, oldest first."""

    def find_received(self, *, doc_id: str | None = None, set_id: str | None = None
                      ) -> ReceivedDocument | None:
        """The latest live document with this CDA id, else this set id."""

    def received_archive(self, ref: str) -> bytes | None:
        """The archive as it came; None when unknown or expired."""

    def next_received_number(self, plan_ref: str) -> int:
        ...

    def attach_received(self, ref: str, *, plan_ref: str, number: int, at: datetime) -> bool:
        """pending -> attached; False when it was not pending."""

    def replace_received(self, ref: str, *, sender: str, doc_id: str | None,
                         set_id: str | None, version: int | None, meta: Mapping[str, Any],
                         archive: bytes, at: datetime, source_message_id: str | None) -> bool:
        """The document becomes this new version (same plan and number)."""

    def expire_received(self, now: datetime) -> int:
        """Erase the pending documents whose time is up; returns how many."""


class UnitOfWork(MailRecords, Outbox, Documents, Reminders, AuditTrail, ReceivedDocuments,
                 Protocol):
    """One open transaction: valid only inside the ``run`` callback that got it."""

    def savepoint(self) -> AbstractContextManager[None]:
        """A nested transaction: an exception inside undoes only what was
        written inside, and propagates."""


class StorePort(Protocol):
    """Where the service keeps everything: plans, meetings, the outbox, reminders,
    the audit trail and the record of every mail."""

    @property
    def keyring(self) -> Keyring: ...

    async def start(self, stack: AsyncExitStack) -> None:
        """Open (and migrate) the store; closed when ``stack`` closes."""

    async def run(self, fn: Callable[[UnitOfWork], T], *, attempts: int = 5,
                  readonly: bool = False) -> T:
        """``fn`` in one transaction, again from the start while the store is
        busy (``StoreBusy`` after ``attempts``): ``fn`` must touch nothing else."""

    def batch(self) -> BatchPort:
        """One transaction over several ``run`` calls (the mailroom's batches)."""


class BatchPort(Protocol):
    opened_at: float | None

    async def run(self, fn: Callable[[UnitOfWork], T]) -> T:
        """``fn`` in a savepoint of the batch's transaction (opened on first use)."""

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...

    def close(self) -> None: ...
