"""What the sender wrote: the text without quoted reply and signature.

The body keeps the line numbers of the text: a quoted line that is followed
by more of the sender's own text (bottom-posting, Thunderbird's default) is
blanked rather than removed, so line N of the body is line N of what the
sender sees in the message. Everything from a reply header that is not
followed by the sender's text (top-posting: Outlook, Gmail, mobile) is cut.
"""

from __future__ import annotations

import re

from plans.signature import is_separator

_MAX_HEADER_LINE = 400

_QUOTE = re.compile(r"[ \t]*>")
# Mobile clients append these instead of a "-- " separator.
_MOBILE_FOOTER = re.compile(
    r"(?:Envoyé (?:de|depuis) mon|Sent from my|Obtenir Outlook pour|Get Outlook for)\b", re.I
)
_ATTRIBUTION = re.compile(r"\s*(?:Le|On)\s.*(?:a\s+écrit|wrote)\s*:\s*$", re.I)
_ATTRIBUTION_START = re.compile(r"\s*(?:Le|On)\s", re.I)
_ATTRIBUTION_END = re.compile(r"(?:a\s+écrit|wrote)\s*:\s*$", re.I)
_SEPARATOR = re.compile(
    r"\s*-{2,}\s*(?:original message|message d['’]origine|message original|"
    r"forwarded message|message transféré|message transmis)\s*-{2,}\s*$",
    re.I,
)
_UNDERSCORES = re.compile(r"\s*_{10,}\s*$")
_OUTLOOK_FROM = re.compile(r"\s*\*?(?:De|From)\s*\*?\s*:", re.I)
_OUTLOOK_FIELD = re.compile(r"\s*\*?(Envoyé|Sent|Date|À|A|To|Cc|Objet|Subject)\s*\*?\s*:", re.I)
_OUTLOOK_SPAN = 6


def _is_blank(line: str) -> bool:
    return not line.strip()


def _outlook_block(lines: list[str], i: int) -> bool:
    """A "De : / Envoyé : / À : / Objet :" header block starts at line i."""
    if not _OUTLOOK_FROM.match(lines[i]):
        return False
    fields = set()
    for line in lines[i + 1 : i + 1 + _OUTLOOK_SPAN]:
        found = _OUTLOOK_FIELD.match(line)
        if found:
            fields.add(found.group(1).lower())
    return len(fields) >= 2


def _reply_header(lines: list[str], i: int) -> int:
    """Number of lines of the reply header starting at line i (0: none)."""
    line = lines[i]
    if len(line) > _MAX_HEADER_LINE:
        return 0
    if _ATTRIBUTION.match(line) or _SEPARATOR.match(line) or _outlook_block(lines, i):
        return 1
    if _ATTRIBUTION_START.match(line) and i + 1 < len(lines):
        following = lines[i + 1]
        # Gmail wraps a long "Le ..., Name <address> a écrit :" over two lines.
        if (
            len(line) + len(following) <= _MAX_HEADER_LINE
            and not _QUOTE.match(following)
            and _ATTRIBUTION_END.search(following)
        ):
            return 2
    if _UNDERSCORES.match(line):
        j = i + 1
        while j < len(lines) and _is_blank(lines[j]):
            j += 1
        if j < len(lines) and _outlook_block(lines, j):
            return 1
    return 0


def _text_follows_quote(lines: list[str], j: int) -> bool:
    """Whether the sender's own text comes after the quote block at line j."""
    while j < len(lines) and (_QUOTE.match(lines[j]) or _is_blank(lines[j])):
        j += 1
    return j < len(lines) and not is_separator(lines[j])


def extract_body(text: str) -> str:
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if is_separator(line) or _MOBILE_FOOTER.match(line):
            break
        if _QUOTE.match(line):
            out.append("")
            i += 1
            continue
        header = _reply_header(lines, i)
        if header:
            j = i + header
            while j < len(lines) and _is_blank(lines[j]):
                j += 1
            if j < len(lines) and _QUOTE.match(lines[j]) and _text_follows_quote(lines, j):
                out.extend([""] * header)
                i += header
                continue
            break
        out.append(line)
        i += 1
    while out and _is_blank(out[-1]):
        out.pop()
    return "\n".join(out)
