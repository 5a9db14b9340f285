"""MDNs (RFC 8098, ANS MSSanté shape): who gets one, and every field of it,
read back with the standard library as a recipient's client reads it."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage, Message

import pytest

from esp_coord.intake import parse_head
from esp_coord.mdn import (
    ERROR_CODES,
    build_mdn,
    disposition,
    header_block,
    mdn_message_id,
    receipt_address,
    render_mdn,
)
from tests.support.config import offline_config
from tests.support.mail import BOT, CLAIRE, mail

CONFIG = offline_config()
NOW = datetime(2026, 11, 23, 8, 15, tzinfo=UTC)
NBSP = "\u00a0"


def asking(subject: str = "AIDE", *, dnt: str | None = CLAIRE, path: str | None = CLAIRE,
           extra: str = "") -> bytes:
    """A member's mail asking for an MDN: ``Disposition-Notification-To: dnt``
    and ``Return-Path: <path>`` (None: no such field)."""
    head = ""
    if path is not None:
        head += f"Return-Path: <{path}>\r\n"
    if dnt is not None:
        extra = f"Disposition-Notification-To: Claire DURAND <{dnt}>\r\n" + extra
    return head.encode() + mail(subject, "Bonjour", extra=extra)


def read(raw: bytes) -> EmailMessage:
    head, sep, _ = raw.partition(b"\r\n\r\n")
    assert sep and head.isascii()
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    message = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    assert not message.defects, message.defects
    return message


def text_of(part: Message) -> str:
    assert isinstance(part, EmailMessage)
    return str(part.get_content()).replace("\r\n", "\n")


def report_fields(message: EmailMessage) -> dict[str, str]:
    """The fields of the message/disposition-notification part."""
    part = message.get_payload()[1]
    assert isinstance(part, Message)
    assert part.get_content_type() == "message/disposition-notification"
    blocks = part.get_payload()
    assert isinstance(blocks, list) and len(blocks) == 1
    return {name: str(value) for name, value in blocks[0].items()}


def test_a_processed_mdn_field_by_field() -> None:
    raw = asking(extra="Original-Recipient: rfc822;Coordination@esp-valdelorge.mssante.test\r\n")
    incoming = parse_head(raw)
    out = render_mdn(incoming, config=CONFIG, now=NOW, refused=False, raw=raw)
    assert out is not None
    assert out.recipients == (CLAIRE,)
    assert out.message_id == mdn_message_id(incoming, CONFIG)
    message = read(out.raw)
    # The envelope of a reply: ours, to the one who asked, threaded under the mail.
    assert message["From"].addresses[0].addr_spec == BOT
    assert message["From"].addresses[0].display_name == CONFIG.bot_name
    assert message["To"].addresses[0].addr_spec == CLAIRE
    assert message["To"].addresses[0].display_name == "Claire DURAND"
    assert message["Subject"] == "AIDE"
    assert message["Message-ID"] == out.message_id
    assert message["In-Reply-To"] == incoming.message_id
    assert message["References"] == incoming.message_id
    assert message["Date"].datetime == NOW
    assert message["Auto-Submitted"] == "auto-replied"
    assert message["X-Auto-Response-Suppress"] == "All"
    assert message["X-MSS-NIL"] == CONFIG.product_reference == "esp-coord/0.1"
    assert "Disposition-Notification-To" not in message  # RFC 8098 2.1: never asked back
    assert message.get_content_type() == "multipart/report"
    assert message.get_param("report-type") == "disposition-notification"
    human, machine, original = message.get_payload()
    # Part 1: French, for a person.
    assert human.get_content_type() == "text/plain"
    text = text_of(human)
    assert text.startswith("Bonjour,\n\nVotre message du 23/11/2026 à 9h12 a été reçu et "
                           "traité automatiquement par le service de coordination de "
                           "l'équipe ESP du Val de Lorge.")
    assert "Sa réponse vous est envoyée dans un message séparé." in text
    assert "erreur" not in text
    # Part 2: for machines.
    assert report_fields(message) == {
        "Reporting-UA": f"esp-valdelorge.mssante.test; {CONFIG.product_reference}",
        "Original-Recipient": "rfc822;coordination@esp-valdelorge.mssante.test",
        "Final-Recipient": f"rfc822;{BOT}",
        "Original-Message-ID": incoming.message_id,
        "Disposition": "automatic-action/MDN-sent-automatically; processed",
    }
    # Part 3: the original's header block, as it came.
    assert original.get_content_type() == "text/rfc822-headers"
    headers = original.get_payload(decode=True)
    assert headers == raw.partition(b"\r\n\r\n")[0] + b"\r\n"
    assert f"Message-ID: {incoming.message_id}".encode() in headers


def test_an_error_mdn_carries_the_ans_code_subject_and_text() -> None:
    raw = asking("stauts PPS-2026-0001")
    incoming = parse_head(raw)
    out = render_mdn(incoming, config=CONFIG, now=NOW, refused=True, raw=raw)
    assert out is not None
    message = read(out.raw)
    assert message["Subject"] == "[KO Intégration système !][906] stauts PPS-2026-0001"
    fields = report_fields(message)
    assert fields["Disposition"] == ("automatic-action/MDN-sent-automatically; "
                                     "processed/Error: 906^Erreur 'Autre'")
    assert fields["Error"] == "906^Erreur 'Autre'"
    assert "Original-Recipient" not in fields  # the mail carried none (RFC 8098 3.2.3)
    text = text_of(message.get_payload()[0])
    # The guide: the human part holds the error's code and label.
    assert "n'a pas pu être intégré automatiquement" in text
    assert f"erreur 906{NBSP}: «{NBSP}Erreur 'Autre'{NBSP}»" in text
    assert f"pour la raison suivante{NBSP}:" in text
    assert "Rien n'a été enregistré." in text


def test_codes_and_dispositions_follow_the_ans_table() -> None:
    assert sorted(ERROR_CODES) == list(range(900, 907))
    assert ERROR_CODES[902] == "Identifiant patient inconnu"
    assert disposition(None) == "automatic-action/MDN-sent-automatically; processed"
    # The report's fields are ASCII: the label's accents are folded there only.
    assert disposition(901) == ("automatic-action/MDN-sent-automatically; processed/Error: "
                                "901^Auteur non autorise a remplacer ou supprimer un document")


@pytest.mark.parametrize(("dnt", "path", "sent"), [
    (CLAIRE, CLAIRE, True),
    (CLAIRE, CLAIRE.upper(), True),                     # compared without case
    (CLAIRE.upper(), CLAIRE, True),
    (CLAIRE, None, False),                              # no Return-Path: none (RFC 8098 2.1)
    (CLAIRE, "", False),                                # null Return-Path
    (CLAIRE, "secretariat@medecin.mssante.test", False),  # differs: a loop risk
    ("autre@medecin.mssante.test", CLAIRE, False),
    ("x@gmail.com", "x@gmail.com", False),              # outside the trusted domains
    (BOT, BOT, False),                                  # never to ourselves
    (None, CLAIRE, False),                              # not asked
])
def test_who_gets_an_mdn(dnt: str | None, path: str | None, sent: bool) -> None:
    if path == "":
        raw = b"Return-Path: <>\r\n" + asking(dnt=dnt, path=None)
    else:
        raw = asking(dnt=dnt, path=path)
    incoming = parse_head(raw)
    assert (receipt_address(incoming, CONFIG) is not None) is sent
    assert (render_mdn(incoming, config=CONFIG, now=NOW, refused=False) is not None) is sent


@pytest.mark.parametrize("field", [
    f"Disposition-Notification-To: {CLAIRE}, paul.girard@medecin.mssante.test\r\n",
    f"Disposition-Notification-To: {CLAIRE}\r\nDisposition-Notification-To: {CLAIRE}\r\n",
    "Disposition-Notification-To: equipe: claire.durand@medecin.mssante.test;\r\n",
    "Disposition-Notification-To: \r\n",
])
def test_several_or_unreadable_request_addresses_get_none(field: str) -> None:
    raw = f"Return-Path: <{CLAIRE}>\r\n".encode() + mail("AIDE", "x", extra=field)
    incoming = parse_head(raw)
    assert incoming.disposition_to is None
    assert render_mdn(incoming, config=CONFIG, now=NOW, refused=False) is None


def test_an_id_that_an_ascii_header_cannot_carry_is_left_out() -> None:
    raw = asking().replace(b"Message-ID: <", "Message-ID: <é".encode(), 1)
    incoming = parse_head(raw)
    out = render_mdn(incoming, config=CONFIG, now=NOW, refused=False, raw=raw)
    assert out is not None
    message = read(out.raw)
    assert "In-Reply-To" not in message and "References" not in message
    assert "Original-Message-ID" not in report_fields(message)
    # 8-bit original headers travel quoted-printable, and come back intact.
    original = message.get_payload()[2]
    assert original["Content-Transfer-Encoding"] == "quoted-printable"
    assert "Message-ID: <é".encode() in original.get_payload(decode=True)


def test_an_accented_subject_and_no_date() -> None:
    raw = asking("Accès à la réunion").replace(b"Date: Mon, 23 Nov 2026 09:12:44 +0100\r\n", b"")
    out = render_mdn(parse_head(raw), config=CONFIG, now=NOW, refused=True)
    assert out is not None
    message = read(out.raw)
    assert message["Subject"] == "[KO Intégration système !][906] Accès à la réunion"
    assert text_of(message.get_payload()[0]).startswith(
        "Bonjour,\n\nVotre message n'a pas pu être intégré")
    assert len(message.get_payload()) == 2  # no raw given: no part 3


def test_the_original_header_block_is_bounded_by_whole_fields() -> None:
    fields = b"".join(b"X-Trace-%d: %s\r\n" % (i, b"a" * 100) for i in range(1000))
    raw = b"Subject: x\r\n" + fields + b"\r\nbody\r\n"
    block = header_block(raw, limit=4096)
    assert len(block) <= 4096 and block.startswith(b"Subject: x\n")
    assert block.endswith(b"a" * 100 + b"\n")  # whole fields only
    folded = b"Subject: one\r\n two\r\nX: y\r\n\r\nbody"
    assert header_block(folded) == b"Subject: one\n two\nX: y\n"
    assert header_block(folded, limit=10) == b""
    assert b"body" not in header_block(b"A: b\r\n\r\nbody\r\n")
    # No end of the block within reach: whole lines only, the cut one left out.
    endless = b"A: b\r\n" + b"X: " + b"y" * 100_000
    assert header_block(endless, limit=1000) == b"A: b\n"


def test_build_refuses_programming_errors() -> None:
    incoming = parse_head(asking())
    common = dict(sender_address=BOT, sender_name="Coordination", to=("", CLAIRE),
                  subject="x", text="x", date=NOW, original=incoming,
                  reporting_ua="esp-valdelorge.mssante.test; esp-coord")
    with pytest.raises(ValueError):
        build_mdn(message_id="no-brackets", **common)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        build_mdn(message_id="<a@b>", error=999, **common)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        build_mdn(message_id="<a@b>", **{**common, "to": ("", "not an address")})  # type: ignore[arg-type]
