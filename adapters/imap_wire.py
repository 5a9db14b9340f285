"""The bytes layer of the IMAP adapter: sequence sets and aioimaplib's response lines.

Pure functions, no I/O: what aioimaplib 2.0.3 hands back is a list of ``bytes``
lines with each literal as a ``bytearray``, the untagged prefix ("* SEARCH",
"* 3 FETCH") partly stripped, and the tagged status text last.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]", re.I)
_FETCH_START = re.compile(rb"\d+ FETCH \(", re.I)
_FETCH_UID = re.compile(rb"\bUID (\d+)", re.I)
_FETCH_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)", re.I)
_PUSH_NEW = re.compile(rb"^\d+ (EXISTS|RECENT)\b", re.I)


def uid_set(uids: Iterable[int]) -> str:
    """Compact IMAP sequence set: [1, 2, 3, 7] -> "1:3,7"."""
    ordered = sorted(set(uids))
    parts: list[str] = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}:{ordered[j]}")
        i = j + 1
    return ",".join(parts)


def chunks(items: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def parse_fetch_bodies(lines: Iterable[Any]) -> dict[int, bytes]:
    """UID -> body from the lines of a ``UID FETCH (UID BODY.PEEK[])`` response.

    aioimaplib gives each literal as a ``bytearray`` after the ``n FETCH (...{size}``
    line; the UID may sit before or after the literal. Unsolicited FETCH lines
    (flag changes) have no literal and are skipped.
    """
    result: dict[int, bytes] = {}
    uid: int | None = None
    body: bytes | None = None

    def flush() -> None:
        if uid is not None and body is not None:
            result[uid] = body

    for line in lines:
        if isinstance(line, bytearray):
            if body is None:
                body = bytes(line)
            continue
        if _FETCH_START.match(line):
            flush()
            uid, body = None, None
        m = _FETCH_UID.search(line)
        if m and uid is None:
            uid = int(m.group(1))
    flush()
    return result


def parse_fetch_sizes(lines: Iterable[Any]) -> dict[int, int]:
    """UID -> RFC822.SIZE from the lines of a ``UID FETCH (UID RFC822.SIZE ...)`` response.

    Like the UID, the size may sit before or after a literal; unsolicited
    FETCH lines (flag changes) carry no size and are skipped.
    """
    result: dict[int, int] = {}
    uid: int | None = None
    size: int | None = None
    for line in lines:
        if isinstance(line, bytearray):
            continue
        if _FETCH_START.match(line):
            uid, size = None, None
        if uid is None and (m := _FETCH_UID.search(line)):
            uid = int(m.group(1))
        if size is None and (m := _FETCH_SIZE.search(line)):
            size = int(m.group(1))
        if uid is not None and size is not None:
            result[uid] = size
    return result


def search_uids(lines: Sequence[Any]) -> list[int]:
    # aioimaplib strips "* SEARCH" from the untagged line; the last line is the tagged text.
    uids: list[int] = []
    for line in lines[:-1]:
        if isinstance(line, bytes) and re.fullmatch(rb"[\d ]*", line):
            uids.extend(int(x) for x in line.split())
    return sorted(set(uids))


def response_text(result: str, lines: Sequence[Any]) -> str:
    """The server's words in the tagged reply (e.g. "[ALREADYEXISTS] Mailbox exists")."""
    last = lines[-1] if lines else b""
    return bytes(last).decode("utf-8", "replace").strip() if last else result


def uidvalidity_of(lines: Iterable[Any]) -> int | None:
    """UIDVALIDITY from the lines of a SELECT or EXAMINE response."""
    for line in lines:
        m = _UIDVALIDITY.search(bytes(line))
        if m:
            return int(m.group(1))
    return None


def announces_new_mail(lines: Iterable[Any]) -> bool:
    """Whether untagged lines (IDLE pushes, NOOP replies) include EXISTS or RECENT."""
    return any(_PUSH_NEW.match(bytes(line)) for line in lines)
