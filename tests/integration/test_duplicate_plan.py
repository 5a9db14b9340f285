"""NOUVEAU PPS for a patient who already has an active plan, through the real
Processor and handlers into a SQLite store, answers read from the outbox.

Nothing is created, whoever asks. Those who may read the plan (its care team,
the roster's referent, the coordination) get its reference, as before. Anyone
else learns only that a plan exists: not its reference, not a word of it, not
even in the answer's Message-ID (a reply to it must not find the plan); the
coordination is told who asked, with the reference, and may add them to the
care team by replying MAJ.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from esp_coord.crypto import Keyring
from tests.integration.test_access_matrix import (
    ANA,
    CLAIRE,
    MARKERS,
    P1,
    P1_BODY,
    P2,
    P2_MAIL,
    PAUL,
    Desk,
    Sent,
    team_config,
)

JULIEN = ("Julien MARIE", "julien.marie@infirmier.mssante.test")
LEA = ("Lea FONTAINE", "lea.fontaine@dieteticien.mssante.test")
CREATED_NEXT = "PPS-2026-0003"


@pytest.fixture
async def desk(tmp_path: Path, example_messages: dict[str, bytes]) -> AsyncIterator[Desk]:
    """P1 (MARTIN: Claire DURAND, Julien, Sophie, Karim) and P2 (BERNARD:
    Paul GIRARD, Lea FONTAINE)."""
    desk = Desk(team_config(tmp_path), Keyring.generate())
    async with AsyncExitStack() as stack:
        await desk.store.start(stack)
        await desk.processor.process(example_messages["01-nouveau-pps"])
        await desk.send(PAUL, "NOUVEAU PPS", P2_MAIL)
        await desk.drain()
        yield desk


def _plain(sent: Sent) -> str:
    return " ".join(sent.text.split())


async def _exists(desk: Desk, ref: str) -> bool:
    async with desk.store.transaction(readonly=True) as tx:
        return tx.load_document("plan", ref) is not None


async def test_someone_outside_the_care_team_learns_only_that_a_plan_exists(
        desk: Desk) -> None:
    outcome, answers = await desk.send(PAUL, "NOUVEAU PPS", P1_BODY)
    assert outcome.outcome == "answered"
    (answer,) = [a for a in answers if a.recipients == (PAUL[1],)]
    (notice,) = [a for a in answers if a is not answer]

    # The answer: a plan exists, nothing created, the coordination told; no
    # reference, nothing of the plan.
    assert P1 not in answer.text and "PPS-" not in answer.text, answer.text
    assert not any(marker in answer.text for marker in MARKERS[P1])
    plain = _plain(answer)
    assert "déjà un plan" in plain and "Rien n'a été créé" in plain
    assert "coordination" in plain and "ajouter à l'équipe de soins" in plain
    assert "LISTE" in plain
    assert "\u00a0:" in answer.text  # French typography

    # The coordination: who asked, the reference, nothing of the patient.
    assert notice.recipients == (ANA[1],)
    assert P1 in notice.subject and PAUL[0] in notice.text and PAUL[1] in notice.text
    assert f"«\u00a0Équipe\u00a0: {PAUL[0]}\u00a0»" in notice.text
    assert not any(marker in notice.text for marker in MARKERS[P1])

    assert not await _exists(desk, CREATED_NEXT)
    # Only the notice's Message-ID names the plan (a reply to it finds it).
    assert P1 not in answer.message_id
    assert notice.message_id.startswith(f"<{P1}.access.")

    async with desk.store.transaction(readonly=True) as tx:
        records = [r for r in tx.audit_records(actor=PAUL[1]) if r.action == "duplicate"]
    assert [r.ref for r in records] == [P1]


async def test_a_reply_to_that_answer_does_not_find_the_plan(desk: Desk) -> None:
    _, answers = await desk.send(PAUL, "NOUVEAU PPS", P1_BODY)
    (answer,) = [a for a in answers if a.recipients == (PAUL[1],)]
    _, (status,) = await desk.send(PAUL, f"RE: {answer.subject}", "STATUT",
                                   extra=f"In-Reply-To: {answer.message_id}\r\n"
                                         f"References: {answer.message_id}\r\n")
    # Asked which plan: the reply named none (PPS-2026-0001 is only the example).
    assert "indiquez le plan concerné" in _plain(status), status.text
    assert not any(marker in status.text for marker in MARKERS[P1])


@pytest.mark.parametrize("sender", [JULIEN, CLAIRE, ANA], ids=["team", "referent", "coordinator"])
async def test_those_who_may_read_the_plan_get_its_reference(desk: Desk,
                                                            sender: tuple[str, str]) -> None:
    _, answers = await desk.send(sender, "NOUVEAU PPS", P1_BODY)
    (answer,) = answers  # and no notice
    assert answer.recipients == (sender[1],)
    assert f"plan actif : {P1}. Rien n'a été créé" in _plain(answer)
    assert not await _exists(desk, CREATED_NEXT)


async def test_the_roster_referent_off_the_plan_team_gets_its_reference(desk: Desk) -> None:
    """Claire DURAND is the roster's referent, not on P2's team: she may read it."""
    _, (answer,) = await desk.send(CLAIRE, "NOUVEAU PPS", P2_MAIL)
    assert f"plan actif : {P2}." in _plain(answer)


async def test_the_coordination_adds_the_sender_by_replying(desk: Desk) -> None:
    _, answers = await desk.send(LEA, "NOUVEAU PPS", P1_BODY)
    (notice,) = [a for a in answers if a.recipients == (ANA[1],)]
    _, (updated,) = await desk.send(ANA, f"RE: {notice.subject}",
                                    f"MAJ\nÉquipe : {LEA[0]}",
                                    extra=f"In-Reply-To: {notice.message_id}\r\n")
    assert updated.subject.startswith(f"[{P1}]"), updated.text
    assert LEA[1] in (await desk.plan(P1)).team
    # Now on the team: the reference, and no second notice.
    _, (again,) = await desk.send(LEA, "NOUVEAU PPS", P1_BODY)
    assert f"plan actif : {P1}." in _plain(again)
    # As her answer said: LISTE now gives it.
    _, (listing,) = await desk.send(LEA, "LISTE")
    assert P1 in listing.text
