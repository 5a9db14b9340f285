"""parse_mail on the example mails of ../shared/examples/messages."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from esp_coord.intake import IncomingMail, message_key, parse_mail

NBSP = "\u00a0"


@pytest.fixture(scope="module")
def parsed(example_messages: dict[str, bytes]) -> dict[str, IncomingMail]:
    return {stem: parse_mail(raw) for stem, raw in example_messages.items()}


def test_plain_utf8_body_stops_at_signature(parsed: dict[str, IncomingMail]) -> None:
    mail = parsed["01-nouveau-pps"]
    assert mail.message_id == "<20261123091244.4411@medecin.mssante.test>"
    assert mail.dedup_key == message_key("claire.durand@medecin.mssante.test",
                                         "<20261123091244.4411@medecin.mssante.test>")
    assert mail.from_address == "claire.durand@medecin.mssante.test"
    assert mail.from_name == "Claire DURAND"
    assert mail.subject == "NOUVEAU PPS"
    assert mail.date == datetime(2026, 11, 23, 9, 12, 44, tzinfo=timezone(timedelta(hours=1)))
    lines = mail.body.split("\n")
    assert lines[0] == "Patient : MARTIN Jeanne"
    assert lines[1] == "Née le : 12/03/1948"
    assert lines[-1] == "Réévaluation : 15/05/2027"
    assert "Dr Claire Durand" not in mail.body
    assert "Dr Claire Durand" in mail.text
    assert mail.automatic is None
    assert mail.too_large is None
    assert mail.attachments == ()
    assert mail.return_path is None


def test_reply_keeps_only_the_lines_above_the_quote(parsed: dict[str, IncomingMail]) -> None:
    mail = parsed["02-maj-pps-reponse"]
    assert mail.body == (
        "MAJ\n"
        "Action : IDE | éducation à l'autosurveillance glycémique | 01/12/2026\n"
        "Note : patiente motivée, fille présente le mercredi"
    )
    assert mail.in_reply_to == ("<PPS-2026-0001.ack.1@esp-valdelorge.mssante.test>",)
    assert mail.references == (
        "<20261123091244.4411@medecin.mssante.test>",
        "<PPS-2026-0001.ack.1@esp-valdelorge.mssante.test>",
    )
    assert mail.subject == "RE: [PPS-2026-0001] Plan créé - MARTIN Jeanne"
    assert "a écrit" in mail.text


def test_sign_off_without_separator_is_kept(parsed: dict[str, IncomingMail]) -> None:
    assert parsed["03-statut-reponse"].body == "statut\n\nAna"


def test_html_only_outlook_mail_reads_like_plain_text(parsed: dict[str, IncomingMail]) -> None:
    mail = parsed["07-html-outlook"]
    lines = mail.body.split("\n")
    assert lines[:6] == [
        f"Patient{NBSP}: PETIT Odette",
        f"Née le{NBSP}: 25 juin 1941",
        f"INS{NBSP}: 241062A00402743",
        f"Consentement{NBSP}: OUI",
        f"Problème{NBSP}: soins palliatifs à domicile, cancer du pancréas",
        f"Objectif{NBSP}: maintien à domicile selon le souhait de la patiente",
    ]
    assert lines[6] == f"- Action{NBSP}: IDE | évaluation de la douleur | tous les jours"
    assert lines[7] == f"- Action{NBSP}: Dr GIRARD | visite à domicile | chaque lundi"
    assert lines[8:] == ["", "Dr Paul Girard"]
    assert "<" not in mail.text and "MsoNormal" not in mail.text
    assert mail.from_name == "GIRARD Paul"
    assert mail.date is not None and mail.date.utcoffset() == timedelta(0)


def test_out_of_office_is_automatic(parsed: dict[str, IncomingMail]) -> None:
    assert parsed["09-absence-auto"].automatic == "Auto-Submitted: auto-replied"
    others = {stem: m.automatic for stem, m in parsed.items() if stem != "09-absence-auto"}
    assert set(others.values()) == {None}


def test_latin1_quoted_printable_and_encoded_subject(parsed: dict[str, IncomingMail]) -> None:
    mail = parsed["10-latin1-qp"]
    assert mail.subject == "MAJ PPS-2026-0001"
    assert mail.body.split("\n") == [
        "PROBLEME : plaie du talon droit, apparue le 28/11",
        "ACTION : IDE | pansement du talon | tous les 2 jours jusqu'au 31/12/2026",
        "NOTE : prévenir le médecin si signes d'infection",
    ]


def test_every_example_is_clean(parsed: dict[str, IncomingMail]) -> None:
    assert len(parsed) == 10
    for mail in parsed.values():
        assert mail.defects == ()
        assert mail.from_address.endswith(".mssante.test")
        assert mail.dedup_key == message_key(mail.from_address, mail.message_id or "")
        assert mail.body and mail.text.startswith(mail.body.split("\n")[0])


def test_bytearray_as_from_imap(example_messages: dict[str, bytes]) -> None:
    raw = example_messages["05-fait"]
    assert parse_mail(bytearray(raw)) == parse_mail(raw)
