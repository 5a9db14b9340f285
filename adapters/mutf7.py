"""IMAP modified UTF-7 (RFC 3501 section 5.1.3), the encoding of mailbox names.

Printable US-ASCII (0x20-0x7e) stands for itself, except "&" which is written
"&-". Every other run of characters is UTF-16BE, base64 with "," instead of "/"
and without padding, between "&" and "-". So "Traités" is "Trait&AOk-s".

Only the encoder: the service never reads a mailbox name from a server (the
tests' decoder is in ``tests/support/mutf7.py``).
"""

from __future__ import annotations

import base64


def _is_direct(ch: str) -> bool:
    return 0x20 <= ord(ch) <= 0x7E


def _b64(run: str) -> str:
    raw = run.encode("utf-16-be")
    return base64.b64encode(raw).decode("ascii").rstrip("=").replace("/", ",")


def encode_mutf7(name: str) -> str:
    """The wire form of a mailbox name."""
    out: list[str] = []
    run: list[str] = []
    for ch in name:
        if _is_direct(ch):
            if run:
                out.append("&" + _b64("".join(run)) + "-")
                run.clear()
            out.append("&-" if ch == "&" else ch)
        else:
            run.append(ch)
    if run:
        out.append("&" + _b64("".join(run)) + "-")
    return "".join(out)
