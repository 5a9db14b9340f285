"""Hospital letters end to end: a hospital's MSSanté mail with its
IHE_XDM.ZIP, submitted over SMTP from a hospital address into a real Dovecot
mailbox (which writes Return-Path from the envelope), read by the whole
service, answered over SMTP.

Each branch: the letter reaches its plan (the team told, the archive sent
back by DOCUMENT 1, the discharge protocol applied by one line); no plan,
then the plan is created (the letter attached); traits that differ from the
plan's; a replacement; each ANS error code; hostile archives and XML. The
hospital gets its MDN and nothing else.
"""

from __future__ import annotations

import dataclasses
import email
from collections.abc import AsyncIterator
from email import policy
from email.message import EmailMessage, Message

import pytest

from esp_coord.config import DocumentSettings
from tests.e2e.harness import Team, wait_until
from tests.servers.dovecot import BOT, DovecotServer
from tests.servers.smtp_front import Received, SmtpFront
from tests.servers.tls import TLSMaterial
from tests.support.mail import ANA, CLAIRE, JULIEN, mail
from tests.support.xdm import HOSPITAL, Letter, xdm_archive, xdm_mail

NEW_PLAN = ("Patient : PAT-TROIS Dominique\nNée le : 28/03/1979\nINS : 279035121518989\n"
            "Consentement : oui\nÉquipe : Julien MARIE\nProblème : insuffisance cardiaque\n"
            "Action : IDE | surveillance du poids | chaque semaine\n")
# Never in what the hospital reads of the team's side.
TEAM_SIDE = ("PPS-", "Julien", "JULIEN", "Claire", "DURAND", "Ana COSTA")


@pytest.fixture
async def front(dovecot: DovecotServer, tls_material: TLSMaterial) -> AsyncIterator[SmtpFront]:
    """The SMTP front, delivering into Dovecot with the real envelope sender."""

    async def deliver(received: Received) -> None:
        if BOT in received.rcpt_tos:
            await dovecot.deliver(received.content, BOT, mail_from=received.mail_from)

    async with SmtpFront(tls_material, deliver=deliver) as server:
        yield server


@pytest.fixture
async def hospital_team(team: Team) -> Team:
    # The letters carry the ANS's test identity (OID .10): a test setup.
    team.config = dataclasses.replace(team.config,
                                      documents=DocumentSettings(accept_test_ins=True))
    await team.start()
    return team


def sent_to(team: Team, address: str) -> list[EmailMessage]:
    found = []
    for m in team.front.messages:
        if m.mail_from == team.config.bot_address and address in m.rcpt_tos:
            message = email.message_from_bytes(m.content, policy=policy.default)
            assert isinstance(message, EmailMessage)
            found.append(message)
    return found


def is_mdn(message: Message) -> bool:
    return message.get_content_type() == "multipart/report"


def disposition(mdn: Message) -> str:
    part = mdn.get_payload()[1]  # type: ignore[index]
    return str(part.get_payload()[0]["Disposition"])


def text_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    text = str(body.get_content()) if body is not None else ""  # type: ignore[attr-defined]
    return text.replace("\xa0", " ").replace("\u202f", " ").replace("\r\n", "\n")


def letter_mail(letter: Letter | None = None, **kwargs: object) -> bytes:
    return xdm_mail(letter or Letter(), return_path=False, **kwargs)  # type: ignore[arg-type]


async def plan_created(team: Team) -> None:
    sent = await team.submit(mail("NOUVEAU PPS", NEW_PLAN))
    answer = await team.wait_answer(sent)
    assert answer.subject.startswith("[PPS-2026-0001] Plan créé")


async def test_a_discharge_letter_reaches_its_plan_and_the_right_people(
        hospital_team: Team) -> None:
    team = hospital_team
    await plan_created(team)
    archive = xdm_archive()
    await team.submit(letter_mail(archive=archive))
    await wait_until(lambda: sent_to(team, HOSPITAL) and sent_to(team, JULIEN),
                     what="MDN and notice")
    (mdn,) = sent_to(team, HOSPITAL)
    assert is_mdn(mdn) and disposition(mdn).endswith("; processed")
    assert mdn["Subject"].startswith("XDM/1.0/DDM+")
    assert not any(leak in mdn.as_string() for leak in TEAM_SIDE)
    (notice,) = sent_to(team, JULIEN)
    assert notice["Subject"].startswith("[PPS-2026-0001] Nouveau document")
    assert any("Nouveau document" in str(m["Subject"]) for m in sent_to(team, CLAIRE))
    assert not any("Nouveau document" in str(m["Subject"]) for m in sent_to(team, ANA))
    body = text_of(notice)
    assert "DOCUMENT 1" in body and "MAJ Protocole : sortie-hospitalisation" in body
    # The nurse asks for it in reply: the original archive comes back.
    reply = mail(f"RE: {notice['Subject']}", "DOCUMENT 1", sender=JULIEN, name="Julien MARIE",
                 extra=f"In-Reply-To: {notice['Message-ID']}\r\n")
    sent = await team.submit(reply)
    answer = await team.wait_answer(sent)
    (zipped,) = [a for a in answer.attachments if a.filename == "IHE_XDM.ZIP"]
    back = next(m for m in sent_to(team, JULIEN)
                if any(p.get_filename() == "IHE_XDM.ZIP" for p in m.walk()))
    (part,) = [p for p in back.walk() if p.get_filename() == "IHE_XDM.ZIP"]
    assert part.get_payload(decode=True) == archive and zipped.size == len(archive)
    # And applies the discharge protocol with one line.
    apply = mail(f"RE: {notice['Subject']}", "MAJ Protocole : sortie-hospitalisation",
                 sender=JULIEN, name="Julien MARIE",
                 extra=f"In-Reply-To: {notice['Message-ID']}\r\n")
    sent = await team.submit(apply)
    answer = await team.wait_answer(sent)
    assert "mis à jour" in answer.subject and "conciliation" in answer.text
    await wait_until(lambda: team.settled(), what="settled")
    # The hospital got its MDN, and nothing else.
    assert len(sent_to(team, HOSPITAL)) == 1


async def test_no_plan_then_the_plan_is_created(hospital_team: Team) -> None:
    team = hospital_team
    await team.submit(letter_mail())
    await wait_until(lambda: sent_to(team, HOSPITAL) and sent_to(team, ANA),
                     what="MDN and notice")
    (mdn,) = sent_to(team, HOSPITAL)
    assert "processed/Error: 902^Identifiant patient inconnu" in disposition(mdn)
    assert mdn["Subject"].startswith("[KO Intégration système !][902] XDM/1.0/DDM+")
    (notice,) = sent_to(team, ANA)
    assert notice["Subject"] == "Nouveau document pour une personne sans plan"
    assert "INS : 2 79 03 51 215 189 89" in text_of(notice)
    assert any(m["Subject"] == notice["Subject"] for m in sent_to(team, CLAIRE))
    await plan_created(team)
    await wait_until(lambda: [m for m in sent_to(team, JULIEN)
                              if "Nouveau document" in str(m["Subject"])],
                     what="the letter attached")
    (attached,) = [m for m in sent_to(team, JULIEN) if "Nouveau document" in str(m["Subject"])]
    assert "reçu avant la création du plan PPS-2026-0001" in text_of(attached)


async def test_traits_that_differ_from_the_plan_are_never_merged(hospital_team: Team) -> None:
    team = hospital_team
    await plan_created(team)
    await team.submit(letter_mail(Letter(birth_name="PAT-QUATRE", used_name="PAT-QUATRE")))
    await wait_until(lambda: sent_to(team, HOSPITAL), what="MDN")
    assert "processed/Error: 904^" in disposition(sent_to(team, HOSPITAL)[0])
    await wait_until(lambda: [m for m in sent_to(team, ANA)
                              if "Échec du rattachement" in str(m["Subject"])], what="notice")
    assert not [m for m in sent_to(team, JULIEN) if "Nouveau document" in str(m["Subject"])]


async def test_a_replacement_replaces_the_stored_letter(hospital_team: Team) -> None:
    team = hospital_team
    await plan_created(team)
    await team.submit(letter_mail())
    await wait_until(lambda: sent_to(team, HOSPITAL), what="first MDN")
    fixed = Letter(doc_ext="LDL-0002", version=2, replaces="1.2.250.1.213.1.1.1.29.1^LDL-0001",
                   title="Lettre de liaison (version corrigée)")
    await team.submit(letter_mail(fixed, replacement=True))
    await wait_until(lambda: len(sent_to(team, HOSPITAL)) == 2, what="second MDN")
    assert disposition(sent_to(team, HOSPITAL)[1]).endswith("; processed")
    await wait_until(lambda: [m for m in sent_to(team, JULIEN)
                              if "Nouvelle version" in str(m["Subject"])], what="notice")
    assert team.service is not None
    (doc,) = await team.service.store.run(lambda tx: tx.received_for_plan("PPS-2026-0001"))
    assert (doc.number, doc.version) == (1, 2)


def _bomb() -> bytes:
    return xdm_archive(Letter(extra_entries={"IHE_XDM/SUBSET01/PAD.TXT": bytes(16 * 2**20)}))


HOSTILE = {
    "zip bomb": _bomb,
    "path outside": lambda: xdm_archive(Letter(extra_entries={"IHE_XDM/../../x.txt": b"x"})),
    "nested archive": lambda: xdm_archive(Letter(extra_entries={"INNER.ZIP": b"PK\x03\x04"})),
    "billion laughs": lambda: xdm_archive(metadata=(
        b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]>'
        b"<l>&c;</l>")),
    "external entity": lambda: xdm_archive(cda=(
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        b"<ClinicalDocument>&e;</ClinicalDocument>")),
    "not a zip": lambda: b"PK\x03\x04" + b"\xff" * 2000,
}


async def test_each_error_code_and_hostile_archives(hospital_team: Team) -> None:
    team = hospital_team
    await plan_created(team)
    cases: list[tuple[bytes, int]] = [
        (letter_mail(Letter(cda_has_ins=False)), 903),
        (letter_mail(Letter(meta_ins="185061545813600")), 904),
        (letter_mail(Letter(sex="U", meta_traits=False)), 905),
        *[(letter_mail(archive=make()), 906) for make in HOSTILE.values()],
    ]
    for raw, _ in cases:
        await team.submit(raw)
    await wait_until(lambda: len(sent_to(team, HOSPITAL)) == len(cases), timeout=60,
                     what="one MDN per letter")
    await wait_until(lambda: team.settled(), what="settled")
    by_code: dict[int, int] = {}
    for mdn in sent_to(team, HOSPITAL):
        assert is_mdn(mdn)
        code = int(disposition(mdn).split("Error: ")[1][:3])
        assert mdn["Subject"].startswith(f"[KO Intégration système !][{code}]")
        by_code[code] = by_code.get(code, 0) + 1
    assert by_code == {903: 1, 904: 1, 905: 1, 906: len(HOSTILE)}
    # The hostile ones are kept in quarantine; nothing of them was stored.
    assert await team.dovecot.folder_count("Quarantaine") == len(HOSTILE)
    assert team.service is not None
    assert await team.service.store.run(lambda tx: tx.received_for_plan("PPS-2026-0001")) == []


async def test_a_correspondent_never_gets_an_answer_to_anything_else(
        hospital_team: Team) -> None:
    team = hospital_team
    sent = await team.submit(mail("AIDE", "AIDE", sender=HOSPITAL, name="Cardiologie HEGP"))
    assert await team.wait_outcome(sent) == "quarantined"
    await wait_until(lambda: team.settled(), what="settled")
    assert sent_to(team, HOSPITAL) == []
