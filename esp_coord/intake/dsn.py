"""Reading delivery status notifications (DSN, RFC 3464): which mail bounced,
for which recipient, and what the server said.

A DSN is ``multipart/report; report-type=delivery-status`` (RFC 6522, or
``global-delivery-status``, RFC 6533): a human part, a
``message/delivery-status`` part (one block of per-message fields, then one
block per recipient: ``Original-Recipient``, ``Final-Recipient``, ``Action``,
``Status``, ``Diagnostic-Code``), and the original message or its header
block (``message/rfc822``, ``text/rfc822-headers``). Postfix, Exim, Sendmail
and Exchange write this shape. What names the bounced mail, best first: the
``Message-ID`` of the third part; an ``X-Original-Message-ID`` field (some
Exchange versions, in the status part or the report's own header); the
per-message ``Original-Envelope-Id`` (RFC 3461 ENVID, when it is an id); the
report's ``In-Reply-To`` (Exchange threads its reports under the original).
None of that is trusted here: the caller keeps only an id it sent itself, and
a recipient it sent that mail to (``esp_coord.bounces``).

Anyone can send a DSN, so it is read within the intake's bounds: not over the
message size limit, not when ``intake._too_complex`` says the stdlib parser
must not see it (lines, MIME parts, nesting), and then only the top-level
parts of the report, the first ``MAX_BLOCKS`` blocks of its status part, the
first occurrence of each field of a block, and at most ``MAX_RECIPIENTS``
failed recipients and ``MAX_IDS`` ids. The stdlib splits the status part into
blocks itself, in one linear pass (tests/unit/test_dsn.py measures it on a
growing status part). Only the third part's header fields are read, never its
body nor its subject: they may hold patient data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message

from . import HeadersOnly, _as_bytes, _too_complex
from .head import parameters, read_head
from .headers import message_id, message_ids, typed_address
from .mime import PARSER
from .text_clean import one_line

__all__ = ["MAX_DIAGNOSTIC", "DeliveryReport", "FailedRecipient", "is_delivery_report",
           "read_delivery_report"]

MAX_BLOCKS = 201          # the per-message block and 200 recipient blocks
MAX_RECIPIENTS = 100
MAX_IDS = 8
MAX_DIAGNOSTIC = 200
_MAX_VALUE = 2000          # a field value is cut here before anything reads it
_REPORT_TYPES = frozenset(("delivery-status", "global-delivery-status"))
_STATUS_TYPES = frozenset(("message/delivery-status", "message/global-delivery-status"))
_HEADERS_TYPES = frozenset(("text/rfc822-headers", "message/rfc822-headers",
                            "message/global-headers"))
_MESSAGE_TYPES = frozenset(("message/rfc822", "message/global"))
_STATUS = re.compile(r"([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_TYPE_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,30}")
_NOT_PRINTABLE = re.compile(r"[^ -~]+")
_FIELDS = frozenset(("original-recipient", "final-recipient", "action", "status",
                     "diagnostic-code", "original-envelope-id", "x-original-message-id"))


@dataclass(frozen=True)
class FailedRecipient:
    """One recipient the report says the mail could not be delivered to."""

    original: str | None  # Original-Recipient (rfc822), lower case
    final: str | None     # Final-Recipient (rfc822), lower case
    status: str           # RFC 3463 "5.1.1"; "5.0.0" when Action failed without one
    diagnostic: str       # what the server said: one printable ASCII line, bounded

    @property
    def addresses(self) -> tuple[str, ...]:
        """The addresses it may be known by, the one the sender wrote first."""
        return tuple(dict.fromkeys(a for a in (self.original, self.final) if a))


@dataclass(frozen=True)
class DeliveryReport:
    message_ids: tuple[str, ...]  # the bounced mail's possible ids, best first, "<...>"
    failed: tuple[FailedRecipient, ...]


def is_delivery_report(content_type: str | None) -> bool:
    """Whether a root Content-Type value is a DSN's."""
    ctype, params = parameters(content_type)
    return ctype == "multipart/report" and params.get("report-type", "").lower() in _REPORT_TYPES


def _value(value: object) -> str:
    return one_line(str(value)[:_MAX_VALUE])


def _fields(items: list[tuple[str, object]]) -> dict[str, str]:
    """The first occurrence of each field this module reads, names lower-cased."""
    found: dict[str, str] = {}
    for name, value in items:
        key = name.lower()
        if key in _FIELDS and key not in found:
            found[key] = _value(value)
    return found


def _text_blocks(text: str, room: int) -> list[dict[str, str]]:
    """Blocks of fields separated by blank lines, read with ``head.read_head``."""
    blocks: list[dict[str, str]] = []
    for chunk in re.split(r"\r?\n[ \t]*\r?\n", text, maxsplit=room):
        if len(blocks) >= room:
            break
        if chunk.strip():
            head = read_head(chunk.encode("utf-8", "surrogateescape") + b"\n\n")
            blocks.append(_fields(list(head.fields)))
    return blocks


def _status_blocks(part: Message) -> list[dict[str, str]]:
    """The blocks of the status part, at most ``MAX_BLOCKS``. The stdlib gives
    message/delivery-status as one Message per block; other types (global,
    or a part it could not split) as text, split here."""
    payload = part.get_payload()
    blocks: list[dict[str, str]] = []
    if isinstance(payload, list):
        for block in payload[:MAX_BLOCKS]:
            if not isinstance(block, Message):
                continue
            blocks.append(_fields(list(block.items())))
            rest = block.get_payload()
            # message/global-delivery-status: the first block as headers, the rest as body.
            if isinstance(rest, str) and rest.strip() and len(blocks) < MAX_BLOCKS:
                blocks += _text_blocks(rest, MAX_BLOCKS - len(blocks))
        return blocks[:MAX_BLOCKS]
    data = part.get_payload(decode=True)
    if isinstance(data, bytes):
        return _text_blocks(data.decode("utf-8", "replace"), MAX_BLOCKS)
    return []


def _diagnostic(value: str | None) -> str:
    """``smtp; 550 5.1.1 ...`` as ``550 5.1.1 ...``: one line of printable
    ASCII, at most ``MAX_DIAGNOSTIC`` characters."""
    if not value:
        return ""
    kind, sep, rest = value.partition(";")
    text = rest if sep and _TYPE_TOKEN.fullmatch(kind.strip()) else value
    text = " ".join(_NOT_PRINTABLE.sub(" ", text).split())
    return text if len(text) <= MAX_DIAGNOSTIC else text[: MAX_DIAGNOSTIC - 3].rstrip() + "..."


def _failed(block: dict[str, str]) -> FailedRecipient | None:
    if block.get("action", "").split(";", 1)[0].strip().lower() != "failed":
        return None
    original = typed_address(block.get("original-recipient"))
    final = typed_address(block.get("final-recipient"))
    if original is None and final is None:
        return None
    found = _STATUS.match(block.get("status", "").strip())
    status = ".".join(found.groups()) if found else "5.0.0"
    return FailedRecipient(original=original, final=final, status=status,
                           diagnostic=_diagnostic(block.get("diagnostic-code")))


def _envelope_id(value: str | None) -> str | None:
    """An ENVID that is a message id (ours are, when set), as "<...>"."""
    if not value or "@" not in value:
        return None
    inner = value.strip().strip("<>")
    return message_id(f"<{inner}>") if inner and " " not in inner else None


def _original_id(part: Message) -> str | None:
    """The Message-ID of the third part, from its header fields only."""
    ctype = part.get_content_type()
    if ctype in _MESSAGE_TYPES:
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            return message_id(_value(inner[0].get("Message-ID", "")) or None)
        return None
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return None
    return message_id(read_head(data + b"\n\n").first("Message-ID"))


def read_report(msg: Message, head_ids: tuple[str | None, ...]) -> DeliveryReport | None:
    """The report in a parsed DSN (``head_ids``: the ids its own header block
    names, X-Original-Message-ID then In-Reply-To)."""
    parts = msg.get_payload()
    if not isinstance(parts, list):
        return None
    blocks: list[dict[str, str]] = []
    original: str | None = None
    for part in parts[:16]:
        if not isinstance(part, Message):
            continue
        ctype = part.get_content_type()
        if ctype in _STATUS_TYPES and not blocks:
            blocks = _status_blocks(part)
        elif (ctype in _MESSAGE_TYPES or ctype in _HEADERS_TYPES) and original is None:
            original = _original_id(part)
    if not blocks:
        return None
    failed: list[FailedRecipient] = []
    ids: list[str | None] = [original]
    envelope: str | None = None
    for block in blocks:
        ids.append(message_id(block.get("x-original-message-id")))
        envelope = envelope or _envelope_id(block.get("original-envelope-id"))
        found = _failed(block)
        if found is not None and len(failed) < MAX_RECIPIENTS:
            failed.append(found)
    ids += [head_ids[0], envelope, *head_ids[1:]]
    unique = tuple(dict.fromkeys(i for i in ids if i))[:MAX_IDS]
    return DeliveryReport(message_ids=unique, failed=tuple(failed))


def read_delivery_report(raw: bytes, *, max_message_bytes: int = 25 * 2**20
                         ) -> DeliveryReport | None:
    """The DSN in ``raw``, or None when it is none or must not be read (over
    the size limit, too complex, unreadable). Never raises."""
    raw = _as_bytes(raw)
    try:
        if isinstance(raw, HeadersOnly) or len(raw) > max_message_bytes:
            return None
        head = read_head(raw)
        if not is_delivery_report(head.first("Content-Type")) or _too_complex(raw):
            return None
        root = b"".join(f"{name}: {value}\r\n".encode("utf-8", "surrogateescape")
                        for name, value in head.fields
                        if name in ("content-type", "content-transfer-encoding", "mime-version"))
        msg = PARSER.parsebytes(root + b"\r\n" + raw[head.body_offset:])
        replying = message_ids(head.first("In-Reply-To"))
        return read_report(msg, (message_id(head.first("X-Original-Message-ID")),
                                 replying[0] if replying else None))
    except Exception:  # a hostile report is not one: nothing is recorded
        return None
