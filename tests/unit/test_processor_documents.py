"""Documents from the trust space through the real processor, on the memory
store: a hospital's letter reaches the right plan and the right people, its
sender gets the right acknowledgement, and nothing else leaks."""

from __future__ import annotations

import email
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage, Message
from typing import Any

import pytest

import esp_coord.processing as processing
from esp_coord.bootstrap import make_processor
from esp_coord.config import DocumentSettings
from esp_coord.processing import Processor
from esp_coord.store.memory import MemoryStore
from esp_coord.store.records import OutboxItem
from tests.support.config import offline_config
from tests.support.mail import ANA, CLAIRE, JULIEN, mail
from tests.support.xdm import HOSPITAL, Letter, xdm_archive, xdm_mail

NOW = datetime(2026, 12, 3, 14, 5, tzinfo=UTC)
PAUL = "paul.girard@medecin.mssante.test"
NEW_PLAN = ("Patient : PAT-TROIS Dominique\nNée le : 28/03/1979\nINS : 279035121518989\n"
            "Consentement : oui\nProblème : insuffisance cardiaque\n"
            "Action : IDE | surveillance du poids | chaque semaine\n")
# What a correspondent must never read back: the plan, the patient, the team.
# (Its MDN's subject and part 3 are its own subject and header block, which
# name the patient as the hospital wrote them: only the team's side is
# checked there.)
LEAKS = ("PPS-", "PAT-TROIS", "Dominique", "DOMINIQUE", "279035", "Julien", "Claire")
TEAM_LEAKS = ("PPS-", "Julien", "JULIEN", "Claire", "DURAND")


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def processor(store: MemoryStore, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> Processor:
    monkeypatch.setattr(processing, "BATCH_HOLD", 3600.0)
    config = offline_config(documents=DocumentSettings(accept_test_ins=True))
    return make_processor(config, store, now=clock)


async def sent(store: MemoryStore) -> list[tuple[OutboxItem, EmailMessage]]:
    items = await store.run(lambda tx: tx.outbox_due(NOW + timedelta(days=400), limit=1000))
    return [(i, email.message_from_bytes(i.raw, policy=policy.default))  # type: ignore[misc]
            for i in items]


def text_of(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            text = str(part.get_content())  # type: ignore[attr-defined]
            # french() puts narrow and no-break spaces before ":" and the like.
            return text.replace("\r\n", "\n").replace("\xa0", " ").replace("\u202f", " ")
    return ""


def disposition(message: Message) -> str:
    return str(message.get_payload()[1].get_payload()[0]["Disposition"])  # type: ignore[index]


async def with_plan(processor: Processor, team: str = "") -> None:
    body = NEW_PLAN + (f"Équipe : {team}\n" if team else "")
    out = await processor.process(mail("NOUVEAU PPS", body))
    assert out.outcome == "answered"


async def received(store: MemoryStore, plan_ref: str = "PPS-2026-0001") -> list[Any]:
    return await store.run(lambda tx: tx.received_for_plan(plan_ref))


async def since(store: MemoryStore, count: int) -> list[tuple[OutboxItem, EmailMessage]]:
    return (await sent(store))[count:]


async def test_a_discharge_letter_reaches_its_plan_and_its_team(
        store: MemoryStore, processor: Processor) -> None:
    await with_plan(processor, team="Julien MARIE")
    before = len(await sent(store))
    out = await processor.process(xdm_mail())
    assert (out.outcome, out.folder, out.receipts) == ("answered", "Traités", 1)
    (doc,) = await received(store)
    assert (doc.number, doc.sender, doc.status) == (1, HOSPITAL, "attached")
    assert doc.meta["title"] == "Lettre de liaison à la sortie de l'établissement de santé"
    archive = await store.run(lambda tx: tx.received_archive(doc.ref))
    assert archive is not None and archive.startswith(b"PK\x03\x04")
    new = await since(store, before)
    notices = [m for _, m in new if m.get_content_type() != "multipart/report"]
    (notice,) = notices
    assert {a.addr_spec for a in notice["To"].addresses} == {CLAIRE, JULIEN}
    assert notice["Subject"].startswith("[PPS-2026-0001] Nouveau document")
    body = text_of(notice)
    assert "PAT-TROIS Dominique (plan PPS-2026-0001)" in body
    assert "Hôpital Européen Georges Pompidou" in body and HOSPITAL in body
    assert "DOCUMENT 1" in body
    # A discharge letter proposes the team's protocol, applied by one line.
    assert "MAJ Protocole : sortie-hospitalisation" in body
    assert "conciliation médicamenteuse" in body
    (receipt,) = [m for _, m in new if m.get_content_type() == "multipart/report"]
    assert receipt["To"].addresses[0].addr_spec == HOSPITAL
    assert disposition(receipt).endswith("; processed")
    assert not str(receipt["Subject"]).startswith("[KO")
    assert not any(leak in text_of(receipt) for leak in LEAKS)
    assert not any(leak in receipt.as_string() for leak in TEAM_LEAKS)


async def test_a_replayed_document_is_not_processed_twice(
        store: MemoryStore, processor: Processor) -> None:
    await with_plan(processor)
    raw = xdm_mail()
    await processor.process(raw)
    count = len(await sent(store))
    again = await processor.process(raw)
    assert again.replayed and len(await sent(store)) == count
    assert len(await received(store)) == 1


async def test_no_plan_keeps_the_document_and_tells_the_coordination(
        store: MemoryStore, processor: Processor) -> None:
    out = await processor.process(xdm_mail())
    assert out.outcome == "answered" and out.receipts == 1
    pending = await store.run(lambda tx: tx.received_pending("279035121518989", NOW))
    assert len(pending) == 1 and pending[0].expires_at == NOW + timedelta(days=30)
    items = await sent(store)
    (notice,) = [m for _, m in items if m.get_content_type() != "multipart/report"]
    # The coordination and the roster's referent physicians.
    assert {a.addr_spec for a in notice["To"].addresses} == {ANA, CLAIRE}
    subject = str(notice["Subject"])
    assert not any(leak in subject for leak in LEAKS)
    body = text_of(notice)
    assert "Nom : PAT-TROIS" in body and "Prénom : Dominique" in body
    assert "Née le : 28/03/1979" in body and "Sexe : F" in body
    assert "INS : 2 79 03 51 215 189 89" in body and "NOUVEAU PPS" in body
    assert "02/01/2027" in body
    (receipt,) = [m for _, m in items if m.get_content_type() == "multipart/report"]
    assert "processed/Error: 902^Identifiant patient inconnu" in disposition(receipt)
    assert str(receipt["Subject"]).startswith("[KO Intégration système !][902] XDM/1.0/DDM+")
    assert not any(leak in text_of(receipt) for leak in LEAKS)


@pytest.mark.parametrize(("letter", "code"), [
    (Letter(cda_has_ins=False), 903),
    (Letter(meta_ins="185061545813600"), 904),
    (Letter(birth="", meta_traits=False), 905),
])
async def test_a_patient_not_established_is_refused_with_its_code(
        store: MemoryStore, processor: Processor, letter: Letter, code: int) -> None:
    await with_plan(processor)
    out = await processor.process(xdm_mail(letter))
    assert (out.outcome, out.folder) == ("answered", "Traités")
    assert await received(store) == []
    items = await sent(store)
    (receipt,) = [m for _, m in items if m.get_content_type() == "multipart/report"]
    assert f"processed/Error: {code}^" in disposition(receipt)
    assert str(receipt["Subject"]).startswith(f"[KO Intégration système !][{code}]")
    (notice,) = [m for _, m in items if "Échec du rattachement" in str(m["Subject"])]
    assert {a.addr_spec for a in notice["To"].addresses} == {ANA}
    assert not any(leak in notice.as_string() for leak in ("PAT-TROIS", "279035"))


async def test_traits_that_differ_from_the_plan_are_never_merged(
        store: MemoryStore, processor: Processor) -> None:
    await with_plan(processor)
    letter = Letter(birth_name="PAT-QUATRE", used_name="PAT-QUATRE")
    out = await processor.process(xdm_mail(letter))
    assert out.receipts == 1 and await received(store) == []
    items = await sent(store)
    (receipt,) = [m for _, m in items if m.get_content_type() == "multipart/report"]
    assert "processed/Error: 904^" in disposition(receipt)
    (notice,) = [m for _, m in items if "Échec du rattachement" in str(m["Subject"])]
    assert str(notice["Subject"]).startswith("[PPS-2026-0001]")
    assert "nom de naissance" in text_of(notice) and "PAT-QUATRE" not in notice.as_string()


async def test_a_hostile_archive_is_an_error_906_in_quarantine(
        store: MemoryStore, processor: Processor) -> None:
    laughs = (b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
              b"<l>&b;</l>")
    out = await processor.process(xdm_mail(archive=xdm_archive(metadata=laughs)))
    assert (out.outcome, out.folder, out.receipts) == ("answered", "Quarantaine", 1)
    items = await sent(store)
    (receipt,) = [m for _, m in items if m.get_content_type() == "multipart/report"]
    assert "processed/Error: 906^Erreur 'Autre'" in disposition(receipt)
    assert any("Échec du rattachement d'un document (erreur 906)" in str(m["Subject"])
               for _, m in items)


async def test_without_an_mdn_request_an_error_is_told_by_an_ordinary_mail(
        store: MemoryStore, processor: Processor) -> None:
    out = await processor.process(xdm_mail(Letter(cda_has_ins=False), receipt=False))
    assert out.receipts == 0
    items = await sent(store)
    ko = [m for _, m in items if str(m["Subject"]).startswith("[KO Intégration système !][903]")]
    (answer,) = ko
    assert answer["To"].addresses[0].addr_spec == HOSPITAL
    assert "INS non présent dans le document" in text_of(answer)
    # Integrated without a request: nothing to the sender at all.
    await with_plan(processor)
    count = len(await sent(store))
    await processor.process(xdm_mail(receipt=False))
    assert not [i for i, _ in await since(store, count) if HOSPITAL in i.recipients]


async def test_a_correspondent_never_sends_commands(
        store: MemoryStore, processor: Processor) -> None:
    # A command, or an announced archive that is not there: quarantined, no answer.
    for raw in (mail("AIDE", "AIDE", sender=HOSPITAL, name="HEGP"),
                xdm_mail(attachment_name="autre.zip"),
                xdm_mail(subject="Lettre de sortie", headers="")):
        out = await processor.process(raw)
        assert (out.outcome, out.answers, out.receipts) == ("quarantined", 0, 0)
    assert await sent(store) == []


async def test_an_untrusted_domain_is_quarantined_whatever_it_carries(
        store: MemoryStore, processor: Processor) -> None:
    out = await processor.process(xdm_mail(sender="secretariat@hopital.example.org"))
    assert (out.outcome, out.answers) == ("quarantined", 0)


async def test_a_replacement_replaces_the_stored_document(
        store: MemoryStore, processor: Processor, clock: Clock) -> None:
    await with_plan(processor)
    await processor.process(xdm_mail())
    count = len(await sent(store))
    clock.now = NOW + timedelta(hours=2)
    fixed = Letter(doc_ext="LDL-0002", version=2, replaces="1.2.250.1.213.1.1.1.29.1^LDL-0001",
                   title="Lettre de liaison (corrigée)")
    out = await processor.process(xdm_mail(fixed, replacement=True))
    assert out.receipts == 1
    (doc,) = await received(store)
    assert (doc.number, doc.version, doc.meta["title"]) == (1, 2, "Lettre de liaison (corrigée)")
    new = await since(store, count)
    (notice,) = [m for _, m in new if m.get_content_type() != "multipart/report"]
    assert str(notice["Subject"]).startswith("[PPS-2026-0001] Nouvelle version d'un document")
    (receipt,) = [m for _, m in new if m.get_content_type() == "multipart/report"]
    assert disposition(receipt).endswith("; processed")


async def test_a_replacement_must_be_a_later_version_from_the_same_organisation(
        store: MemoryStore, processor: Processor) -> None:
    await with_plan(processor)
    await processor.process(xdm_mail())
    same = Letter(doc_ext="LDL-0002", replaces="1.2.250.1.213.1.1.1.29.1^LDL-0001")
    await processor.process(xdm_mail(same, replacement=True))
    other = Letter(doc_ext="LDL-0003", version=3, replaces="1.2.250.1.213.1.1.1.29.1^LDL-0001")
    await processor.process(xdm_mail(other, replacement=True,
                                     sender="secretariat@autre-hopital.mssante.test"))
    receipts = [m for _, m in await sent(store) if m.get_content_type() == "multipart/report"]
    codes = [disposition(m) for m in receipts]
    assert "processed/Error: 900^" in codes[1] and "processed/Error: 901^" in codes[2]
    (doc,) = await received(store)
    assert doc.version == 1


async def test_a_member_may_send_a_document_too(
        store: MemoryStore, processor: Processor) -> None:
    await with_plan(processor)
    out = await processor.process(xdm_mail(sender=PAUL))
    assert out.outcome == "answered"
    (doc,) = await received(store)
    assert doc.sender == PAUL


async def test_a_kept_document_is_attached_when_its_plan_is_created(
        store: MemoryStore, processor: Processor, clock: Clock) -> None:
    await processor.process(xdm_mail())
    clock.now = NOW + timedelta(days=3)
    count = len(await sent(store))
    await with_plan(processor, team="Julien MARIE")
    (doc,) = await received(store)
    assert (doc.number, doc.status, doc.expires_at) == (1, "attached", None)
    new = [m for _, m in await since(store, count)]
    (notice,) = [m for m in new if "Nouveau document" in str(m["Subject"])]
    assert {a.addr_spec for a in notice["To"].addresses} == {CLAIRE, JULIEN}
    body = text_of(notice)
    assert "reçu avant la création du plan PPS-2026-0001" in body and "DOCUMENT 1" in body
    assert "MAJ Protocole : sortie-hospitalisation" in body
    assert await store.run(lambda tx: tx.received_pending("279035121518989", clock.now)) == []


async def test_a_kept_document_with_other_traits_is_not_attached(
        store: MemoryStore, processor: Processor) -> None:
    await processor.process(xdm_mail(Letter(first_given="CAMILLE", given_names="CAMILLE")))
    count = len(await sent(store))
    await with_plan(processor)
    assert await received(store) == []
    new = [m for _, m in await since(store, count)]
    (flag,) = [m for m in new if "Documents en attente non rattachés" in str(m["Subject"])]
    assert {a.addr_spec for a in flag["To"].addresses} == {ANA}
    assert "CAMILLE" not in flag.as_string()


async def test_a_kept_document_is_erased_after_its_days(
        store: MemoryStore, processor: Processor, clock: Clock) -> None:
    await processor.process(xdm_mail())
    (pending,) = await store.run(lambda tx: tx.received_pending("279035121518989", NOW))
    clock.now = NOW + timedelta(days=31)
    await with_plan(processor)
    assert await received(store) == []
    gone = await store.run(lambda tx: tx.received(pending.ref))
    assert gone is not None and gone.status == "expired" and gone.meta == {}
    assert await store.run(lambda tx: tx.received_archive(pending.ref)) is None


async def test_one_line_in_reply_applies_the_discharge_protocol(
        store: MemoryStore, processor: Processor) -> None:
    await with_plan(processor, team="Julien MARIE")
    await processor.process(xdm_mail())
    (item, notice) = next((i, m) for i, m in await sent(store)
                          if "Nouveau document" in str(m["Subject"]))
    reply = mail(f"RE: {notice['Subject']}", "MAJ Protocole : sortie-hospitalisation",
                 sender=JULIEN, name="Julien MARIE",
                 extra=f"In-Reply-To: {item.message_id}\r\n")
    out = await processor.process(reply)
    assert out.outcome == "answered"
    plan = await store.run(lambda tx: tx.load_document("plan", "PPS-2026-0001"))
    assert [p["name"] for p in plan.data["protocols"]] == ["sortie-hospitalisation"]
    whats = [a["what"] for a in plan.data["actions"]]
    assert any("conciliation médicamenteuse" in w for w in whats)


async def test_statut_lists_the_documents_and_document_n_sends_the_archive(
        store: MemoryStore, processor: Processor) -> None:
    await with_plan(processor, team="Julien MARIE")
    archive = xdm_archive()
    await processor.process(xdm_mail(archive=archive))
    count = len(await sent(store))
    await processor.process(mail("STATUT PPS-2026-0001", "", sender=JULIEN, name="Julien MARIE"))
    (status,) = [m for _, m in await since(store, count)]
    body = text_of(status)
    assert "Documents reçus :" in body
    assert ("n° 1 : Lettre de liaison à la sortie de l'établissement de santé du 03/12/2026 "
            "(Charles DAVID, Hôpital Européen Georges Pompidou)") in body
    count = len(await sent(store))
    await processor.process(mail("RE: [PPS-2026-0001] Nouveau document", "DOCUMENT 1",
                                 sender=JULIEN, name="Julien MARIE"))
    (answer,) = [m for _, m in await since(store, count)]
    assert answer["To"].addresses[0].addr_spec == JULIEN
    (part,) = [p for p in answer.walk() if p.get_filename() == "IHE_XDM.ZIP"]
    assert part.get_content_type() == "application/zip"
    assert part.get_payload(decode=True) == archive


async def test_document_n_only_for_those_who_may_read_the_plan(
        store: MemoryStore, processor: Processor) -> None:
    await with_plan(processor)
    await processor.process(xdm_mail())
    count = len(await sent(store))
    # Sophie is on the roster but not on the plan's care team.
    await processor.process(mail("DOCUMENT 1 PPS-2026-0001", "",
                                 sender="sophie.leroy@pharmacien.mssante.test",
                                 name="Sophie LEROY"))
    (answer,) = [m for _, m in await since(store, count)]
    assert not [p for p in answer.walk() if p.get_filename()]
    assert "Je ne trouve pas le plan PPS-2026-0001" in text_of(answer)
    # A number the plan does not have: said, nothing sent.
    count = len(await sent(store))
    await processor.process(mail("DOCUMENT 7 PPS-2026-0001", ""))
    (answer,) = [m for _, m in await since(store, count)]
    assert not [p for p in answer.walk() if p.get_filename()]
    assert "Je ne trouve pas de document n° 7" in text_of(answer)


async def test_a_platform_sending_as_a_robot_is_still_integrated(
        store: MemoryStore, processor: Processor) -> None:
    await with_plan(processor)
    robot = "noreply.pfi@hegp.mssante.test"
    headers = "X-MSS-CODECDA: 11490-0\r\nX-MSS-INS: O\r\nAuto-Submitted: auto-generated\r\n"
    out = await processor.process(xdm_mail(sender=robot, headers=headers))
    assert out.outcome == "answered" and out.receipts == 1
    (doc,) = await received(store)
    assert doc.sender == robot
    # An error to a robot that asked for no MDN: no ordinary mail (no loops).
    count = len(await sent(store))
    await processor.process(xdm_mail(Letter(cda_has_ins=False), sender=robot, headers=headers,
                                     receipt=False))
    assert not [i for i, _ in await since(store, count) if robot in i.recipients]


async def test_a_bounce_of_a_document_sent_back_is_not_a_document(
        store: MemoryStore, processor: Processor) -> None:
    # An automatic mail carrying the archive but announcing nothing.
    raw = xdm_mail(subject="Undelivered Mail Returned to Sender",
                   headers="Auto-Submitted: auto-replied\r\n")
    out = await processor.process(raw)
    assert out.outcome == "ignored" and await sent(store) == []


async def test_the_same_document_sent_twice_is_kept_once(
        store: MemoryStore, processor: Processor) -> None:
    await with_plan(processor)
    await processor.process(xdm_mail())
    count = len(await sent(store))
    out = await processor.process(xdm_mail())  # another Message-ID, the same letter
    assert out.receipts == 1 and len(await received(store)) == 1
    new = await since(store, count)
    assert [disposition(m).endswith("; processed") for _, m in new] == [True]


async def test_kept_documents_are_erased_even_when_no_mail_comes(
        store: MemoryStore, processor: Processor) -> None:
    from esp_coord.received.handler import expire_documents

    await processor.process(xdm_mail())
    (pending,) = await store.run(lambda tx: tx.received_pending("279035121518989", NOW))
    assert await expire_documents(store, NOW + timedelta(days=29)) == 0
    assert await expire_documents(store, NOW + timedelta(days=30)) == 1
    assert await store.run(lambda tx: tx.received_archive(pending.ref)) is None
