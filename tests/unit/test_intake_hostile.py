"""parse_mail on broken, hostile and unusual mail: it never raises."""

from __future__ import annotations

import base64

from esp_coord.intake import parse_mail
from esp_coord.intake.automatic import automatic_subject
from tests.cost import peak_bytes

HEAD = (
    b"From: Julien MARIE <julien.marie@infirmier.mssante.test>\r\n"
    b"To: coordination@esp-valdelorge.mssante.test\r\n"
    b"Date: Tue, 24 Nov 2026 18:03:10 +0100\r\n"
    b"Message-ID: <hostile-1@infirmier.mssante.test>\r\n"
)


def plain(body: bytes, *, headers: bytes = b"", charset: bytes = b"utf-8") -> bytes:
    return (
        HEAD
        + headers
        + b"Subject: test\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset="
        + charset
        + b"\r\n\r\n"
        + body
    )


def test_crlf_in_encoded_subject_never_survives() -> None:
    raw = HEAD + b"Subject: =?utf-8?q?Bonjour=0D=0ABcc:_evil@x.test=0A?= fin\r\n\r\nx"
    mail = parse_mail(raw)
    assert mail.subject == "Bonjour Bcc: evil@x.test fin"
    for field in (mail.subject, mail.from_name, mail.from_address, mail.message_id or ""):
        assert "\r" not in field and "\n" not in field


def test_bare_cr_and_controls_in_headers() -> None:
    raw = HEAD + b"Subject: a\rb\x00c\x1b[31m\t d\r\n\r\nx"
    mail = parse_mail(raw)
    assert "\r" not in mail.subject and "\x00" not in mail.subject and "\x1b" not in mail.subject


def test_raw_utf8_and_unknown_charset_in_subject() -> None:
    raw = HEAD + "Subject: Réunion =?x-inconnu?q?caf=E9?= =?utf-8?b?w6k=?=\r\n\r\nx".encode()
    assert parse_mail(raw).subject == "Réunion caféé"


def test_encoded_words_split_inside_a_character() -> None:
    # "é" is C3 A9 in UTF-8; a sender split it across two words.
    raw = HEAD + b"Subject: =?utf-8?q?caf=C3?= =?utf-8?q?=A9?=\r\n\r\nx"
    assert parse_mail(raw).subject == "café"


def test_multipart_report_dsn_is_automatic() -> None:
    raw = (
        b"From: Mail Delivery System <MAILER-DAEMON@relay.mssante.test>\r\n"
        b"Return-Path: <>\r\n"
        b"To: coordination@esp-valdelorge.mssante.test\r\n"
        b"Subject: Undelivered Mail Returned to Sender\r\n"
        b"Message-ID: <dsn-1@relay.mssante.test>\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        b"--B\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
        b"--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        b"Reporting-MTA: dns; relay.mssante.test\r\n\r\n"
        b"Final-Recipient: rfc822; nobody@x.test\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        b"--B\r\nContent-Type: text/rfc822-headers\r\n\r\nSubject: hello\r\n"
        b"--B--\r\n"
    )
    mail = parse_mail(raw)
    assert mail.return_path == ""
    assert mail.automatic == "null Return-Path (bounce)"
    assert mail.body == "Delivery failed."
    no_return_path = parse_mail(raw.replace(b"Return-Path: <>\r\n", b""))
    assert no_return_path.automatic is not None
    assert "multipart/report" in no_return_path.automatic
    assert [a.content_type for a in mail.attachments] == [
        "message/delivery-status",
        "text/rfc822-headers",
    ]


def test_automatic_headers_one_by_one() -> None:
    cases = {
        b"Auto-Submitted: auto-generated\r\n": "Auto-Submitted",
        b"X-Autoreply: yes\r\n": "X-Autoreply",
        b"X-Autorespond: yes\r\n": "X-Autorespond",
        b"Precedence: bulk\r\n": "Precedence",
        b"Precedence: junk\r\n": "Precedence",
        b"Precedence: auto_reply\r\n": "Precedence",
        b"List-Id: <equipe.lists.test>\r\n": "List-Id",
        b"List-Unsubscribe: <mailto:u@x.test>\r\n": "List-Unsubscribe",
        b"X-MS-Exchange-Generated-Message-Source: Mailbox Rules Agent\r\n": "Exchange",
        b"Content-Type: multipart/report; report-type=disposition-notification;"
        b' boundary="b"\r\n': "multipart/report",
    }
    for header, expected in cases.items():
        reason = parse_mail(HEAD + b"Subject: x\r\n" + header + b"\r\nbody").automatic
        assert reason is not None and expected in reason, header


def test_not_automatic() -> None:
    for header in (
        b"Auto-Submitted: no\r\n",
        b"X-Auto-Response-Suppress: All\r\n",
        b"Precedence: first-class\r\n",
        b"Return-Path: <julien.marie@infirmier.mssante.test>\r\n",
    ):
        assert parse_mail(HEAD + b"Subject: x\r\n" + header + b"\r\nbody").automatic is None
    assert (
        parse_mail(
            HEAD + b"Return-Path: <Julien.Marie@Infirmier.mssante.test>\r\n\r\nx"
        ).return_path
        == "julien.marie@infirmier.mssante.test"
    )


def test_automatic_subject_prefixes_are_a_weak_sign_only() -> None:
    for subject in (
        "Réponse automatique : [PPS-2026-0001] Rappel",
        "Out of Office: RCP",
        "Automatic reply: RCP",
        "Message d'absence",
    ):
        assert automatic_subject(subject), subject
        # A subject alone never silences a member: the handlers decide, with
        # the commands of the mail (esp_coord.handlers).
        raw = HEAD + f"Subject: {subject}\r\n\r\nx".encode()
        assert parse_mail(raw).automatic is None, subject
    # A professional may well write about a patient's absence.
    assert automatic_subject("Absence de Mme MARTIN à la séance") is None


def test_outlook_french_reply_header_block_is_cut() -> None:
    body = (
        "FAIT 3\n"
        "Séance faite.\n"
        "\n"
        "________________________________\n"
        "De : Coordination ESP <coordination@esp-valdelorge.mssante.test>\n"
        "Envoyé : mardi 24 novembre 2026 18:05\n"
        "À : Karim BENALI <karim.benali@mk.mssante.test>\n"
        "Objet : [PPS-2026-0001] Rappel\n"
        "\n"
        "Patient : MARTIN Jeanne\n"
    )
    mail = parse_mail(plain(body.encode()))
    assert mail.body == "FAIT 3\nSéance faite."
    without_rule = body.replace("________________________________\n", "")
    assert parse_mail(plain(without_rule.encode())).body == "FAIT 3\nSéance faite."
    english = (
        body.replace("De :", "From:").replace("Envoyé :", "Sent:").replace("Objet :", "Subject:")
    )
    assert parse_mail(plain(english.encode())).body == "FAIT 3\nSéance faite."


def test_original_message_separator_and_mobile_footer() -> None:
    body = "statut\n\n-----Original Message-----\nFrom: x\nstatut PPS-2026-0002\n"
    assert parse_mail(plain(body.encode())).body == "statut"
    body = "statut\n\nEnvoyé de mon iPhone\n\n> Le plan\n"
    assert parse_mail(plain(body.encode())).body == "statut"


def test_bottom_posting_keeps_line_numbers() -> None:
    body = (
        "Le 23/11/2026 à 09:13, coordination@esp-valdelorge.mssante.test a écrit :\n"
        "> Plan PPS-2026-0001 créé.\n"
        "> Actions :\n"
        "\n"
        "FAIT 3\n"
        "-- \n"
        "Karim\n"
    )
    mail = parse_mail(plain(body.encode()))
    assert mail.body == "\n\n\n\nFAIT 3"
    assert mail.body.split("\n")[4] == mail.text.split("\n")[4] == "FAIT 3"


def test_gmail_attribution_wrapped_over_two_lines() -> None:
    body = (
        "statut\n\n"
        "Le lun. 23 nov. 2026 à 09:13, Coordination ESP <\n"
        "coordination@esp-valdelorge.mssante.test> a écrit :\n\n"
        "> Plan créé\n"
    )
    assert parse_mail(plain(body.encode())).body == "statut"
    english = "statut\n\nOn Mon, Nov 23, 2026 at 9:13 AM Coordination <c@x.test> wrote:\n> x\n"
    assert parse_mail(plain(english.encode())).body == "statut"


def test_format_flowed_lines_are_joined() -> None:
    body = (
        b"Action : kin=C3=A9 | r=C3=A9=C3=A9ducation =C3=A0 la marche, pr=C3=A9vention \r\n"
        b"des chutes | 2 fois par semaine\r\n"
        b" From here\r\n"
        b"-- \r\nsig\r\n"
    )
    raw = (
        HEAD
        + b"Subject: x\r\nContent-Type: text/plain; charset=utf-8; format=flowed\r\n"
        + b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        + body
    )
    mail = parse_mail(raw)
    assert mail.body.split("\n") == [
        "Action : kiné | rééducation à la marche, prévention des chutes | 2 fois par semaine",
        "From here",
    ]


def test_invalid_and_dangerous_charset_names() -> None:
    for charset in (b"x-foobar", b"base64", b"rot13", b"zlib", b"idna", b'"', b"\xff\xfe"):
        mail = parse_mail(plain("pr\u00e9venir".encode("latin-1"), charset=charset))
        assert mail.body == "prévenir", charset
    assert parse_mail(plain("déjà".encode(), charset=b"us-ascii")).body == "déjà"
    assert parse_mail(plain(b"caf\x80", charset=b"iso-8859-1")).body == "caf€"


def test_missing_headers_and_empty_input() -> None:
    for raw in (b"", b"\r\n\r\n", b"no header at all", b"\n\nhello", b"From:\r\n\r\n"):
        mail = parse_mail(raw)
        assert mail.from_address == ""
        assert mail.message_id is None
        assert mail.dedup_key.startswith("sha256:")
        assert mail.date is None
        assert mail.size == len(raw)
    assert parse_mail(b"Message-ID: <>\r\n\r\n").dedup_key.startswith("sha256:")
    assert parse_mail(b"Message-ID:  Abc@X  \r\n\r\n").message_id == "<Abc@X>"


def test_ambiguous_or_spoofed_sender_is_empty() -> None:
    two_mailboxes = b"From: a@x.test, b@y.test\r\nSubject: x\r\n\r\nx"
    assert parse_mail(two_mailboxes).from_address == ""
    two_fields = b"From: a@x.test\r\nFrom: b@y.test\r\n\r\nx"
    assert parse_mail(two_fields).from_address == ""
    smuggled = (
        b"From: =?utf-8?q?claire.durand=40medecin.mssante.test_=3Cclaire.durand=40"
        b"medecin.mssante.test=3E?= <attacker@evil.test>\r\n\r\nx"
    )
    mail = parse_mail(smuggled)
    assert mail.from_address == "attacker@evil.test"
    assert (
        mail.from_name == "claire.durand@medecin.mssante.test <claire.durand@medecin.mssante.test>"
    )
    assert parse_mail(b"From: no address here\r\n\r\nx").from_address == ""


def test_garbage_dates() -> None:
    for date in (b"not a date", b"Mon, 99 Foo 99999 99:99:99 +9999", b"", b"-0000"):
        assert parse_mail(b"Date: " + date + b"\r\n\r\nx").date is None
    naive = parse_mail(b"Date: Mon, 23 Nov 2026 09:12:44 -0000\r\n\r\nx").date
    assert naive is not None and naive.tzinfo is not None


def test_message_over_the_limit_parses_headers_only() -> None:
    raw = plain(b"A" * (30 * 2**20))
    mail = parse_mail(raw)
    assert mail.too_large == "le message fait 30,0 Mo, au-delà de la limite de 25 Mo"
    assert mail.text == "" and mail.body == ""
    assert mail.from_address == "julien.marie@infirmier.mssante.test"
    assert mail.message_id == "<hostile-1@infirmier.mssante.test>"
    # The body is never parsed: parsing a mail whole allocates about ten times
    # its size, one copy of the bytes at most is allowed here.
    assert peak_bytes(parse_mail, raw) < 2 * len(raw)
    small = parse_mail(plain(b"x" * 2000), max_message_bytes=1000)
    assert small.too_large is not None and small.too_large.startswith("le message fait 0,")


def _nested(levels: int) -> bytes:
    part = b"Content-Type: text/plain\r\n\r\nau fond\r\n"
    for level in range(levels):
        boundary = b"b%d" % level
        part = (
            b'Content-Type: multipart/mixed; boundary="' + boundary + b'"\r\n\r\n'
            b"--" + boundary + b"\r\n" + part + b"\r\n--" + boundary + b"--\r\n"
        )
    return HEAD + b"Subject: deep\r\nMIME-Version: 1.0\r\n" + part


def test_deep_nesting_is_capped_and_fast() -> None:
    for levels in (200, 3000):
        mail = parse_mail(_nested(levels))
        assert "mime-too-complex" in mail.defects
        assert mail.from_address == "julien.marie@infirmier.mssante.test"
    assert parse_mail(_nested(10)).body == "au fond"


def test_attachments_are_measured_not_decoded() -> None:
    payload = bytes(range(256)) * 4200  # 1 075 200 bytes: 1,03 Mo
    encoded = base64.encodebytes(payload)
    raw = (
        HEAD + b"Subject: pj\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="M"\r\n\r\n'
        b"--M\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nCi-joint.\r\n"
        b"--M\r\nContent-Type: application/zip\r\n"
        b'Content-Disposition: attachment; filename="IHE_XDM.ZIP"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + encoded + b"\r\n"
        b"--M\r\nContent-Type: application/pdf; name*=utf-8''compte%20rendu%C3%A9.pdf\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n%PDF=3D=0A\r\n"
        b"--M--\r\n"
    )
    mail = parse_mail(raw, max_attachment_bytes=2**20)
    assert mail.body == "Ci-joint."
    assert [(a.filename, a.content_type) for a in mail.attachments] == [
        ("IHE_XDM.ZIP", "application/zip"),
        ("compte rendué.pdf", "application/pdf"),
    ]
    assert mail.attachments[0].size == len(payload)
    assert mail.attachments[1].size == len(b"%PDF=\n")
    assert mail.too_large == "la pièce jointe n° 1 fait 1,0 Mo, au-delà de la limite de 1 Mo"
    assert parse_mail(raw).too_large is None


def test_html_alternative_is_not_an_attachment_and_plain_wins() -> None:
    raw = (
        HEAD + b"Subject: alt\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/alternative; boundary="A"\r\n\r\n'
        b"--A\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nstatut\r\n"
        b"--A\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>STATUT HTML</p>\r\n"
        b"--A--\r\n"
    )
    mail = parse_mail(raw)
    assert mail.body == "statut"
    assert mail.attachments == ()


def test_text_is_normalised() -> None:
    body = "\ufeffPatient\u00a0: X\r\nNe\u0301e le : 1\u2028INS\x0b: 2\x00\r".encode()
    mail = parse_mail(plain(body))
    assert mail.text.split("\n") == ["Patient\u00a0: X", "Née le : 1", "INS", ": 2", ""]
    assert mail.text.split("\n") == (mail.text + "x").splitlines()[:-1] + [""]


def test_non_utf8_garbage() -> None:
    raw = bytes((i * 37 + 11) % 256 for i in range(5000))
    mail = parse_mail(raw)
    assert mail.dedup_key.startswith("sha256:")
    mail.text.encode("utf-8")
    mail.subject.encode("utf-8")
