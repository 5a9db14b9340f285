"""Proof that a mail in our inbox is the copy of one of our own answers.

Every answer goes out with the bot's own address as a blind recipient, and the
copy coming back confirms its outbox row as sent (see ``delivery``). Anyone
can write a mail From: our address carrying the Message-ID of an answer still
waiting: the ids are predictable (``<PPS-2026-0001.ack.3@domain>``). Taken at
its word, such a mail would mark the answer sent without it ever leaving. So
each answer is stamped, as it leaves, with a tag keyed by the keyring: only a
copy of what we really sent carries the right one. The tag is bound to the
body too (``intake.head.body_digest``): every recipient of an answer sees its
tag, and a tag replayed on another body proves nothing.
"""

from __future__ import annotations

import hmac

from esp_coord.crypto import Keyring
from esp_coord.intake.head import body_digest, read_head

HEADER = "X-ESP-Coord-Witness"


def tag(keyring: Keyring, message_id: str, digest: str) -> str:
    return keyring.blind_index(f"{message_id}\0{digest}", purpose="witness")


def stamp(raw: bytes, keyring: Keyring, message_id: str) -> bytes:
    """``raw`` with the tag as its first header (the same line ending as ``raw``)."""
    first_line = raw.split(b"\n", 1)[0]
    newline = b"\r\n" if first_line.endswith(b"\r") else b"\n"
    value = tag(keyring, message_id, body_digest(raw, read_head(raw)))
    return f"{HEADER}: {value}".encode() + newline + raw


def is_genuine(keyring: Keyring, message_id: str | None, found: str | None,
               digest: str) -> bool:
    """``digest``: ``IncomingMail.body_digest`` of the copy."""
    if not message_id or not found:
        return False
    return hmac.compare_digest(found.strip().lower(), tag(keyring, message_id, digest))
