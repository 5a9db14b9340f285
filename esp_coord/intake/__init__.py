"""Intake: raw RFC 5322 bytes in, one decoded ``IncomingMail`` out.

``parse_mail`` is pure and never raises: whatever arrives in the mailbox must
end up as a value the service can route (answer, quarantine or ignore).
"""

from __future__ import annotations

import hashlib
import re
from email import policy
from email.parser import BytesParser

from .automatic import automatic_reason
from .headers import Headers, decoded_text, message_id, message_ids, parse_date, return_path, sender
from .mime import MAX_DEPTH, MAX_PARTS, extract
from .mime import content_type as root_content_type
from .model import Attachment, IncomingMail
from .quotes import extract_body

__all__ = ["Attachment", "HeadersOnly", "IncomingMail", "digest_key", "parse_mail"]

_PARSER = BytesParser(policy=policy.default)
_MAX_HEADER_BLOCK = 2**20
# The stdlib parser recurses once per nesting level (RecursionError near 1000
# levels, and quadratic before that): count containers before parsing.
_CONTAINER = re.compile(rb"boundary|message/(?:rfc822|global)", re.I)
_MAX_CONTAINERS = 2 * MAX_DEPTH
_MAX_DELIMITERS = 2 * MAX_PARTS
_HEX_TAG = re.compile(r"[0-9a-fA-F]{64}")


class HeadersOnly(bytes):
    """The header block of a mail too large to be fetched whole, carrying the
    whole mail's size: ``parse_mail`` answers it as too large. A ``bytes``, so
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


def _header_block(raw: bytes) -> bytes:
    head = raw[:_MAX_HEADER_BLOCK]
    ends = [pos for pos in (head.find(b"\n\n"), head.find(b"\n\r\n")) if pos >= 0]
    return head[: min(ends) + 1] if ends else head


def _too_complex(raw: bytes) -> bool:
    # Each part costs the stdlib parser about half a millisecond with
    # policy.default: bound the number of delimiter lines too.
    if raw.count(b"\n--") > _MAX_DELIMITERS:
        return True
    for count, _ in enumerate(_CONTAINER.finditer(raw)):
        if count >= _MAX_CONTAINERS:
            return True
    return False


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


def _parse(raw: bytes, max_message_bytes: int, max_attachment_bytes: int) -> IncomingMail:
    defects: list[str] = []
    too_large: list[str] = []
    message_too_large = _message_too_large(raw, max_message_bytes)
    if message_too_large:
        too_large.append(message_too_large)
        headers_only = True
    elif _too_complex(raw):
        defects.append("mime-too-complex")
        headers_only = True
    else:
        headers_only = False
    if headers_only:
        msg = _PARSER.parsebytes(_header_block(raw), headersonly=True)
    else:
        msg = _PARSER.parsebytes(raw)
    defects.extend(type(d).__name__ for d in msg.defects)
    headers = Headers(msg.raw_items())

    mid = message_id(headers.first("Message-ID"))
    from_address, from_name, from_defect = sender(headers.all("From"))
    if from_defect:
        defects.append(from_defect)
    subject = decoded_text(headers.first("Subject"))
    path = return_path(headers.first("Return-Path"))
    content_type = root_content_type(msg)

    text = ""
    attachments: tuple[Attachment, ...] = ()
    if not headers_only:
        text, attachments, mime_defects = extract(msg)
        defects.extend(mime_defects)
        too_large.extend(_too_large_attachments(attachments, max_attachment_bytes))

    return IncomingMail(
        dedup_key=f"mid:{mid.lower()}" if mid else digest_key(raw),
        message_id=mid,
        from_address=from_address,
        from_name=from_name,
        return_path=path,
        subject=subject,
        date=parse_date(headers.first("Date")),
        in_reply_to=message_ids(headers.first("In-Reply-To")),
        references=message_ids(headers.first("References")),
        text=text,
        body=extract_body(text),
        automatic=automatic_reason(
            headers,
            subject=subject,
            content_type=content_type,
            return_path=path,
            from_address=from_address,
        ),
        witness=_witness(headers.first("X-ESP-Coord-Witness")),
        size=_size(raw),
        attachments=attachments,
        too_large="; ".join(too_large) or None,
        defects=tuple(dict.fromkeys(defects)),
    )


def _witness(value: str | None) -> str | None:
    found = _HEX_TAG.fullmatch((value or "").strip())
    return found.group().lower() if found else None


def _size(raw: bytes) -> int:
    return raw.size if isinstance(raw, HeadersOnly) else len(raw)


def digest_key(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def parse_mail(
    raw: bytes,
    *,
    max_message_bytes: int = 25 * 2**20,
    max_attachment_bytes: int = 10 * 2**20,
) -> IncomingMail:
    """Decode one raw message (as an IMAP FETCH returns it). Never raises.

    Over ``max_message_bytes`` only the header block is parsed and
    ``too_large`` explains why in French; attachments over
    ``max_attachment_bytes`` are reported the same way. A ``HeadersOnly`` is
    judged by the size it carries, and its dedup key (without a Message-ID)
    is the digest of the header block: the same on every fetch.
    """
    if not isinstance(raw, bytes):
        try:
            raw = bytes(raw)  # bytearray from aioimaplib, memoryview
        except Exception:
            raw = str(raw).encode("utf-8", "replace")
    try:
        return _parse(raw, max_message_bytes, max_attachment_bytes)
    except Exception as exc:  # the last line of defence: see module docstring
        return IncomingMail(
            dedup_key=digest_key(raw),
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
        )
