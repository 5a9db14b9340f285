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
