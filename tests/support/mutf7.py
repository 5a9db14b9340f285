"""Decoding IMAP modified UTF-7 (RFC 3501 section 5.1.3): what a server lists.

The service only encodes mailbox names (``adapters.mutf7``); the tests decode
what a server lists, to check the names it holds. Strict: a non-canonical or
malformed name raises, so that a wrong encoding cannot pass unnoticed.
"""

from __future__ import annotations

import base64
import binascii

__all__ = ["MUTF7Error", "decode_mutf7"]


class MUTF7Error(ValueError):
    """A mailbox name is not valid modified UTF-7."""


def _is_direct(ch: str) -> bool:
    return 0x20 <= ord(ch) <= 0x7E


def decode_mutf7(wire: str | bytes) -> str:
    """The mailbox name a server sent. Raises ``MUTF7Error`` on malformed input."""
    if isinstance(wire, bytes | bytearray):
        try:
            wire = bytes(wire).decode("ascii")
        except UnicodeDecodeError:
            raise MUTF7Error("mailbox name is not 7-bit") from None
    out: list[str] = []
    i = 0
    while i < len(wire):
        ch = wire[i]
        if not _is_direct(ch):
            raise MUTF7Error(f"character {ch!r} must be encoded")
        if ch != "&":
            out.append(ch)
            i += 1
            continue
        end = wire.find("-", i + 1)
        if end < 0:
            raise MUTF7Error("shift sequence '&' without its closing '-'")
        chunk = wire[i + 1:end]
        if not chunk:
            out.append("&")
        else:
            if len(chunk) % 4 == 1:
                raise MUTF7Error(f"bad base64 length in '&{chunk}-'")
            padded = chunk.replace(",", "/") + "=" * (-len(chunk) % 4)
            try:
                raw = base64.b64decode(padded, validate=True)
                text = raw.decode("utf-16-be")
            except (binascii.Error, UnicodeDecodeError):
                raise MUTF7Error(f"bad shift sequence '&{chunk}-'") from None
            if not text or any(_is_direct(c) for c in text):
                # RFC 3501: printable ASCII must never be base64-encoded.
                raise MUTF7Error(f"non-canonical shift sequence '&{chunk}-'")
            out.append(text)
        i = end + 1
    return "".join(out)
