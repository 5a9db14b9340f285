"""Intake: raw RFC 5322 bytes in, one decoded ``IncomingMail`` out, in two steps.

``parse_head`` reads the header block alone (bounded, linear: ``head``), which
is all the service needs to decide a mail (stranger, robot, our own copy,
member); ``read_body`` then reads the body of a mail the service will act on,
so that a stranger's or a robot's body is never parsed. Both are pure and
never raise: whatever arrives in the mailbox must end up as a value the
service can route (answer, quarantine or ignore).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from email.message import Message

from .automatic import automatic_reason
from .head import MAX_HEADER_BLOCK, Head, body_digest, content_key, parameters, read_head
from .headers import (
    cda_codes,
    decoded_text,
    message_id,
    message_ids,
    notification_address,
    parse_date,
    return_path,
    sender,
    typed_address,
    yes_no,
)
from .mime import (
    CALENDAR_TYPES,
    MAX_DEPTH,
    MAX_PARTS,
    PARSER,
    extract,
    find_attachment,
    find_calendar,
)
from .model import Attachment, IncomingMail
from .quotes import extract_body

__all__ = ["CALENDAR_TYPES", "Attachment", "HeadersOnly", "IncomingMail", "attachment",
           "calendar_part", "content_key", "message_key", "parse_head", "parse_mail", "read_body"]

# The stdlib parser recurses once per nesting level (RecursionError near 1000
# levels, and quadratic before that): count containers before parsing.
_CONTAINER = re.compile(rb"boundary|message/(?:rfc822|global)", re.I)
_MAX_CONTAINERS = 2 * MAX_DEPTH
_MAX_DELIMITERS = 2 * MAX_PARTS
_HEX_TAG = re.compile(r"[0-9a-fA-F]{64}")
# 25 MB of base64 in 76-character lines is 330,000 lines.
MAX_RAW_LINES = 500_000
_TOO_MANY_PARTS = (f"il contient trop de parties ou d'imbrications MIME (plus de {MAX_PARTS} "
                   f"parties ou {MAX_DEPTH} niveaux)")
# The root fields the MIME walk needs; the others never reach the stdlib.
_MIME_FIELDS = ("content-type", "content-transfer-encoding", "content-disposition",
                "mime-version")


class HeadersOnly(bytes):
    """The header block of a mail too large to be fetched whole, carrying the
    whole mail's size: ``parse_head`` reads it as too large. A ``bytes``, so
    that it goes wherever raw mail goes (the processor hands it on untouched)."""

    size: int

    def __new__(cls, block: bytes, size: int) -> HeadersOnly:
        self = super().__new__(cls, block)
        self.size = size
        return self


def _megabytes(size: int) -> str:
    value = size / 2**20
    text = f"{value:.0f}" if value == int(value) else f"{value:.1f}"
    return f"{text.replace('.', ',')} Mo"


def _too_complex(raw: bytes) -> str | None:
    """Why the stdlib parser must not see ``raw`` (French), or None. It keeps
    every line as an object (50 bytes or more, whatever the line holds) and
    recurses once per nesting level: count lines, containers and delimiters
    first, in C."""
    if raw.count(b"\n") > MAX_RAW_LINES:
        return f"il compte plus de {MAX_RAW_LINES:,} lignes".replace(",", "\u202f")
    # Each part costs the stdlib parser a Message object and a walk: bound
    # the number of delimiter lines too.
    if raw.count(b"\n--") > _MAX_DELIMITERS:
        return _TOO_MANY_PARTS
    for count, _ in enumerate(_CONTAINER.finditer(raw)):
        if count >= _MAX_CONTAINERS:
            return _TOO_MANY_PARTS
    return None


def _message_too_large(raw: bytes, limit: int) -> str | None:
    size = _size(raw)
    if size > limit:
        return f"le message fait {_megabytes(size)}, au-delà de la limite de {_megabytes(limit)}"
    if isinstance(raw, HeadersOnly):
        # Cut by a mailbox asked with another limit: the body is not here to read.
        return f"le message fait {_megabytes(size)}, trop volumineux pour être lu"
    return None


def _too_large_attachments(attachments: tuple[Attachment, ...], limit: int) -> list[str]:
    return [
        f"la pièce jointe n° {number} fait {_megabytes(a.size)}, "
        f"au-delà de la limite de {_megabytes(limit)}"
        for number, a in enumerate(attachments, start=1)
        if a.size > limit
    ]


def message_key(sender_address: str, mid: str) -> str:
    """The dedup key of a mail with a Message-ID: its sender's, case-exact
    (RFC 5322 ids are), so that nobody else can make it look already seen."""
    digest = hashlib.sha256(f"{sender_address}\0{mid}".encode("utf-8", "surrogateescape"))
    return "mid:" + digest.hexdigest()


def _head(raw: bytes, max_message_bytes: int) -> IncomingMail:
    head = read_head(raw)
    defects = list(head.defects)
    mid = message_id(head.first("Message-ID"))
    from_address, from_name, from_defect = sender(head.all("From"))
    if from_defect:
        defects.append(from_defect)
    subject = decoded_text(head.first("Subject"))
    path = return_path(head.first("Return-Path"))
    too_large = _message_too_large(raw, max_message_bytes)
    if too_large is None and "header-too-large" in head.defects:
        too_large = (f"son en-tête dépasse {MAX_HEADER_BLOCK // 1024} Ko, "
                     "bien au-delà de ce qu'un message ordinaire contient")
    return IncomingMail(
        dedup_key=message_key(from_address, mid) if mid and from_address else content_key(raw),
        message_id=mid,
        from_address=from_address,
        from_name=from_name,
        return_path=path,
        subject=subject,
        date=parse_date(head.first("Date")),
        in_reply_to=message_ids(head.first("In-Reply-To")),
        references=message_ids(head.first("References")),
        text="",
        body="",
        automatic=automatic_reason(
            head,
            content_type=_root_type(head),
            return_path=path,
            from_address=from_address,
            from_name=from_name,
        ),
        witness=_witness(head.first("X-ESP-Coord-Witness")),
        size=_size(raw),
        attachments=(),
        too_large=too_large,
        defects=tuple(dict.fromkeys(defects)),
        body_digest=body_digest(raw, head),
        disposition_to=notification_address(head.all("Disposition-Notification-To")),
        original_recipient=typed_address(head.first("Original-Recipient")),
        mss_cda_codes=cda_codes(head.all("X-MSS-CODECDA")),
        mss_ins=yes_no(head.first("X-MSS-INS")),
    )


def _root_type(head: Head) -> str:
    ctype = parameters(head.first("Content-Type"))[0]
    return ctype if ctype.count("/") == 1 else "text/plain"


def _tree(raw: bytes) -> Message:
    """The MIME tree of a mail that passed ``_too_complex``: only the root
    fields the walk needs, then the body (the rest of the header block was
    read by ``head`` and never reaches the stdlib)."""
    head = read_head(raw)
    root = b"".join(f"{name}: {value}\r\n".encode("utf-8", "surrogateescape")
                    for name, value in head.fields if name in _MIME_FIELDS)
    return PARSER.parsebytes(root + b"\r\n" + raw[head.body_offset:])


def _body(raw: bytes, mail: IncomingMail, max_attachment_bytes: int) -> IncomingMail:
    if mail.too_large:
        return mail
    complex_ = _too_complex(raw)
    if complex_:
        return replace(mail, too_large=f"{complex_}, trop pour être lu",
                       defects=(*mail.defects, "mime-too-complex"))
    msg = _tree(raw)
    text, attachments, mime_defects = extract(msg)
    too_large = _too_large_attachments(attachments, max_attachment_bytes)
    return replace(
        mail,
        text=text,
        body=extract_body(text),
        attachments=attachments,
        too_large="; ".join(too_large) or None,
        defects=tuple(dict.fromkeys((*mail.defects, *(type(d).__name__ for d in msg.defects),
                                     *mime_defects))),
    )


def _witness(value: str | None) -> str | None:
    found = _HEX_TAG.fullmatch((value or "").strip())
    return found.group().lower() if found else None


def _size(raw: bytes) -> int:
    return raw.size if isinstance(raw, HeadersOnly) else len(raw)


def _as_bytes(raw: object) -> bytes:
    if isinstance(raw, bytes):
        return raw
    try:
        data: bytes = bytes(raw)  # type: ignore[call-overload]  # bytearray from aioimaplib
        return data
    except Exception:
        return str(raw).encode("utf-8", "replace")


def parse_head(raw: bytes, *, max_message_bytes: int = 25 * 2**20) -> IncomingMail:
    """What the header block alone says of a mail: enough to decide it
    (``esp_coord.triage``) before any body is read. ``text``, ``body`` and
    ``attachments`` are empty. Never raises; cost linear in the header block.

    Over ``max_message_bytes`` (or with a header block over
    ``MAX_HEADER_BLOCK``) ``too_large`` says why in French. A ``HeadersOnly``
    is judged by the size it carries.
    """
    raw = _as_bytes(raw)
    try:
        return _head(raw, max_message_bytes)
    except Exception as exc:  # the last line of defence: see module docstring
        return IncomingMail(
            dedup_key=content_key(raw),
            message_id=None,
            from_address="",
            from_name="",
            return_path=None,
            subject="",
            date=None,
            in_reply_to=(),
            references=(),
            text="",
            body="",
            automatic=None,
            witness=None,
            size=_size(raw),
            attachments=(),
            too_large=_message_too_large(raw, max_message_bytes),
            defects=(f"unparseable:{type(exc).__name__}",),
            body_digest="",
        )


def read_body(raw: bytes, mail: IncomingMail, *,
              max_attachment_bytes: int = 10 * 2**20) -> IncomingMail:
    """``mail`` (from ``parse_head``) with its text, body and attachments.
    Only for a mail the service will act on. Never raises; a body that cannot
    be read gets ``too_large`` saying so, for the answer to its sender.
    Attachments over ``max_attachment_bytes`` are reported the same way."""
    raw = _as_bytes(raw)
    try:
        return _body(raw, mail, max_attachment_bytes)
    except Exception as exc:
        return replace(mail, too_large="sa structure MIME n'a pas pu être lue",
                       defects=(*mail.defects, f"unparseable:{type(exc).__name__}"))


def attachment(raw: bytes, name: str, *, max_bytes: int) -> bytes | None:
    """The decoded content of the mail's attachment named ``name`` (without
    case), None when there is none, it is over ``max_bytes``, or the mail is
    too complex to walk (``read_body``'s bounds). Never raises; for a mail the
    service acts on, after ``read_body`` said it carries that attachment."""
    raw = _as_bytes(raw)
    try:
        if _too_complex(raw) is not None:
            return None
        return find_attachment(_tree(raw), name, max_bytes)
    except Exception:
        return None


def calendar_part(raw: bytes, *, max_bytes: int) -> tuple[str, str] | None:
    """(its ``method`` parameter in upper case, its text) of the mail's
    calendar part (``mime.find_calendar``), None when there is none, it is
    over ``max_bytes``, or the mail is too complex to walk. Never raises; for
    a member's mail that ``read_body`` said carries one."""
    raw = _as_bytes(raw)
    try:
        if _too_complex(raw) is not None:
            return None
        return find_calendar(_tree(raw), max_bytes)
    except Exception:
        return None


def parse_mail(
    raw: bytes,
    *,
    max_message_bytes: int = 25 * 2**20,
    max_attachment_bytes: int = 10 * 2**20,
) -> IncomingMail:
    """``parse_head`` then ``read_body``: the whole mail, as ``esp-coord
    parse`` shows it."""
    mail = parse_head(raw, max_message_bytes=max_message_bytes)
    return read_body(raw, mail, max_attachment_bytes=max_attachment_bytes)
