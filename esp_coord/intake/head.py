"""The header block of a raw mail, read in one linear pass with hard limits.

Everything the service decides before reading a body (who sent it, whether a
robot did, whether it is our own copy) comes from here, so this is the code
any stranger reaches. It never calls the stdlib header registry (quadratic on
some inputs, recursive on nested comments) and never backtracks: the block is
split on line ends, each field unfolded and cut to ``MAX_FIELD_CHARS``, at
most ``MAX_FIELDS`` fields kept, as Postfix's ``header_size_limit`` and
Dovecot's line limits cap work before content is looked at.

Content-Type and Content-Disposition parameters are read here too
(``parameters``), by a scanner that keeps at most ``MAX_PARAMS`` of them, so
that the MIME walk never hands a parameter storm to the stdlib.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from .text_clean import decode_bytes

# A real header block is a few kilobytes; Postfix's header_size_limit is 100 kB.
MAX_HEADER_BLOCK = 256 * 1024
MAX_FIELDS = 1000
# A value longer than this is cut before anything reads it: no honest field needs more.
MAX_FIELD_CHARS = 16_384
MAX_PARAMS = 64
_MAX_CONTINUATIONS = 64

# Fields that relays add or change in transit: a mail delivered twice, once
# with one more Received line, is the same mail (see ``content_key``).
_TRACE = frozenset((
    b"received", b"return-path", b"delivered-to", b"x-original-to", b"x-delivered-to",
    b"envelope-to", b"x-envelope-to", b"x-envelope-from", b"authentication-results",
    b"x-received", b"resent-date", b"resent-from", b"resent-to", b"resent-message-id",
))
_TRACE_PREFIXES = (b"arc-", b"x-spam", b"x-virus", b"x-rspamd", b"x-ms-exchange-organization")


@dataclass(frozen=True, slots=True)
class Head:
    """The fields of a header block, in order, names lower-cased."""

    fields: tuple[tuple[str, str], ...]
    body_offset: int  # where the body starts in the raw mail; len(raw) when none
    defects: tuple[str, ...]

    def all(self, name: str) -> list[str]:
        name = name.lower()
        return [value for key, value in self.fields if key == name]

    def first(self, name: str) -> str | None:
        name = name.lower()
        for key, value in self.fields:
            if key == name:
                return value
        return None

    def __contains__(self, name: str) -> bool:
        return self.first(name) is not None


def block_end(raw: bytes) -> tuple[int, int] | None:
    """(end of the header block, start of the body), or None when no blank
    line ends the block within ``MAX_HEADER_BLOCK`` bytes."""
    if raw.startswith(b"\n"):
        return 0, 1
    if raw.startswith(b"\r\n"):
        return 0, 2
    window = raw[:MAX_HEADER_BLOCK]
    ends = [(pos + 1, pos + len(sep)) for sep in (b"\n\n", b"\n\r\n")
            if (pos := window.find(sep)) >= 0]
    return min(ends) if ends else None


def _lines(block: bytes) -> list[bytes]:
    return block.replace(b"\r\n", b"\n").split(b"\n")


def _name_of(line: bytes) -> bytes | None:
    """The field name of a header line, or None when the line is not a field.
    ``Name WSP* :`` counts (RFC 5322 obsolete syntax), so that a ``From :``
    line is a second From, as some readers take it, and not invisible."""
    colon = line.find(b":")
    if colon <= 0:
        return None
    name = line[:colon].rstrip(b" \t")
    if not name or any(c <= 32 or c >= 127 for c in name):
        return None
    return name


def read_head(raw: bytes) -> Head:
    """The header block of ``raw``. Never raises; cost linear in
    ``min(len(raw), MAX_HEADER_BLOCK)``."""
    defects: list[str] = []
    end = block_end(raw)
    if end is None:
        if len(raw) > MAX_HEADER_BLOCK:
            defects.append("header-too-large")
        block, body_offset = raw[:MAX_HEADER_BLOCK], len(raw)
    else:
        block, body_offset = raw[: end[0]], end[1]
    fields: list[tuple[bytes, list[bytes]]] = []
    kept = 0
    for index, line in enumerate(_lines(block)):
        if not line:
            continue
        if line[:1] in (b" ", b"\t"):
            if fields:
                parts = fields[-1][1]
                if kept < MAX_FIELD_CHARS:
                    parts.append(line)
                    kept += len(line)
            else:
                defects.append("header-continuation-first")
            continue
        name = _name_of(line)
        if name is None:
            if not (index == 0 and line.startswith(b"From ")):  # an mbox separator
                defects.append("header-malformed-line")
            continue
        if len(fields) >= MAX_FIELDS:
            defects.append("header-too-many-fields")
            break
        fields.append((name, [line[line.find(b":") + 1:]]))
        kept = len(fields[-1][1][0])
    return Head(
        fields=tuple((name.decode("ascii").lower(), _value(parts)) for name, parts in fields),
        body_offset=body_offset,
        defects=tuple(dict.fromkeys(defects)),
    )


def _value(parts: list[bytes]) -> str:
    # Unfolding removes the line breaks only (RFC 5322 2.2.3). Undecodable
    # 8-bit bytes are kept as surrogates, as the stdlib parser keeps them,
    # for ``headers.decode_words`` to read.
    value = b"".join(parts)[:MAX_FIELD_CHARS].strip(b" \t")
    return value.decode("utf-8", "surrogateescape")


def content_key(raw: bytes) -> str:
    """A key for a mail that does not depend on what relays add or change:
    the digest of its non-trace header fields and its body, line ends
    normalised. A quarantined mail, or one without Message-ID, delivered again
    with another Received line keeps it."""
    digest = hashlib.sha256()
    end = block_end(raw)
    # No end within the limit: all of it, or a relay's added line would move the cut.
    block, body = (raw[: end[0]], raw[end[1]:]) if end else (raw, b"")
    skipping = False
    for line in _lines(block):
        if line[:1] in (b" ", b"\t"):
            if not skipping:
                digest.update(line + b"\n")
            continue
        name = (_name_of(line) or b"").lower()
        skipping = name in _TRACE or name.startswith(_TRACE_PREFIXES)
        if not skipping:
            digest.update(line + b"\n")
    digest.update(b"\n")
    digest.update(_canonical_body(body))
    return "sha256:" + digest.hexdigest()


def _canonical_body(body: bytes) -> bytes:
    # SMTP turns bare LF into CRLF and may end the body with one more CRLF.
    return body.replace(b"\r\n", b"\n").rstrip(b"\r\n\t ")


def body_digest(raw: bytes, head: Head) -> str:
    """The digest of the body as it was sent, whatever line ends a relay
    chose: what the witness tag of our own answers is bound to."""
    return hashlib.sha256(_canonical_body(raw[head.body_offset:])).hexdigest()


# --- Content-Type / Content-Disposition --------------------------------------


def parameters(value: str | None) -> tuple[str, dict[str, str]]:
    """(the lower-cased value before the first ";", its parameters) of a
    MIME field. Names lower-cased; RFC 2231 continuations and charsets
    decoded; comments skipped; at most ``MAX_PARAMS`` parameters. Linear."""
    if not value:
        return "", {}
    text = value[:MAX_FIELD_CHARS]
    main, _, rest = text.partition(";")
    raw_params = _scan_params(rest)
    return _strip_comments(main).strip().lower(), _rfc2231(raw_params)


def _strip_comments(text: str) -> str:
    if "(" not in text:
        return text
    out: list[str] = []
    depth = 0
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
        elif not depth:
            out.append(char)
    return "".join(out)


def _scan_params(text: str) -> list[tuple[str, str]]:
    """``name=value`` pairs separated by ";", values quoted or not. One pass:
    quotes and backslashes are tracked, never re-scanned."""
    found: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while i < n and len(found) < MAX_PARAMS:
        # name
        start = i
        while i < n and text[i] not in "=;":
            i += 1
        name = _strip_comments(text[start:i]).strip().lower()
        if i >= n or text[i] == ";":
            i += 1
            continue
        i += 1  # "="
        while i < n and text[i] in " \t":
            i += 1
        if i < n and text[i] == '"':
            i += 1
            chars: list[str] = []
            while i < n and text[i] != '"':
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                chars.append(text[i])
                i += 1
            value = "".join(chars)
            while i < n and text[i] != ";":  # whatever follows the closing quote
                i += 1
        else:
            start = i
            while i < n and text[i] != ";":
                i += 1
            value = _strip_comments(text[start:i]).strip()
        i += 1
        if name:
            found.append((name, value))
    return found


def _rfc2231(pairs: list[tuple[str, str]]) -> dict[str, str]:
    plain: dict[str, str] = {}
    sections: dict[str, dict[int, tuple[bool, str]]] = {}
    for name, value in pairs:
        if "*" not in name:
            plain.setdefault(name, value)
            continue
        base, _, rest = name.partition("*")
        extended = rest.endswith("*") or rest == ""
        number = rest.rstrip("*")
        index = int(number) if number.isdigit() and len(number) <= 3 else 0
        parts = sections.setdefault(base, {})
        if len(parts) < _MAX_CONTINUATIONS:
            parts.setdefault(index, (extended, value))
    for base, parts in sections.items():
        plain[base] = _join_sections([parts[k] for k in sorted(parts)])
    return plain


def _join_sections(parts: list[tuple[bool, str]]) -> str:
    charset = ""
    data = bytearray()
    for position, (extended, value) in enumerate(parts):
        if extended and position == 0 and value.count("'") >= 2:
            charset, _language, value = value.split("'", 2)
        if extended:
            data += unquote_to_bytes(value)
        else:
            data += value.encode("utf-8", "surrogateescape")
    return decode_bytes(bytes(data), charset or "utf-8")[0]
