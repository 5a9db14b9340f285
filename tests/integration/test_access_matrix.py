"""Who sees what: every roster member x several plans x every command.

Mails go through the real ``Processor`` and handlers into a real SQLite store;
the answers are read back from the outbox as rendered mails (subject, text and
HTML parts, recipients), so nothing between the handler and SMTP is skipped.
The expected outcome of each combination is written from the rules of issue 4:

- team members (the plan's referent included) read and change their plans;
- the coordinator and the roster's referent read every plan and may close it;
- a refusal is the same answer, word for word, as for a plan that does not exist;
- a member removed from the roster gets no answer at all.

Plans: P1 (MARTIN, active, referent Claire DURAND, team Julien, Sophie,
Karim), P2 (BERNARD, active, referent Paul GIRARD, team Lea), P3 (PETIT,
closed, referent Paul GIRARD, team Julien), and P9 that does not exist.
Each member works on a copy of the same database, so one member's FAIT or
CLORE never changes what another one sees.
"""

from __future__ import annotations

import dataclasses
import email
import email.policy
import shutil
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from esp_coord.bootstrap import make_processor
from esp_coord.config import Config, Member
from esp_coord.crypto import Keyring
from esp_coord.entrypoints.demo import example_config
from esp_coord.processing import Outcome
from esp_coord.store import Store
from plans.model import Plan
from tests.support.xdm import Letter, xdm_mail

NOW = datetime(2026, 11, 25, 7, 30, tzinfo=UTC)

P1, P2, P3, P9 = "PPS-2026-0001", "PPS-2026-0002", "PPS-2026-0003", "PPS-2026-0999"
# What must never reach someone outside the plan's team: identity and content.
MARKERS = {
    P1: ("MARTIN", "Jeanne", "248037505611878", "12/03/1948", "examen des pieds"),
    P2: ("BERNARD", "Louis", "137116912304587", "02/11/1937", "dénutrition", "nutritionnel"),
    P3: ("PETIT", "Odette", "241062A00402743", "25/06/1941", "ulcère"),
}
TEAMS = {  # referent first
    P1: ("claire.durand@medecin.mssante.test", "julien.marie@infirmier.mssante.test",
         "sophie.leroy@pharmacien.mssante.test", "karim.benali@mk.mssante.test"),
    P2: ("paul.girard@medecin.mssante.test", "lea.fontaine@dieteticien.mssante.test"),
    P3: ("paul.girard@medecin.mssante.test", "julien.marie@infirmier.mssante.test"),
}
ACTIVE = {P1: True, P2: True, P3: False}

PAUL = ("Paul GIRARD", "paul.girard@medecin.mssante.test")
ANA = ("Ana COSTA", "ana.costa@esp-valdelorge.mssante.test")
CLAIRE = ("Claire DURAND", "claire.durand@medecin.mssante.test")

P2_MAIL = """Patient : BERNARD Louis
Né le : 02/11/1937
Sexe : M
INS : 1 37 11 69 123 045 87
Consentement : oui
Référent : Dr GIRARD
Équipe : diététicienne FONTAINE
Problème : dénutrition protéino-énergétique
Action : diététicienne | bilan nutritionnel et pesée | chaque semaine
"""
P3_MAIL = """Patient : PETIT Odette
Née le : 25/06/1941
Sexe : F
INS : 2 41 06 2A 004 027 43
Consentement : oui
Référent : Dr GIRARD
Équipe : IDE Julien MARIE
Problème : ulcère veineux de la jambe gauche
Action : IDE | pansement de l'ulcère | tous les jours
"""


# A hospital's letter for P1's patient: its document 1 (DOCUMENT 1 P1).
P1_LETTER = Letter(ins="248037505611878", ins_oid="1.2.250.1.213.1.4.8", birth_name="MARTIN",
                   used_name="MARTIN", given_names="JEANNE", first_given="JEANNE",
                   birth="19480312", sex="F")

P1_BODY = """Patient : MARTIN Jeanne
Née le : 12/03/1948
Sexe : F
INS : 2 48 03 75 056 118 78
Consentement : oui
Référent : Dr DURAND
Problème : chutes
"""


def may_read(member: Member, ref: str) -> bool:
    """The rule, written from the issue (not from the code under test)."""
    return ("coordinator" in member.roles or "referent" in member.roles
            or member.email in TEAMS.get(ref, ()))


def may_close(member: Member, ref: str) -> bool:
    return ("coordinator" in member.roles or "referent" in member.roles
            or member.email == TEAMS[ref][0])


def may_list(member: Member, ref: str) -> bool:
    return ACTIVE[ref] and may_read(member, ref)


def team_config(folder: Path) -> Config:
    return example_config(folder, "esp")


@dataclass
class Sent:
    recipients: tuple[str, ...]
    subject: str
    text: str  # subject, plain and HTML parts together
    message_id: str = ""

    def shows(self, ref: str) -> bool:
        return any(marker in self.text for marker in MARKERS[ref])


def _readable(raw: bytes) -> tuple[str, str]:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    parts = [message["Subject"] or ""]
    for part in message.walk():
        if part.get_content_maintype() == "text":
            parts.append(part.get_content())  # type: ignore[union-attr]
    return message["Subject"] or "", "\n".join(parts)


class Desk:
    """One team's service minus the mailbox: raw mail in, rendered answers out."""

    def __init__(self, config: Config, keyring: Keyring) -> None:
        self.config = config
        self.store = Store(config.database_url, keyring)
        self.count = 0
        self.processor = make_processor(config, self.store, now=self.now)

    def now(self) -> datetime:
        # A minute per mail, as a person types them: the loop guard's answer
        # budget (esp_coord.loop_guard) counts answers per ten minutes.
        return NOW + timedelta(minutes=self.count)

    async def send(self, sender: tuple[str, str], subject: str, body: str = "",
                   extra: str = "") -> tuple[Outcome, list[Sent]]:
        self.count += 1
        name, address = sender
        raw = (f"From: {name} <{address}>\r\nTo: {self.config.bot_address}\r\n"
               f"Subject: {subject}\r\nDate: Wed, 25 Nov 2026 08:30:00 +0100\r\n"
               f"Message-ID: <{uuid.uuid4().hex}.{self.count}.{address}>\r\n"
               f"{extra}MIME-Version: 1.0\r\n"
               "Content-Type: text/plain; charset=utf-8\r\n"
               f"Content-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n").encode()
        outcome = await self.processor.process(raw)
        return outcome, await self.drain()

    async def drain(self) -> list[Sent]:
        def take(tx):  # type: ignore[no-untyped-def]
            items = tx.outbox_due(NOW + timedelta(days=1))
            for item in items:
                tx.mark_sent(item.id, NOW)
            return items

        sent = []
        for item in await self.store.run(take):
            subject, text = _readable(item.raw)
            recipients = tuple(r for r in item.recipients if r != self.config.bot_address)
            sent.append(Sent(recipients, subject, text, item.message_id))
        return sent

    async def plan(self, ref: str) -> Plan:
        async with self.store.transaction(readonly=True) as tx:
            doc = tx.load_document("plan", ref)
        assert doc is not None
        return Plan.from_dict(doc.data)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory,
             example_messages: dict[str, bytes]) -> tuple[Path, Keyring]:
    """The three plans, made once by mail; each test copies the database."""
    import asyncio

    folder = tmp_path_factory.mktemp("matrix-template")
    keyring = Keyring.generate()

    async def build() -> None:
        desk = Desk(team_config(folder), keyring)
        async with AsyncExitStack() as stack:
            await desk.store.start(stack)
            await desk.processor.process(example_messages["01-nouveau-pps"])
            await desk.send(PAUL, "NOUVEAU PPS", P2_MAIL)
            await desk.send(PAUL, "NOUVEAU PPS", P3_MAIL)
            await desk.send(ANA, f"CLORE {P3}", "Cicatrisation obtenue")
            await desk.processor.process(xdm_mail(P1_LETTER))
            await desk.drain()
            for ref, team in TEAMS.items():
                plan = await desk.plan(ref)
                assert (plan.referent, *sorted(set(plan.team) - {plan.referent})) == (
                    team[0], *sorted(team[1:])), ref
                assert plan.is_active == ACTIVE[ref], ref

    asyncio.run(build())
    return folder / "esp.db", keyring


@pytest.fixture
async def desk_for(tmp_path: Path, template: tuple[Path, Keyring]) -> AsyncIterator[Desk]:
    db, keyring = template
    shutil.copy(db, tmp_path / "esp.db")
    desk = Desk(team_config(tmp_path), keyring)
    async with AsyncExitStack() as stack:
        await desk.store.start(stack)
        yield desk


def _members() -> list[Member]:
    return list(team_config(Path("/nonexistent")).members)


def _check_no_leak(member: Member, answers: list[Sent], what: str) -> None:
    for sent in answers:
        for ref in MARKERS:
            if sent.shows(ref):
                assert all(may_read(m, ref) for m in _roster_of(sent.recipients)), (
                    f"{what}: {ref} data sent to {sent.recipients}")


def _roster_of(addresses: tuple[str, ...]) -> list[Member]:
    by_address = {m.email: m for m in _members()}
    return [by_address[a] for a in addresses]


COMMANDS = ("STATUT {ref}", "DOCUMENT 1 {ref}", "FAIT 1 {ref}", "ANNULER FAIT 1 {ref}",
            "REPORTER 1 au 20/12/2026 {ref}", "MAJ {ref}", "CLORE {ref}")


@pytest.mark.parametrize("member", _members(), ids=lambda m: m.email.split("@")[0])
async def test_each_member_sees_exactly_what_the_rules_allow(desk_for: Desk,
                                                            member: Member) -> None:
    desk = desk_for
    me = (member.name, member.email)
    body = {"MAJ {ref}": "Note : point fait en équipe", "FAIT 1 {ref}": "RAS"}

    # Refusals first, for a plan that does not exist: the reference answers.
    absent = {}
    for command in COMMANDS:
        outcome, answers = await desk.send(me, command.format(ref=P9), body.get(command, ""))
        assert outcome.outcome == "answered" and len(answers) == 1, command
        absent[command] = answers[0]
        assert absent[command].recipients == (member.email,)
        _check_no_leak(member, answers, command)

    # A second NOUVEAU PPS for P1's patient: nothing created and nothing of
    # the plan's content, whoever asks; its reference only to those who may
    # read it, the others' request told to the coordination instead.
    _, answers = await desk.send(me, "NOUVEAU PPS", P1_BODY)
    _check_no_leak(member, answers, "NOUVEAU PPS")
    (dup,) = [a for a in answers if a.recipients == (member.email,)]
    assert (P1 in dup.text) == may_read(member, P1), member.email
    assert "examen des pieds" not in dup.text and "PPS-2026-0004" not in dup.text
    told = [a for a in answers if a is not dup]
    if may_read(member, P1):
        assert told == [], member.email
    else:
        (notice,) = told
        assert notice.recipients == (ANA[1],) and P1 in notice.text, member.email
        assert member.email in notice.text and not notice.shows(P1), member.email

    # CLORE last: it must not change what the other commands see.
    for command in COMMANDS:
        for ref in (P1, P2, P3):
            what = f"{member.email} {command.format(ref=ref)}"
            before = await desk.plan(ref)
            outcome, answers = await desk.send(me, command.format(ref=ref),
                                               body.get(command, ""))
            after = await desk.plan(ref)
            assert outcome.outcome == "answered" and len(answers) == 1, what
            answer = answers[0]
            assert answer.recipients == (member.email,), what
            _check_no_leak(member, answers, what)
            if not may_read(member, ref):
                # Word for word the answer about a plan that does not exist.
                assert answer.text == absent[command].text.replace(P9, ref), what
                assert after.version == before.version, what
                continue
            assert answer.text != absent[command].text.replace(P9, ref), what
            changed = after.version == before.version + 1
            if command.startswith("STATUT"):
                assert answer.shows(ref) and not changed, what
            elif command.startswith("DOCUMENT"):
                # P1 has the hospital's letter; the others have no document.
                assert not changed and ref in answer.text, what
                assert answer.shows(ref) == (ref == P1), what
            elif not ACTIVE[ref]:
                assert not changed, what
                assert "clos" in answer.text or not may_close(member, ref), what
            elif command.startswith("CLORE"):
                assert changed == may_close(member, ref), what
                assert after.is_active != may_close(member, ref), what
            else:
                assert changed, what
                assert after.versions[-1].author == member.email, what
                if command.startswith(("FAIT", "ANNULER FAIT", "REPORTER")):
                    assert answer.shows(ref), what

    # LISTE: exactly the active plans the member may read.
    outcome, answers = await desk.send(me, "LISTE")
    _check_no_leak(member, answers, "LISTE")
    (listing,) = answers
    for ref in (P1, P2, P3):
        expected = ACTIVE[ref] and may_read(member, ref)
        # (P1 and P2 may have been closed by this member's CLORE above.)
        if ACTIVE[ref] and not (await desk.plan(ref)).is_active:
            expected = False
        assert (ref in listing.text) == expected, f"{member.email} LISTE {ref}"
        assert listing.shows(ref) == expected, f"{member.email} LISTE {ref}"

    # Commands with no plan: nothing of any plan in the answer.
    for subject, body_text in (("AIDE", ""), ("RCP", ""), ("bonjour", "où en est-on ?"),
                               ("NOUVEAU PPS", "Patient : X")):
        outcome, answers = await desk.send(me, subject, body_text)
        assert outcome.outcome == "answered" and answers, subject
        for sent in answers:
            assert not any(sent.shows(ref) for ref in MARKERS), f"{member.email} {subject}"

    # A reply to an acknowledgement of a plan: the same rules as a written reference.
    for ref in (P1, P2):
        reply_to = f"In-Reply-To: <{ref}.ack.1@{desk.config.message_id_domain}>\r\n"
        outcome, (answer,) = await desk.send(me, "Re: suivi", "statut", extra=reply_to)
        assert answer.shows(ref) == may_read(member, ref), f"{member.email} reply {ref}"
    # ... and a forged tag in the subject as well.
    outcome, (answer,) = await desk.send(me, f"[{P2}] statut", "")
    assert answer.shows(P2) == may_read(member, P2)

    async with desk.store.transaction(readonly=True) as tx:
        report = tx.verify_audit()
        refused = [r for r in tx.audit_records(actor=member.email)
                   if r.action == "refused"]
    assert report.intact
    expected_refusals = len(COMMANDS) * (1 + sum(not may_read(member, r) for r in MARKERS))
    assert len(refused) >= expected_refusals


async def test_a_member_removed_from_the_roster_loses_access_at_once(
        desk_for: Desk) -> None:
    julien = ("Julien MARIE", "julien.marie@infirmier.mssante.test")
    _, (answer,) = await desk_for.send(julien, f"STATUT {P1}")
    assert answer.shows(P1)
    removed = dataclasses.replace(desk_for.config, members=tuple(
        m for m in desk_for.config.members if m.email != julien[1]))
    desk_for.processor = make_processor(removed, desk_for.store, now=desk_for.now)
    for command in (f"STATUT {P1}", "LISTE", f"FAIT 1 {P1}", "AIDE"):
        outcome, answers = await desk_for.send(julien, command)
        assert outcome.outcome == "quarantined" and answers == [], command


async def test_the_same_status_asked_twice_is_answered_twice(desk_for: Desk) -> None:
    # Two readers (or one, twice) at the same plan version: each gets an answer.
    for sender in (ANA, ANA, CLAIRE):
        _, answers = await desk_for.send(sender, f"STATUT {P1}")
        assert len(answers) == 1 and answers[0].shows(P1)


async def test_meeting_agendas_show_each_member_only_their_plans(desk_for: Desk) -> None:
    # All members invited to a meeting with P1 and P2 on its agenda: the
    # invitations, the RCP listing and the reminders follow the plans' rules.
    _, answers = await desk_for.send(ANA, "RCP nouvelle", (
        "Date : 03/12/2026 à 12h30\nDurée : 1h30\nLieu : salle de réunion\n"
        f"Participants : tous\nPatients : {P1}, {P2}\n"))
    assert answers
    for sent in answers:
        _check_no_leak(_members()[0], [sent], f"RCP NOUVELLE to {sent.recipients}")
    for member in _members():
        _, answers = await desk_for.send((member.name, member.email), "RCP")
        assert answers, member.email
        _check_no_leak(member, answers, f"RCP by {member.email}")
        for ref in (P1, P2):
            assert answers[0].shows(ref) == may_read(member, ref), f"{member.email} RCP {ref}"
