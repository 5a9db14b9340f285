"""What the intake hands to the service: one parsed incoming mail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Attachment:
    filename: str | None
    content_type: str
    size: int  # decoded size in bytes (estimated from base64 without decoding)


@dataclass(frozen=True)
class IncomingMail:
    """A received message, decoded once. No field ever holds CR, LF (except
    ``text`` and ``body``, where "\\n" is the only line break), control
    characters or lone surrogates."""

    # "mid:<hex>" (of the sender and the case-exact Message-ID) or "sha256:<hex>"
    # (``content_key``: of the mail without its trace fields).
    dedup_key: str
    message_id: str | None  # "<...>"
    from_address: str  # lower-case addr-spec, "" when missing or ambiguous
    from_name: str
    return_path: str | None  # None: absent; "": null path "<>" (a bounce); else as found
    subject: str
    date: datetime | None  # timezone-aware
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    text: str  # the whole readable body
    body: str  # what the sender wrote: line N is line N of ``text`` or blank
    automatic: str | None  # why it must never be answered
    witness: str | None  # the X-ESP-Coord-Witness tag (hex), see esp_coord.witness
    size: int
    attachments: tuple[Attachment, ...]
    too_large: str | None  # French, for the reply to the sender
    defects: tuple[str, ...]  # labels for logs, no content
    body_digest: str  # ``head.body_digest``: what our own copies' witness tag is bound to
    # RFC 8098 2.1: the one address of Disposition-Notification-To (lower
    # case), None when absent or not exactly one plain address.
    disposition_to: str | None = None
    # RFC 8098 2.3: the rfc822 address of the Original-Recipient field an MTA
    # added (lower case), for the Original-Recipient of our MDN; else None.
    original_recipient: str | None = None
    # MSSanté (Référentiel #2, ECO.2.4.1-2): ``X-MSS-CODECDA``, the codes of
    # the CDA documents of an attached IHE_XDM archive (at most 16, each a
    # short token); ``X-MSS-INS``, "O" when the archive holds a qualified INS.
    mss_cda_codes: tuple[str, ...] = ()
    mss_ins: str | None = None
