"""HTML mail to plain text, line for line as the reader sees it.

One visual line becomes one text line: Outlook writes each line as a
``<p class=MsoNormal>`` without margins, Gmail as a ``<div>``, so a block
element ends the line but adds no blank line. Quoted blocks
(``<blockquote>``) come out prefixed with "> ", so that the quote stripping
of plain text applies to HTML too.

What can multiply is capped: the quote prefix stops growing at
``MAX_QUOTE_DEPTH`` (a prefix per line times the depth made N nested quotes
and N lines cost N² characters), and the text stops at ``MAX_TEXT_CHARS``.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_BLOCKS = frozenset(
    "p div h1 h2 h3 h4 h5 h6 ul ol dl dt dd tr table thead tbody tfoot caption "
    "section article header footer nav aside address center form fieldset hr "
    "figure figcaption main details summary".split()
)
# Dropped with their content. <head> is handled apart: Outlook sometimes
# never closes it, and <body> must then end it.
_SKIPPED = frozenset(("script", "style", "title", "template", "xml"))
_COLLAPSE = re.compile(r"[ \t\n\r\f]+")
# Outlook renders list bullets as text ("·" in the Symbol font) followed by
# no-break spaces; make them the same "- " as <li>.
_OUTLOOK_BULLET = re.compile("^[\u00b7\u2022\u25aa\u25e6\uf0b7\u00a7][ \u00a0]+")
# Deeper quotes are shown at this depth: a quote is stripped whatever its depth.
MAX_QUOTE_DEPTH = 8
MAX_TEXT_CHARS = 2**20


class _Full(Exception):
    """The text reached ``MAX_TEXT_CHARS``: stop reading."""


class _TextBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self._current: list[str] = []
        self._bullet = ""
        self._skip = 0
        self._in_head = False
        self._quote_depth = 0
        self._pre = 0
        self._size = 0
        self.truncated = False

    def _newline(self, force: bool = False) -> None:
        if not self._current and not force:
            return
        # A paragraph holding only a no-break space is the blank line the
        # reader sees between blocks: keep it, empty.
        line = "".join(self._current).rstrip()
        if line:
            line = _OUTLOOK_BULLET.sub("- ", self._bullet + line)
            line = "> " * min(self._quote_depth, MAX_QUOTE_DEPTH) + line
        self._size += len(line) + 1
        if self._size > MAX_TEXT_CHARS:
            self.truncated = True
            raise _Full
        self.lines.append(line)
        self._current = []
        self._bullet = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skip += 1
        elif tag == "head":
            self._in_head = True
        elif tag == "body":
            self._in_head = False
        elif tag == "br":
            self._newline(force=True)
        elif tag == "li":
            self._newline()
            self._bullet = "- "
        elif tag == "blockquote":
            self._newline()
            self._quote_depth += 1
        elif tag == "pre":
            self._newline()
            self._pre += 1
        elif tag in ("td", "th"):
            if self._current:
                self._current.append(" ")
        elif tag in _BLOCKS:
            self._newline()

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skip = max(0, self._skip - 1)
        elif tag == "head":
            self._in_head = False
        elif tag == "blockquote":
            self._newline()
            self._quote_depth = max(0, self._quote_depth - 1)
        elif tag == "pre":
            self._newline()
            self._pre = max(0, self._pre - 1)
        elif tag in _BLOCKS or tag == "li":
            self._newline()

    def handle_data(self, data: str) -> None:
        if self._skip or self._in_head:
            return
        if self._pre:
            first, *rest = data.split("\n")
            self._current.append(first)
            for line in rest:
                self._newline(force=True)
                self._current.append(line)
            return
        data = _COLLAPSE.sub(" ", data)
        if not self._current:
            data = data.lstrip(" ")
        if data:
            self._current.append(data)
            self._size += len(data)
            if self._size > MAX_TEXT_CHARS:
                self.truncated = True
                raise _Full

    def text(self) -> str:
        if not self.truncated:
            try:
                self._newline()
            except _Full:
                pass
        return "\n".join(self.lines)


def html_to_text(html: str) -> tuple[str, bool]:
    """The visible text of an HTML document, and whether it was cut at
    ``MAX_TEXT_CHARS``. Never raises on bad markup."""
    builder = _TextBuilder()
    try:
        builder.feed(html)
        builder.close()
    except Exception:  # _Full, or html.parser gave up: keep what was read
        pass
    return builder.text(), builder.truncated
