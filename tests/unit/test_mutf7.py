"""IMAP modified UTF-7 (RFC 3501 section 5.1.3): the adapter's encoder, checked with the
tests' strict decoder."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.mutf7 import encode_mutf7
from tests.support.mutf7 import MUTF7Error, decode_mutf7


@pytest.mark.parametrize(("name", "wire"), [
    ("INBOX", "INBOX"),
    ("Traités", "Trait&AOk-s"),
    ("Envoyés", "Envoy&AOk-s"),
    ("Quarantaine", "Quarantaine"),
    ("A & B", "A &- B"),
    ("&", "&-"),
    ("Éléments supprimés", "&AMk-l&AOk-ments supprim&AOk-s"),
    # RFC 3501's own example.
    ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
    ("🩺 soins", "&2D7eeg- soins"),  # a surrogate pair: D83E DE7A
])
def test_known_names(name: str, wire: str) -> None:
    assert encode_mutf7(name) == wire
    assert decode_mutf7(wire) == name
    assert decode_mutf7(wire.encode("ascii")) == name


@given(st.text())
def test_round_trip(name: str) -> None:
    wire = encode_mutf7(name)
    assert wire.isascii()
    assert all(0x20 <= ord(c) <= 0x7E for c in wire)
    assert decode_mutf7(wire) == name


@pytest.mark.parametrize("bad", [
    "Trait&AOk",        # no closing "-"
    "Trait&AOk!-s",     # not base64
    "&AGEAYgBj-",       # "abc": printable ASCII must not be encoded
    "Traités",          # raw 8-bit character
    "&A-",              # truncated base64
])
def test_malformed_names_are_rejected(bad: str) -> None:
    with pytest.raises(MUTF7Error):
        decode_mutf7(bad)


def test_non_ascii_bytes_are_rejected() -> None:
    with pytest.raises(MUTF7Error):
        decode_mutf7("Traités".encode())
