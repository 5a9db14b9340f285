"""Reading header field values defensively (the fields come from ``head``).

Values are decoded here, never through the stdlib header registry (quadratic
on some inputs, recursive on nested comments, and it turns RFC 2047 words in
charsets Python does not know into U+FFFD where we fall back to
Windows-1252). Raw 8-bit bytes and garbage never raise. The From address is
read on the still-encoded value, so that an encoded display name cannot
smuggle in a second address.
"""

from __future__ import annotations

import binascii
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from .text_clean import decode_bytes, one_line

MAX_IDS = 100
# A real From is short; whatever is longer is not read.
MAX_FROM_CHARS = 2048
_MAX_COMMENT_DEPTH = 8

_ENCODED_WORD = re.compile(r"=\?([^?\s]{1,80})\?([qQbB])\?([^?\s]*)\?=")
_BETWEEN_WORDS = re.compile(r"\s*")
_MSG_ID = re.compile(r"<([^<>\s]{1,500})>")
# dot-atom@domain (RFC 5322 3.4.1): no empty label, no leading or trailing
# dot, which the stdlib refuses too. The dots make it unambiguous: linear.
_ATOM = r"[^\s@<>()\[\],;:\\\".]{1,64}"
_ADDR_SPEC = re.compile(rf"{_ATOM}(?:\.{_ATOM}){{0,20}}@[\w-]{{1,63}}(?:\.[\w-]{{1,63}}){{0,20}}")
_QP_HEX = re.compile(rb"=([0-9A-Fa-f]{2})")


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
    # "=?" opens an encoded word, which some readers decode even there.
    return addr if _ADDR_SPEC.fullmatch(addr) and "=?" not in addr else ""


def sender(values: list[str]) -> tuple[str, str, str | None]:
    """(address, display name, defect) of the From field, read as MTAs and
    mail clients read it: exactly one field holding exactly one mailbox, and
    when there is an angle address it is the address, whatever the display
    name looks like (``a@x <b@y>`` is b@y). Anything else (several fields or
    mailboxes, group syntax, a source route, unbalanced brackets) gives the
    address "" and a defect naming why: the mail is then treated as unknown.
    Linear in the field's length.
    """
    if not values:
        return "", "", "from-missing"
    if len(values) > 1:
        return "", "", "from-duplicated"
    value = values[0]
    if len(value) > MAX_FROM_CHARS:
        return "", "", "from-too-long"
    scanned = _scan_mailbox(value)
    if isinstance(scanned, str):
        return "", "", scanned
    name, addr, comment = scanned
    clean = clean_address(addr)
    if not clean:
        return "", "", "from-unparseable"
    shown = name or comment
    return clean, one_line(decode_words(shown.strip().strip('"'))), None


def _scan_mailbox(value: str) -> tuple[str, str, str] | str:
    """(display name, address, comment text) of one mailbox, or a defect."""
    name: list[str] = []
    comment: list[str] = []
    quoted = False
    angle: str | None = None
    after_angle = False
    i, n = 0, len(value)
    while i < n:
        char = value[i]
        if char == '"':
            end = i + 1
            while end < n and value[end] != '"':
                end += 2 if value[end] == "\\" else 1
            if end >= n:
                return "from-unparseable"
            if after_angle:
                return "from-ambiguous"
            name.append(value[i + 1 : end].replace("\\", ""))
            quoted = True
            i = end + 1
        elif char == "(":
            depth, end = 1, i + 1
            while end < n and depth:
                if value[end] == "\\":
                    end += 1
                elif value[end] == "(":
                    depth += 1
                    if depth > _MAX_COMMENT_DEPTH:
                        return "from-unparseable"
                elif value[end] == ")":
                    depth -= 1
                end += 1
            if depth:
                return "from-unparseable"
            comment.append(value[i + 1 : end - 1])
            if not after_angle:
                name.append(" ")  # a comment separates words as a space does
            i = end
        elif char == "<":
            end = value.find(">", i + 1)
            if end < 0 or angle is not None:
                return "from-ambiguous" if angle is not None else "from-unparseable"
            angle = value[i + 1 : end].strip()
            if angle.startswith("@") or ":" in angle or "<" in angle:
                return "from-route"  # <@relay:user@host>: obsolete, read differently
            after_angle = True
            i = end + 1
        elif char in ",;:":
            # Several mailboxes, or group syntax ("team: a@x, b@y;").
            return "from-group" if char in ":;" else "from-ambiguous"
        elif char in ">)[]\\":
            return "from-unparseable"  # specials outside quotes: no reader agrees
        else:
            if after_angle and not char.isspace():
                return "from-ambiguous"
            if not after_angle:
                name.append(char)
            i += 1
    if angle is not None:
        return "".join(name), angle, " ".join(comment)
    bare = "".join(name).strip()
    if quoted or not bare or any(c.isspace() for c in bare):
        return "from-unparseable"  # words without brackets, or a quoted part
    return "", bare, " ".join(comment)


def notification_address(values: list[str]) -> str | None:
    """The address of Disposition-Notification-To (RFC 8098 2.1): exactly one
    field holding exactly one plain mailbox, read as ``sender`` reads From;
    None otherwise (several addresses: no MDN is sent automatically)."""
    address, _name, defect = sender(values)
    return address if address and defect is None else None


def typed_address(value: str | None) -> str | None:
    """The address of an ``rfc822; addr`` field (RFC 8098 2.3, RFC 3464
    2.3.1-2.3.2: Original-Recipient, Final-Recipient), lower case; None for
    another address type or anything that is not one plain address."""
    if not value:
        return None
    kind, sep, address = value[:MAX_FROM_CHARS].partition(";")
    if not sep or kind.strip().lower() != "rfc822":
        return None
    address = one_line(address).strip("<> ")
    return clean_address(address) or None


def return_path(value: str | None) -> str | None:
    """None when absent, "" for the null path "<>" (bounces), else the address."""
    if value is None:
        return None
    inner = one_line(value)
    if inner.startswith("<"):
        inner = inner[1:].split(">", 1)[0].strip()
    if not inner:
        return ""
    # Not an address, but not the null path of a bounce either.
    return clean_address(inner) or inner[:254].lower()


_CODE_TOKEN = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,31}")
MAX_CDA_CODES = 16


def cda_codes(values: list[str]) -> tuple[str, ...]:
    """The codes of ``X-MSS-CODECDA`` fields (several fields, or one with the
    codes separated by commas, semicolons or spaces): short tokens only, at
    most ``MAX_CDA_CODES``. Linear in the fields."""
    found: list[str] = []
    for value in values:
        for token in re.split(r"[\s,;]+", value[:4096]):
            if _CODE_TOKEN.fullmatch(token) and token not in found:
                found.append(token)
                if len(found) == MAX_CDA_CODES:
                    return tuple(found)
    return tuple(found)


def yes_no(value: str | None) -> str | None:
    """``O``/``N`` of an MSSanté flag field, None when absent or other."""
    if value is None:
        return None
    flag = value.strip().upper()[:1]
    return flag if flag in ("O", "N") else None
