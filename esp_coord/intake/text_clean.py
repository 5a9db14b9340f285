"""Decoding bytes of unknown quality into safe, normalised text.

Everything that leaves the intake package goes through these helpers, so that
downstream code never meets a lone surrogate (it would crash ``str.encode``),
a control character, or a line break that ``str.splitlines`` sees but
``str.split("\\n")`` does not (line numbers of the body must agree for both).
"""

from __future__ import annotations

import codecs
import re
import unicodedata

# Every separator str.splitlines() knows, so that after normalisation
# text.split("\n") and text.splitlines() agree line for line.
_LINE_BREAKS = re.compile("\r\n|[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
# C0/C1 controls (tab and newline kept), BOM and zero-width space (they break
# keyword matching at line start), bidi overrides (they disguise text).
_INVISIBLE = re.compile("[\x00-\x08\x0e-\x1b\x1f\x7f-\x9f\u200b\u202a-\u202e\u2066-\u2069\ufeff]")
_SURROGATES = re.compile("[\ud800-\udfff]")
_HEADER_SPACE = re.compile(r"\s+")

# Charsets that are labels for something else in practice (WHATWG encoding
# standard): mail clients label Windows-1252 text as ISO-8859-1 or ASCII.
_ALIASES = {
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "l1": "cp1252",
    "us-ascii": "ascii",
    "ascii": "ascii",
    "utf8": "utf-8",
    "unicode-1-1-utf-7": "utf-7",
    "x-unknown": "",
    "unknown-8bit": "",
    "x-user-defined": "",
}


def _text_codec(charset: str | None) -> str | None:
    """The Python codec name for a MIME charset, or None when unusable.

    Only text encodings qualify: 'base64', 'rot13', 'zlib'... are codecs too
    and must never run on attacker bytes.
    """
    if not charset:
        return None
    name = charset.strip().strip("\"'").lower()
    name = _ALIASES.get(name, name)
    if not name or len(name) > 40:
        return None
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError, TypeError):
        return None
    if not getattr(info, "_is_text_encoding", True):
        return None
    return info.name


def decode_bytes(data: bytes, charset: str | None) -> tuple[str, str | None]:
    """Decode bytes with the declared charset, falling back sensibly.

    Returns the text and a defect label (no content) when the charset was
    unknown or wrong. Never raises.
    """
    codec = _text_codec(charset)
    if codec == "ascii":
        if data.isascii():
            return data.decode("ascii"), None
        codec = None  # 8-bit data labelled ASCII: guess below
    if codec is not None and codec not in ("utf-8",):
        try:
            return data.decode(codec, errors="replace"), None
        except Exception:  # exotic codecs can raise despite errors="replace"
            codec = None
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        pass
    defect = "charset-fallback" if charset else None
    if codec == "utf-8":
        # Declared UTF-8 but invalid: keep the valid parts.
        return data.decode("utf-8", errors="replace"), "invalid-utf-8"
    return data.decode("cp1252", errors="replace"), defect


def normalise_text(text: str) -> str:
    """Newlines to "\\n", invisible and control characters removed."""
    text = _LINE_BREAKS.sub("\n", text)
    text = _INVISIBLE.sub("", text)
    # NFC: a "é" typed on some systems arrives decomposed and would not match
    # the keywords of the grammar.
    return unicodedata.normalize("NFC", _SURROGATES.sub("\ufffd", text))


def one_line(text: str) -> str:
    """A header value fit for display: one line, whitespace collapsed."""
    text = _SURROGATES.sub("\ufffd", text)
    text = _INVISIBLE.sub(" ", text)
    return unicodedata.normalize("NFC", _HEADER_SPACE.sub(" ", text).strip())
