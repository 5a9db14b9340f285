"""What the store returns: plain frozen records, decrypted where needed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Outcome = Literal["answered", "quarantined", "ignored", "own-copy", "failed"]
# "failed": the handler crashed; the mail went to quarantine (see processing).
OUTCOMES: frozenset[str] = frozenset({"answered", "quarantined", "ignored", "own-copy", "failed"})
OUTBOX_STATUSES: tuple[str, ...] = ("pending", "sending", "sent", "failed")


@dataclass(frozen=True, slots=True)
class RecentMail:
    """What was recorded of one of a sender's recent mails (``loop_guard``)."""

    at: datetime
    outcome: str
    reason: str | None
    thread: str | None


@dataclass(frozen=True, slots=True)
class ProcessedMail:
    dedup_key: str
    message_id: str | None
    sender: str
    outcome: str
    folder: str
    at: datetime


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    message_id: str
    sender: str
    recipients: tuple[str, ...]
    raw: bytes = field(repr=False)
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    last_attempt_at: datetime | None
    sent_at: datetime | None
    last_error: str | None
    cause: str | None
    # The first delivery report saying it bounced (``record_bounce``): when,
    # the RFC 3463 status, for which recipient, and what the server said.
    bounced_at: datetime | None = None
    bounce_status: str | None = None
    bounce_recipient: str | None = None
    bounce_diagnostic: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Bounce:
    """What ``record_bounce`` made of a report that one of our mails bounced."""

    item_id: int       # the outbox row of the mail
    message_id: str
    recipient: str     # lower case, one of the row's recipients
    status: str
    # Tell the coordination now: the address's first bounce, or the last
    # notice about it is older than ``renotify_after``.
    notify: bool


@dataclass(frozen=True, slots=True)
class BouncedAddress:
    """What is known of an address our mail bounced from (``bounced_addresses``)."""

    address: str
    first_at: datetime
    last_at: datetime
    bounces: int
    last_status: str
    notified_at: datetime  # the last notice to the coordination about it


@dataclass(frozen=True, slots=True)
class Document:
    kind: str
    ref: str
    version: int
    status: str
    data: dict[str, Any] = field(repr=False)
    members: frozenset[str]
    created_at: datetime
    updated_at: datetime
    # (index name, digest) pairs as stored: saving an unchanged set again is skipped.
    blind: frozenset[tuple[str, str]] = field(default=frozenset(), repr=False)


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    kind: str
    ref: str
    version: int
    author: str
    source_message_id: str | None
    at: datetime
    change: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class MailActivity:
    """The mailbox's side of a period (``MailRecords.mail_activity``)."""

    handled: int = 0
    answered: int = 0
    quarantined: int = 0
    ignored: int = 0
    answer_delays: tuple[float, ...] = ()  # seconds, from processing to the answer sent
