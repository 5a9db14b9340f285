"""Replying to the service's own answers, end to end: SMTP in, real Dovecot
mailbox, answers out. A nurse asks STATUT, replies to the status with
``FAIT 1`` and a comment signed without a separator, then replies to that
answer, keeping its subject and no ``RE:`` (only In-Reply-To tells it is a
reply), to postpone another action to a time."""

from __future__ import annotations

from plans.model import Plan
from tests.e2e.harness import Team
from tests.support.mail import mail

JULIEN = "julien.marie@infirmier.mssante.test"
REF = "PPS-2026-0001"


def _mail(subject: str, body: str, in_reply_to: str | None = None) -> bytes:
    threading = f"In-Reply-To: {in_reply_to}\r\nReferences: {in_reply_to}\r\n" \
        if in_reply_to else ""
    return mail(subject, body, sender=JULIEN, name="Julien MARIE", extra=threading)


async def test_commands_in_replies_to_the_service(team: Team, example_messages) -> None:
    service = await team.start()
    await team.wait_answer(await team.submit(example_messages["01-nouveau-pps"]))

    status = await team.wait_answer(await team.submit(_mail(f"STATUT {REF}", "")))
    assert status.subject == f"[{REF}] Statut"

    done = await team.wait_answer(await team.submit(_mail(
        f"RE: {status.subject}",
        "FAIT 1\nGlycémies notées, pieds sans lésion.\n\nJulien MARIE\nInfirmier libéral\n"
        "06 12 34 56 78\n\n> Plan PPS-2026-0001 - MARTIN Jeanne\n", status.message_id)))
    assert done.subject == f"[{REF}] Action 1 faite", done.text
    assert "Glycémies notées, pieds sans lésion." in done.text
    assert "06 12 34 56 78" not in done.text

    # The client kept the subject as it was: In-Reply-To alone says it is a reply.
    moved = await team.wait_answer(await team.submit(_mail(
        done.subject, "REPORTER 2 au 15/12/2026 à 14h30", done.message_id)))
    assert moved.subject == f"[{REF}] Action 2 reportée", moved.text
    assert "14h30" in moved.text

    doc = await service.store.run(lambda tx: tx.load_document("plan", REF))
    plan = Plan.from_dict(doc.data)
    assert plan.action(1).done[-1].comment == "Glycémies notées, pieds sans lésion."
    assert plan.action(2).due is not None and plan.action(2).due.isoformat() == "2026-12-15"
    assert plan.versions[-1].summary.endswith("à 14h30")
