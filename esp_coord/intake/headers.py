"""Reading header fields defensively.

Values are taken raw (``Message.raw_items``) and decoded here rather than
through the header registry of ``policy.default`` where the registry falls
short: RFC 2047 words in charsets Python does not know (the registry turns
them into U+FFFD, we fall back to Windows-1252), raw 8-bit header bytes, and
garbage that must never raise. Addresses do go through the registry, on the
still-encoded value, so that an encoded display name cannot smuggle in a
second address.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from email import policy as email_policy
from email.utils import parsedate_to_datetime

from .text_clean import decode_bytes, one_line

# A header value longer than this is truncated before any parsing: the modern
# header parser is quadratic on some inputs, and no honest field needs more.
MAX_HEADER_CHARS = 16_384
MAX_IDS = 100
# The address parser is quadratic on quotes and comments; a real From is short.
MAX_FROM_CHARS = 2048

_ENCODED_WORD = re.compile(r"=\?([^?\s]{1,80})\?([qQbB])\?([^?\s]*)\?=")
_BETWEEN_WORDS = re.compile(r"\s*")
_MSG_ID = re.compile(r"<([^<>\s]{1,500})>")
_ADDR_SPEC = re.compile(r"[^\s@<>()\[\],;:\\\"]{1,200}@[\w.-]{1,255}", re.UNICODE)
_QP_HEX = re.compile(rb"=([0-9A-Fa-f]{2})")
_LINE_ENDS = re.compile(r"\r\n|\r|\n")
_SIMPLE_ADDR = r"(?P<addr>[^<>\s@,;:\"()\\\[\]]+@[A-Za-z0-9.-]+)"
_SIMPLE_FROM = re.compile(
    r'\s*(?:"(?P<quoted>[^"\\<>]*)"\s*|(?P<plain>[^"\\<>,;:@()\[\]]*))<' + _SIMPLE_ADDR + r">\s*"
)
_BARE_FROM = re.compile(r"\s*" + _SIMPLE_ADDR + r"\s*")


class Headers:
    """Case-insensitive access to raw header values of a parsed message."""

    def __init__(self, items: Iterable[tuple[str, object]]) -> None:
        self._values: dict[str, list[str]] = {}
        for name, value in items:
            text = value if isinstance(value, str) else str(value)
            text = _LINE_ENDS.sub("", text[: MAX_HEADER_CHARS + 100])  # unfold
            self._values.setdefault(name.strip().lower(), []).append(text[:MAX_HEADER_CHARS])

    def all(self, name: str) -> list[str]:
        return self._values.get(name.lower(), [])

    def first(self, name: str) -> str | None:
        values = self._values.get(name.lower())
        return values[0] if values else None

    def __contains__(self, name: str) -> bool:
        return name.lower() in self._values


def _raw_to_str(value: str) -> str:
    """Undo the parser's surrogateescape: raw 8-bit headers are UTF-8 mostly."""
    try:
        data = value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return value
    return decode_bytes(data, None)[0] if not data.isascii() else value


def _decode_word(charset: str, encoding: str, payload: str) -> bytes:
    raw = payload.encode("ascii", "replace")
    if encoding in "bB":
        raw = raw.rstrip(b"=")
        raw += b"=" * (-len(raw) % 4)
        try:
            return binascii.a2b_base64(raw)
        except (binascii.Error, ValueError):
            return b""
    raw = raw.replace(b"_", b" ")
    return _QP_HEX.sub(lambda m: bytes([int(m.group(1), 16)]), raw)


def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded words; unknown charsets fall back, never raise.

    Adjacent words are joined before decoding, as a multi-byte character may
    be split across two of them.
    """
    value = _raw_to_str(value)
    if "=?" not in value:
        return value
    out: list[str] = []
    pending: list[tuple[str, bytes]] = []

    def flush() -> None:
        if pending:
            charset = pending[0][0]
            out.append(decode_bytes(b"".join(data for _, data in pending), charset)[0])
            pending.clear()

    pos = 0
    for match in _ENCODED_WORD.finditer(value):
        gap = value[pos : match.start()]
        if gap and not (pending and _BETWEEN_WORDS.fullmatch(gap)):
            flush()
            out.append(gap)
        charset = match.group(1).split("*", 1)[0]
        data = _decode_word(charset, match.group(2), match.group(3))
        if pending and pending[0][0].lower() != charset.lower():
            flush()
        pending.append((charset, data))
        pos = match.end()
    flush()
    out.append(value[pos:])
    return "".join(out)


def decoded_text(value: str | None) -> str:
    """An unstructured header (Subject...) as one clean line."""
    return one_line(decode_words(value)) if value else ""


def message_id(value: str | None) -> str | None:
    """The first "<...>" of the field; a bare id gets its brackets back."""
    if value is None:
        return None
    found = _MSG_ID.search(value)
    if found:
        return f"<{one_line(found.group(1))}>"
    bare = re.sub(r"[\s<>]", "", one_line(_raw_to_str(value)))
    return f"<{bare[:500]}>" if bare else None


def message_ids(value: str | None) -> tuple[str, ...]:
    """All "<...>" ids of In-Reply-To/References: the first and the most recent."""
    if not value:
        return ()
    ids = [f"<{one_line(m.group(1))}>" for m in _MSG_ID.finditer(value)]
    if len(ids) > MAX_IDS:
        ids = ids[:1] + ids[-(MAX_IDS - 1) :]
    return tuple(ids)


def parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(one_line(value)[:200])
    except Exception:  # garbage dates raise many kinds of errors
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        # RFC 5322 "-0000": time is UTC, local zone unknown.
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def clean_address(addr_spec: str) -> str:
    """A lower-case addr-spec, or "" when it is not a plain address."""
    addr = one_line(addr_spec).lower()
    return addr if _ADDR_SPEC.fullmatch(addr) else ""


def sender(values: list[str]) -> tuple[str, str, str | None]:
    """(address, display name, defect) of the From field.

    Several From fields or several mailboxes in it make the sender ambiguous:
    the address is then "" so that the message is treated as unknown.
    """
    if not values:
        return "", "", "from-missing"
    if len(values) > 1:
        return "", "", "from-duplicated"
    if len(values[0]) > MAX_FROM_CHARS:
        return "", "", "from-too-long"
    simple = _SIMPLE_FROM.fullmatch(values[0]) or _BARE_FROM.fullmatch(values[0])
    if simple:  # the usual shapes, without the (slow) full address parser
        name = simple.groupdict().get("quoted") or simple.groupdict().get("plain") or ""
        clean = clean_address(simple.group("addr"))
        return clean, one_line(decode_words(name)), None if clean else "from-unparseable"
    try:
        header = email_policy.default.header_factory("from", values[0])
        addresses = header.addresses
    except Exception:
        return "", "", "from-unparseable"
    if len(addresses) != 1:
        return "", "", "from-ambiguous" if addresses else "from-unparseable"
    address = addresses[0]
    name = one_line(decode_words(address.display_name or ""))
    clean = clean_address(address.addr_spec)
    return clean, name, None if clean else "from-unparseable"


def return_path(value: str | None) -> str | None:
    """None when absent, "" for the null path "<>" (bounces), else the address."""
    if value is None:
        return None
    inner = one_line(value)
    if inner.startswith("<"):
        inner = inner[1:].split(">", 1)[0].strip()
    return clean_address(inner) if inner else ""
