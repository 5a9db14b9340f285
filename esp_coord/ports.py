"""The ports: what the service needs from the outside world.

The service imports this module, never an adapter. Each port is a
``typing.Protocol``; adapters in ``adapters/`` implement them and document only
where they differ. Each port has one root exception combined with the built-in
category that fits (``ConnectionError``, ``PermissionError``), so callers can
catch either the port's family or the generic kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

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


class MailSender(Protocol):
    """Submission of outgoing mail."""

    async def send(self, message: bytes, *, sender: str, recipients: Sequence[str]) -> None:
        """Submit one message. Returns once the server accepted it for every
        recipient. Raises ``SendTemporaryError`` or ``SendRejected``.
        Connections may be kept open and reused between calls.
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
