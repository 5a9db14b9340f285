"""The witness tag: one per Message-ID, body and key, found back by the intake."""

from __future__ import annotations

from esp_coord import witness
from esp_coord.crypto import Keyring
from esp_coord.intake import parse_mail

MID = "<PPS-2026-0001.ack.3@esp-valdelorge.mssante.test>"
RAW = (b"From: Coordination <coordination@esp-valdelorge.mssante.test>\r\n"
       b"Message-ID: " + MID.encode() + b"\r\nSubject: x\r\n\r\nCorps.\r\n")


def test_stamped_copy_is_genuine_only_for_its_message_id_body_and_key() -> None:
    keyring = Keyring.generate()
    stamped = witness.stamp(RAW, keyring, MID)
    assert stamped.endswith(RAW) and stamped.startswith(b"X-ESP-Coord-Witness: ")
    assert stamped.split(b"\n", 1)[0].endswith(b"\r")
    mail = parse_mail(stamped)
    assert mail.message_id == MID and mail.witness is not None
    digest = mail.body_digest
    assert witness.is_genuine(keyring, mail.message_id, mail.witness, digest)
    assert not witness.is_genuine(keyring, MID.upper(), mail.witness, digest)  # case-exact ids
    assert not witness.is_genuine(Keyring.generate(), MID, mail.witness, digest)
    assert not witness.is_genuine(keyring, "<PPS-2026-0001.ack.4@esp-valdelorge.mssante.test>",
                                  mail.witness, digest)
    assert not witness.is_genuine(keyring, MID, None, digest)
    assert parse_mail(RAW).witness is None


def test_a_tag_replayed_on_another_body_proves_nothing() -> None:
    # Every recipient of an answer sees its tag: with another body it is worthless.
    keyring = Keyring.generate()
    stamped = witness.stamp(RAW, keyring, MID)
    replayed = parse_mail(stamped.replace(b"Corps.", b"Autre chose."))
    assert replayed.witness == parse_mail(stamped).witness
    assert not witness.is_genuine(keyring, MID, replayed.witness, replayed.body_digest)


def test_a_relay_s_line_ends_do_not_change_the_proof() -> None:
    keyring = Keyring.generate()
    stamped = witness.stamp(RAW, keyring, MID)
    relayed = parse_mail(stamped.replace(b"\r\n", b"\n") + b"\n")
    assert witness.is_genuine(keyring, MID, relayed.witness, relayed.body_digest)


def test_bare_line_feeds_keep_their_style() -> None:
    raw = RAW.replace(b"\r\n", b"\n")
    assert witness.stamp(raw, Keyring.generate(), MID).split(b"\n", 1)[0][-1:] != b"\r"


def test_a_header_that_is_not_a_tag_is_ignored() -> None:
    raw = b"X-ESP-Coord-Witness: <script>\r\n" + RAW
    assert parse_mail(raw).witness is None
