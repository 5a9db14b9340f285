"""build_mail: threading, no header injection, escaped HTML, round trip."""

from __future__ import annotations

import email
import re
from datetime import UTC, datetime
from email import policy

import pytest

from esp_coord.intake import parse_mail
from esp_coord.outgoing import OutAttachment, build_mail, make_message_id

BOT = "coordination@esp-valdelorge.mssante.test"
WHEN = datetime(2026, 11, 24, 18, 5, tzinfo=UTC)
ICS = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\n"
    b"UID:RCP-2026-001@esp-valdelorge.mssante.test\r\nSUMMARY:RCP\r\n"
    b"END:VEVENT\r\nEND:VCALENDAR\r\n"
)


def build(**overrides: object) -> bytes:
    args: dict[str, object] = {
        "sender_address": BOT,
        "sender_name": "ESP du Val de Lorge",
        "to": [("Julien MARIE", "julien.marie@infirmier.mssante.test")],
        "subject": "[PPS-2026-0001] Plan créé - MARTIN Jeanne",
        "text": "Bonjour,\n\nPlan PPS-2026-0001 créé pour MARTIN Jeanne.\nÉquipe : « IDE »\n",
        "message_id": make_message_id("esp-valdelorge.mssante.test", "PPS-2026-0001.ack"),
        "date": WHEN,
    }
    args.update(overrides)
    return build_mail(**args)  # type: ignore[arg-type]


def header_names(raw: bytes) -> list[str]:
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    return [
        line.split(":", 1)[0] for line in head.split("\r\n") if not line.startswith((" ", "\t"))
    ]


def test_make_message_id() -> None:
    first = make_message_id("esp-valdelorge.mssante.test", "PPS-2026-0001.ack")
    assert re.fullmatch(r"<PPS-2026-0001\.ack\.[0-9a-f]{32}@esp-valdelorge\.mssante\.test>", first)
    assert first != make_message_id("esp-valdelorge.mssante.test", "PPS-2026-0001.ack")
    hostile = make_message_id("x.test>\r\nBcc: a@b", "a b<>\r\n@é..x")
    assert re.fullmatch(r"<ab\.x\.[0-9a-f]{32}@x\.testBcca[a-z0-9]*>", hostile), hostile
    assert re.fullmatch(r"<[0-9a-f]{32}@x\.test>", make_message_id("x.test"))


def test_round_trip_through_parse_mail() -> None:
    raw = build()
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    mail = parse_mail(raw)
    assert mail.from_address == BOT
    assert mail.from_name == "ESP du Val de Lorge"
    assert mail.subject == "[PPS-2026-0001] Plan créé - MARTIN Jeanne"
    assert mail.date == WHEN
    assert (
        mail.text == "Bonjour,\n\nPlan PPS-2026-0001 créé pour MARTIN Jeanne.\nÉquipe : « IDE »\n"
    )
    assert mail.automatic == "Auto-Submitted: auto-replied"
    assert mail.defects == ()
    names = header_names(raw)
    for name in (
        "From",
        "To",
        "Subject",
        "Date",
        "Message-ID",
        "Auto-Submitted",
        "X-Auto-Response-Suppress",
        "MIME-Version",
        "Content-Type",
    ):
        assert names.count(name) == 1, name
    assert "Bcc" not in names and "In-Reply-To" not in names


def test_threading_headers(example_messages: dict[str, bytes]) -> None:
    incoming = parse_mail(example_messages["02-maj-pps-reponse"])
    raw = build(reply_to_mail=incoming, auto_submitted="auto-replied")
    mail = parse_mail(raw)
    assert mail.in_reply_to == ("<CAJm5xYz.20261124180310@infirmier.mssante.test>",)
    assert mail.references == (
        "<20261123091244.4411@medecin.mssante.test>",
        "<PPS-2026-0001.ack.1@esp-valdelorge.mssante.test>",
        "<CAJm5xYz.20261124180310@infirmier.mssante.test>",
    )
    generated = parse_mail(build(auto_submitted="auto-generated"))
    assert generated.automatic == "Auto-Submitted: auto-generated"
    with pytest.raises(ValueError):
        build(auto_submitted="no")


def test_long_message_ids_are_folded_not_encoded() -> None:
    long_id = "<" + "a" * 90 + "@" + "mail.gmail.test>"
    incoming = parse_mail(
        f"From: x@y.test\r\nMessage-ID: {long_id}\r\n"
        f"References: <r1@x.test> {long_id}\r\n\r\nx".encode()
    )
    raw = build(reply_to_mail=incoming)
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.count(long_id.encode()) == 2  # In-Reply-To and References, whole
    mail = parse_mail(raw)
    assert mail.in_reply_to == (long_id,)
    assert mail.references == ("<r1@x.test>", long_id)


def test_header_injection_in_subject_and_names() -> None:
    raw = build(
        subject="Plan\r\nBcc: victim@evil.test\nX-Evil: 1",
        sender_name="ESP\r\nBcc: victim@evil.test",
        to=[
            ('Julien "MARIE"\r\nBcc: victim@evil.test', "julien.marie@infirmier.mssante.test"),
            ("Evil <evil@evil.test>, x@evil.test", "ana.costa@esp-valdelorge.mssante.test"),
        ],
    )
    names = header_names(raw)
    assert "Bcc" not in names and "X-Evil" not in names
    parsed = email.message_from_bytes(raw, policy=policy.default)
    to = parsed["To"].addresses
    assert [a.addr_spec for a in to] == [
        "julien.marie@infirmier.mssante.test",
        "ana.costa@esp-valdelorge.mssante.test",
    ]
    assert to[0].display_name == 'Julien "MARIE" Bcc: victim@evil.test'
    assert parse_mail(raw).subject == "Plan Bcc: victim@evil.test X-Evil: 1"
    with pytest.raises(ValueError):
        build(to=[("X", "julien@x.test\r\nBcc: victim@evil.test")])
    with pytest.raises(ValueError):
        build(to=[("X", "a@x.test, b@y.test")])
    with pytest.raises(ValueError):
        build(message_id="<x@y>\r\nBcc: v@evil.test")
    with pytest.raises(ValueError):
        build(to=[])


def test_html_version_is_escaped_text() -> None:
    raw = build(text='Note : <script>alert("x")</script> & <b>gras</b>\n\nFin « ok »')
    parsed = email.message_from_bytes(raw, policy=policy.default)
    html_part = parsed.get_body(preferencelist=("html",))
    assert html_part is not None
    html = html_part.get_content()
    assert "<script>" not in html and "<b>gras" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;gras&lt;/b&gt;" in html
    assert "Fin « ok »" in html
    assert html.count("<p ") == 2
    plain = parsed.get_body(preferencelist=("plain",))
    assert plain is not None and plain.get_content_charset() == "utf-8"
    assert parse_mail(raw).text.startswith('Note : <script>alert("x")</script>')


def test_french_accents_and_typography_survive() -> None:
    text = "Réévaluation\u00a0: 15/05/2027\nÇa marche\u202f!\n"
    raw = build(text=text, sender_name="Équipe de soins", subject="Réponse à « statut »")
    mail = parse_mail(raw)
    assert mail.text == text
    assert mail.from_name == "Équipe de soins"
    assert mail.subject == "Réponse à « statut »"
    raw.decode("ascii")  # 7-bit clean: every accent is encoded


def test_icalendar_invitation_attached_and_inline() -> None:
    invitation = OutAttachment(
        "invitation RCP.ics", "text/calendar; method=REQUEST", ICS, inline_alternative=True
    )
    report = OutAttachment("plan.pdf", "application/pdf", b"%PDF-1.7 fake")
    raw = build(attachments=[invitation, report])
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert parsed.get_content_type() == "multipart/mixed"
    alternative = parsed.get_payload()[0]
    assert alternative.get_content_type() == "multipart/alternative"
    kinds = [p.get_content_type() for p in alternative.get_payload()]
    assert kinds == ["text/plain", "text/html", "text/calendar"]
    inline = alternative.get_payload()[2]
    assert inline.get_param("method") == "REQUEST"
    assert inline.get_content().replace("\r\n", "\n") == ICS.decode().replace("\r\n", "\n")
    attached = [p for p in parsed.iter_attachments()]
    assert [(p.get_filename(), p.get_content_type()) for p in attached] == [
        ("invitation RCP.ics", "text/calendar"),
        ("plan.pdf", "application/pdf"),
    ]
    assert attached[0].get_payload(decode=True) == ICS
    assert attached[1].get_content() == b"%PDF-1.7 fake"
    mail = parse_mail(raw)
    assert ("invitation RCP.ics", "text/calendar", len(ICS)) in [
        (a.filename, a.content_type, a.size) for a in mail.attachments
    ]
    assert mail.body.startswith("Bonjour,")
