"""Answers built from hostile values: never a crash, never an injected header,
and the recipient reads the sender's text literally (no RFC 2047 decoding of
text that only looks like an encoded word)."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy

import pytest

from esp_coord.outgoing import build_mail

LOOKALIKES = [
    "RE: =?mskanji?Q?=C3=A7=D8=B1=EC=96=B4Hl:wPn=E2=80=8Bt=3D",  # found by the fuzzer
    "RE: =?utf-8?q?caf=C3=A9?= ok",
    "RE: =?utf-8?q?=0D=0ABcc:_evil@evil.test?=",
    "RE: =?x-unknown?b?/w==?= fin",
    "RE: é =?iso-2022-jp?b?GyRCJUYlOSVIGyhC?=",
]


def _mail(subject: str, name: str = "Claire DURAND") -> bytes:
    return build_mail(sender_address="coordination@esp-valdelorge.mssante.test",
                      sender_name="Coordination", to=[(name, "claire.durand@medecin.mssante.test")],
                      subject=subject, text="Bonjour", message_id="<a.1@esp-valdelorge.test>",
                      date=datetime(2026, 11, 23, 9, 0, tzinfo=UTC))


def _headers(raw: bytes) -> list[bytes]:
    return raw.partition(b"\r\n\r\n")[0].split(b"\r\n")


@pytest.mark.parametrize("subject", LOOKALIKES)
def test_encoded_word_lookalikes_in_the_subject(subject: str) -> None:
    raw = _mail(subject)
    assert not [h for h in _headers(raw) if h.lower().startswith(b"bcc")]
    read = message_from_bytes(raw, policy=policy.default)
    # What the recipient's client shows: the characters the sender typed
    # (an invisible word joiner may separate "=" and "?"), not their decoding.
    assert str(read["Subject"]).replace("\u2060", "") == subject
    assert "\r" not in str(read["Subject"]) and "\n" not in str(read["Subject"])


@pytest.mark.parametrize("name", LOOKALIKES)
def test_encoded_word_lookalikes_in_a_display_name(name: str) -> None:
    raw = _mail("Plan", name=name)
    read = message_from_bytes(raw, policy=policy.default)
    assert [a.addr_spec for a in read["To"].addresses] == ["claire.durand@medecin.mssante.test"]
    # The stdlib folds a long encoded display name with a space between two
    # encoded words, which its parser keeps: compare without spaces.
    shown = read["To"].addresses[0].display_name.replace("\u2060", "")
    assert shown.replace(" ", "") == name.replace(" ", "")
