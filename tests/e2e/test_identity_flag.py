"""Same name and birth date, another INS: a second plan, never merged, and a
notice to the coordination, through the real mailbox."""

from __future__ import annotations

from esp_coord.clock import DrivenClock
from esp_coord.intake import parse_mail
from plans.model import Plan
from tests.e2e.harness import Team, wait_until

COORDINATOR = "ana.costa@esp-valdelorge.mssante.test"
GIRARD = "paul.girard@medecin.mssante.test"
OTHER_INS = "248037505611977"  # same sex, year, month and place; valid key, another person

NAMESAKE = f"""From: Paul GIRARD <{GIRARD}>
To: coordination@esp-valdelorge.mssante.test
Subject: NOUVEAU PPS
Date: Tue, 24 Nov 2026 10:00:00 +0100
Message-ID: <namesake-1@medecin.mssante.test>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Patient : MARTIN Jeanne
Née le : 12/03/1948
INS : 2 48 03 75 056 119 77
Consentement : oui
Problème : arthrose du genou droit
Action : kiné | renforcement musculaire | chaque semaine
""".replace("\n", "\r\n").encode()


async def test_namesake_gets_own_plan_and_coordination_is_told(
        team: Team, example_messages: dict[str, bytes]) -> None:
    first = parse_mail(example_messages["01-nouveau-pps"])
    assert first.date is not None
    clock = DrivenClock(first.date)
    service = await team.start(clock=clock)
    await team.submit(example_messages["01-nouveau-pps"])
    assert "PPS-2026-0001" in (await team.wait_answer(first)).subject

    second = parse_mail(NAMESAKE)
    assert second.date is not None
    await clock.set(second.date)
    await team.submit(NAMESAKE)
    ack = await team.wait_answer(second)
    assert ack.subject.startswith("[PPS-2026-0002] Plan créé")

    def notices() -> list[tuple[list[str], str]]:
        return [(m.rcpt_tos, parse_mail(m.content).subject) for m in team.front.messages
                if m.mail_from == team.config.bot_address
                and "Identité à vérifier" in parse_mail(m.content).subject]

    await wait_until(notices, what="the identity notice")
    (recipients, subject), = notices()
    coordinators = {m.email for m in team.config.members if m.is_coordinator}
    assert set(recipients) - {team.config.bot_address} == coordinators == {COORDINATOR}
    assert subject == "[PPS-2026-0002] Identité à vérifier"
    notice = next(a for a in team.answers_to(COORDINATOR) if a.subject == subject)
    assert "PPS-2026-0001" in notice.text and "fusionnés" in notice.text
    assert "248037505611878" not in notice.text and OTHER_INS not in notice.text
    assert notice.automatic  # marked auto-generated: no auto-reply loops back
    # The sender only gets the acknowledgement; the notice is not theirs.
    assert all("Identité" not in a.subject for a in team.answers_to(GIRARD))

    # Two plans, each with its own patient and team: nothing merged.
    async def load(ref: str) -> Plan:
        doc = await service.store.run(lambda tx: tx.load_document("plan", ref))
        assert doc is not None
        return Plan.from_dict(doc.data)

    original, namesake = await load("PPS-2026-0001"), await load("PPS-2026-0002")
    assert (original.patient.ins, namesake.patient.ins) == ("248037505611878", OTHER_INS)
    assert original.version == 1 and len(original.problems) == 3
    assert namesake.problems == ["arthrose du genou droit"]
    assert namesake.referent == GIRARD and "claire.durand@medecin.mssante.test" not in \
        namesake.team
