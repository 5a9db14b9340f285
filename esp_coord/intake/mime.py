"""Walking the MIME tree: the readable text and the list of attachments.

Attachments are never decoded, only measured (base64 size is computed from
the encoded length), so a zip bomb or a huge PDF costs nothing. The tree walk
is bounded in depth and in number of parts.

The tree is built by the stdlib parser with ``policy.compat32`` and a
``Message`` whose parameters are read by ``head.parameters`` (linear, at most
``MAX_PARAMS``): the header registry of ``policy.default`` is quadratic on a
parameter storm and recursive on nested comments, and no part header reaches
it.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass
from email import policy
from email.message import Message
from email.parser import BytesParser
from typing import Any

from .head import parameters
from .headers import decode_words
from .html_text import html_to_text
from .model import Attachment
from .text_clean import decode_bytes, normalise_text, one_line

MAX_DEPTH = 24
MAX_PARTS = 500
# A structured care mail is a few kilobytes; more text is not worth parsing
# (HTML parsing of megabytes is slow) and is cut.
MAX_TEXT_BYTES = 2**20
# A care mail is a few dozen lines; a long forwarded thread a few thousand.
MAX_TEXT_LINES = 10_000


def field_params(part: Message, header: str) -> tuple[str, dict[str, str]] | None:
    """The value and parameters of the part's first ``header`` field, or None."""
    header = header.lower()
    for name, value in part.raw_items():
        if name.lower() == header:
            return parameters(str(value))
    return None


class Part(Message):
    """A MIME part whose parameters never go through the stdlib's parsers
    (the stdlib itself asks for the boundary, the charset, the filename)."""

    def get_params(self, failobj: Any = None, header: str = "content-type",
                   unquote: bool = True) -> Any:
        found = field_params(self, header)
        if found is None:
            return failobj
        return [(found[0], ""), *found[1].items()]

    def get_param(self, param: str, failobj: Any = None, header: str = "content-type",
                  unquote: bool = True) -> Any:
        found = field_params(self, header)
        if found is None:
            return failobj
        return found[1].get(param.lower(), failobj)


PARSER = BytesParser(_class=Part, policy=policy.compat32)


@dataclass(frozen=True)
class _Info:
    content_type: str
    params: dict[str, str]
    is_attachment: bool


class _Parts:
    """Content-Type and disposition of each part, parsed once."""

    def __init__(self) -> None:
        self._cache: dict[int, _Info] = {}

    def info(self, part: Message) -> _Info:
        known = self._cache.get(id(part))
        if known is None:
            try:
                known = self._parse_info(part)
            except Exception:  # a header the registry cannot read: opaque data
                known = _Info("application/octet-stream", {}, True)
            self._cache[id(part)] = known
        return known

    @staticmethod
    def _parse_info(part: Message) -> _Info:
        ctype, params = field_params(part, "content-type") or ("", {})
        if ctype.count("/") != 1 or any(c.isspace() for c in ctype):
            ctype = "text/plain"  # RFC 2045 5.2: the default, also for invalid values
        kind, disposition_params = field_params(part, "content-disposition") or ("", {})
        is_attachment = kind == "attachment" or "filename" in disposition_params or "name" in params
        return _Info(ctype, params, is_attachment)

    def children(self, part: Message) -> list[Message]:
        if not self.info(part).content_type.startswith("multipart/"):
            return []
        payload = part.get_payload()
        if not isinstance(payload, list):
            return []
        return [p for p in payload if isinstance(p, Message)]

    def select_body(self, part: Message, depth: int) -> Message | None:
        """The part holding what the sender wrote: plain text preferred over HTML."""
        if depth > MAX_DEPTH:
            return None
        info = self.info(part)
        if info.content_type in ("text/plain", "text/html"):
            return None if info.is_attachment else part
        children = self.children(part)
        if not children:
            return None
        if info.content_type == "multipart/alternative":
            found = [c for c in (self.select_body(ch, depth + 1) for ch in children) if c]
            plain = [c for c in found if self.info(c).content_type == "text/plain"]
            candidates = plain or found
            return candidates[0] if candidates else None
        if info.content_type == "multipart/related":
            return self.select_body(children[0], depth + 1)
        # mixed, signed, report and unknown multiparts: the first readable part.
        for child in children:
            chosen = self.select_body(child, depth + 1)
            if chosen is not None:
                return chosen
        return None


def _unflow(text: str, delsp: bool) -> str:
    """Undo format=flowed (RFC 3676): soft-wrapped lines joined back."""
    out: list[str] = []
    current: str | None = None
    current_depth = 0
    for line in text.split("\n"):
        stripped = line.lstrip(">")
        depth = len(line) - len(stripped)
        if stripped.startswith(" "):
            stripped = stripped[1:]  # space-stuffing
        is_signature = stripped == "-- "
        if current is not None and depth == current_depth and not is_signature:
            current += stripped
        else:
            if current is not None:
                out.append(_quoted(current_depth, current))
            current, current_depth = stripped, depth
        if current.endswith(" ") and not is_signature:
            if delsp:
                current = current[:-1]
        else:
            out.append(_quoted(current_depth, current))
            current = None
    if current is not None:
        out.append(_quoted(current_depth, current))
    return "\n".join(out)


def _quoted(depth: int, line: str) -> str:
    return "> " * depth + line if depth else line


def _part_text(part: Message, info: _Info, defects: list[str]) -> str:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        defects.append("undecodable-body")
        return ""
    if not isinstance(data, bytes):
        return ""
    if len(data) > MAX_TEXT_BYTES:
        data = data[:MAX_TEXT_BYTES]
        defects.append("text-truncated")
    text, defect = decode_bytes(data, info.params.get("charset"))
    if defect:
        defects.append(defect)
    # Lines first: the unflowing and the HTML reader work line by line.
    text = _first_lines(normalise_text(text), defects)
    if info.content_type == "text/html":
        text, truncated = html_to_text(text)
        if truncated:
            defects.append("text-truncated")
        return _first_lines(normalise_text(text), defects)
    if info.params.get("format", "").lower() == "flowed":
        text = _unflow(text, info.params.get("delsp", "").lower() == "yes")
    return text


def _first_lines(text: str, defects: list[str]) -> str:
    """At most ``MAX_TEXT_LINES`` lines: each line is a Python object for the
    quote stripping and the grammar, 50 bytes or more for a line of one letter."""
    end = -1
    for _ in range(MAX_TEXT_LINES):
        end = text.find("\n", end + 1)
        if end < 0:
            return text
    defects.append("text-truncated")
    return text[:end]


def _encoded_size(part: Message, depth: int = 0) -> int:
    """Decoded size of a leaf, without decoding base64."""
    payload = part.get_payload()
    if isinstance(payload, list):  # message/rfc822 or multipart: the sum of the parts
        if depth > MAX_DEPTH:
            return 0
        return sum(_encoded_size(p, depth + 1) for p in payload if isinstance(p, Message))
    if not isinstance(payload, str):
        return 0
    cte = str(part.get("content-transfer-encoding", "")).strip().lower()
    if cte == "base64":
        length = len(payload) - sum(payload.count(c) for c in " \t\r\n")
        padding = len(payload.rstrip()) - len(payload.rstrip().rstrip("="))
        return max(0, length * 3 // 4 - min(padding, 2))
    if cte == "quoted-printable":
        try:
            return len(binascii.a2b_qp(payload.encode("ascii", "surrogateescape")))
        except (ValueError, UnicodeError):
            return len(payload)
    return len(payload)


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:
        return None
    if name is None:
        return None
    name = one_line(decode_words(str(name)))
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    return name[:255] or None


def _attachments(
    parts: _Parts, root: Message, body: Message | None, defects: list[str]
) -> list[Attachment]:
    found: list[Attachment] = []
    stack: list[tuple[Message, int]] = [(root, 0)]
    seen = 0
    while stack:
        part, depth = stack.pop()
        seen += 1
        if seen > MAX_PARTS:
            defects.append("too-many-parts")
            break
        if depth > MAX_DEPTH:
            defects.append("mime-too-deep")
            continue
        children = parts.children(part)
        if children:
            stack.extend((child, depth + 1) for child in reversed(children))
            continue
        if part is body:
            continue
        info = parts.info(part)
        if info.content_type in ("text/plain", "text/html") and not info.is_attachment:
            continue  # the other alternative of the body, or a text fragment
        if info.content_type.startswith("multipart/"):
            continue  # a broken container (no boundary): nothing to count
        found.append(Attachment(_filename(part), info.content_type, _encoded_size(part)))
    return found


def extract(root: Message) -> tuple[str, tuple[Attachment, ...], tuple[str, ...]]:
    """(text, attachments, defects) of a parsed message."""
    defects: list[str] = []
    parts = _Parts()
    body = parts.select_body(root, 0)
    text = _part_text(body, parts.info(body), defects) if body is not None else ""
    attachments = _attachments(parts, root, body, defects)
    return text, tuple(attachments), tuple(dict.fromkeys(defects))


def find_attachment(root: Message, wanted: str, max_bytes: int) -> bytes | None:
    """The decoded content of the first attachment named ``wanted`` (compared
    without case), None when there is none or it is over ``max_bytes``
    (measured before decoding). The walk has the bounds of ``extract``."""
    parts = _Parts()
    stack: list[tuple[Message, int]] = [(root, 0)]
    seen = 0
    wanted = wanted.upper()
    while stack:
        part, depth = stack.pop()
        seen += 1
        if seen > MAX_PARTS or depth > MAX_DEPTH:
            return None
        children = parts.children(part)
        if children:
            stack.extend((child, depth + 1) for child in reversed(children))
            continue
        name = _filename(part)
        if name is None or name.upper() != wanted:
            continue
        if _encoded_size(part) > max_bytes:
            return None
        try:
            data = part.get_payload(decode=True)
        except Exception:
            return None
        return data if isinstance(data, bytes) and len(data) <= max_bytes else None
    return None


CALENDAR_TYPES = ("text/calendar", "application/ics")


def find_calendar(root: Message, max_bytes: int) -> tuple[str, str] | None:
    """(the ``method`` parameter, the decoded text) of the mail's calendar
    part: the first ``text/calendar`` one, else an ``application/ics`` file
    (Thunderbird sends both). None when there is none or it is over
    ``max_bytes`` (measured before decoding). The walk has the bounds of
    ``extract``."""
    parts = _Parts()
    stack: list[tuple[Message, int]] = [(root, 0)]
    seen = 0
    fallback: Message | None = None
    found: Message | None = None
    while stack and found is None:
        part, depth = stack.pop()
        seen += 1
        if seen > MAX_PARTS or depth > MAX_DEPTH:
            break
        children = parts.children(part)
        if children:
            stack.extend((child, depth + 1) for child in reversed(children))
            continue
        ctype = parts.info(part).content_type
        if ctype == "text/calendar":
            found = part
        elif ctype == "application/ics" and fallback is None:
            fallback = part
    chosen = found or fallback
    if chosen is None or _encoded_size(chosen) > max_bytes:
        return None
    try:
        data = chosen.get_payload(decode=True)
    except Exception:
        return None
    if not isinstance(data, bytes) or len(data) > max_bytes:
        return None
    info = parts.info(chosen)
    text, _ = decode_bytes(data, info.params.get("charset") or "utf-8")
    return info.params.get("method", "").upper(), text
