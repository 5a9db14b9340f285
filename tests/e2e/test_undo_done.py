"""ANNULER FAIT end to end: SMTP in, real Dovecot mailbox, answers out, on a
clock standing at the mails' date. The nurse notes action 1 done in reply to
the acknowledgement, takes it back in reply to that answer, and STATUT shows
the action to do again; a one-off action's reminder comes back with it; the
same refusal for a plan one may not read as for no plan at all."""

from __future__ import annotations

from datetime import date
from typing import Any

from plans.model import Plan
from plans.typography import NBSP
from tests.e2e.clocked import start_at_date_of
from tests.e2e.harness import Team
from tests.e2e.test_mail_path import mail

JULIEN = "julien.marie@infirmier.mssante.test"
LEA = "lea.fontaine@dieteticien.mssante.test"  # on the roster, not on the plan's team
REF = "PPS-2026-0001"


def _mail(subject: str, body: str, in_reply_to: str | None = None, *,
          sender: str = JULIEN, name: str = "Julien MARIE") -> bytes:
    threading = f"In-Reply-To: {in_reply_to}\r\nReferences: {in_reply_to}\r\n" \
        if in_reply_to else ""
    return mail(subject, body, sender=sender, name=name, extra=threading)


def plain(text: str) -> str:
    return text.replace(NBSP, " ").replace("\u202f", " ")


async def _plan(team: Team) -> Plan:
    assert team.service is not None
    doc = await team.service.store.run(lambda tx: tx.load_document("plan", REF))
    assert doc is not None
    return Plan.from_dict(doc.data)


async def _pending_due(team: Team, number: int) -> list[str]:
    assert team.service is not None
    rows = await team.service.store.run(lambda tx: tx.reminders_of(REF, status="pending"))
    return sorted(r.payload["occurrence"] for r in rows
                  if r.kind == "plan_due" and r.payload["number"] == number)


async def _audit(team: Team) -> list[Any]:
    assert team.service is not None
    return await team.service.store.run(lambda tx: tx.audit_records(REF))


async def test_fait_then_annuler_fait_in_replies(team: Team,
                                                 example_messages: dict[str, bytes]) -> None:
    await start_at_date_of(team, example_messages["01-nouveau-pps"])
    ack = await team.wait_answer(await team.submit(example_messages["01-nouveau-pps"]))
    assert ack.subject.startswith(f"[{REF}] Plan créé")

    done = await team.wait_answer(await team.submit(_mail(
        f"RE: {ack.subject}", "FAIT 1\nGlycémies notées.\n", ack.message_id)))
    assert done.subject == f"[{REF}] Action 1 faite", done.text
    # Written at 09:12, after the day's reminders: the weekly action starts on
    # 24/11; done a day early, it counts for that one, the next is 01/12.
    assert (await _plan(team)).action(1).due == date(2026, 12, 1)

    sent = await team.submit(_mail(f"RE: {done.subject}", "ANNULER FAIT 1\nErreur de patient.\n",
                                   done.message_id))
    undone = await team.wait_answer(sent)
    assert undone.subject == f"[{REF}] Action 1 remise à faire", undone.text
    assert undone.message_id.startswith(f"<{REF}.undone.")
    text = plain(undone.text)
    assert "Action 1 du plan PPS-2026-0001 (IDE Julien MARIE : " in text
    assert "La mention « faite le 23/11/2026 par IDE Julien MARIE » est annulée." in text
    assert "Échéance : le 24/11/2026 (chaque semaine)." in text
    assert "Les rappels de cette action reprennent." in text
    assert "Son commentaire est gardé dans les notes du plan." in text
    # French typography: no-break spaces before the colon and inside « ».
    assert f"Échéance{NBSP}:" in undone.text and f"«{NBSP}faite" in undone.text

    plan = await _plan(team)
    action = plan.action(1)
    assert action.status == "todo" and action.due == date(2026, 11, 24) and action.done == []
    assert plan.versions[-1].summary == "action 1 remise à faire (FAIT du 23/11/2026 annulé)"
    assert plan.versions[-1].source_message_id == sent.message_id
    assert plan.notes[-1].text.endswith(": Glycémies notées.")
    record = (await _audit(team))[-1]
    assert (record.action, record.actor, record.detail) == (
        "undo-done", JULIEN, f"action 1, version {plan.version}")
    assert record.source_message_id == sent.message_id

    status = await team.wait_answer(await team.submit(_mail(f"STATUT {REF}", "")))
    lines = plain(status.text).splitlines()
    (line,) = [ln for ln in lines if ln.startswith(" 1. ")]
    assert line.endswith("chaque semaine ; prévue le 24/11/2026"), line  # no "dernière fois"
    assert any("action 1 remise à faire (FAIT du 23/11/2026 annulé)" in ln for ln in lines)

    # Nothing left to take back: said, nothing changed.
    again = await team.wait_answer(await team.submit(_mail(
        f"RE: {undone.subject}", "ANNULER FAIT 1", undone.message_id)))
    assert "Rien n'a été fait" in again.text
    assert "l'action n° 1 du plan PPS-2026-0001 n'est pas notée faite" in plain(again.text)
    assert (await _plan(team)).version == plan.version


async def test_a_one_off_reminder_comes_back_and_refusals_say_nothing(
        team: Team, example_messages: dict[str, bytes]) -> None:
    await start_at_date_of(team, example_messages["01-nouveau-pps"])
    await team.wait_answer(await team.submit(example_messages["01-nouveau-pps"]))
    assert await _pending_due(team, 2) == ["2026-12-15"]

    await team.wait_answer(await team.submit(_mail(f"FAIT 2 {REF}", "")))
    assert await _pending_due(team, 2) == []
    undone = await team.wait_answer(await team.submit(_mail(f"ANNULER FAIT 2 {REF}", "")))
    assert "Échéance : le 15/12/2026." in plain(undone.text), undone.text
    assert await _pending_due(team, 2) == ["2026-12-15"]
    plan = await _plan(team)
    assert plan.action(2).status == "todo"

    # Someone outside the plan's team: the answer of a plan that does not exist.
    stranger = await team.wait_answer(await team.submit(_mail(
        f"ANNULER FAIT 2 {REF}", "", sender=LEA, name="Lea FONTAINE")))
    nowhere = await team.wait_answer(await team.submit(_mail(
        "ANNULER FAIT 2 PPS-2026-0099", "", sender=LEA, name="Lea FONTAINE")))
    assert "Rien n'a été fait" in stranger.text
    # (The refusal's own example of a reference is PPS-2026-0001 in both.)
    assert stranger.text.replace(f"le plan {REF}", "le plan PPS-2026-0099") == nowhere.text
    assert stranger.subject.replace(REF, "PPS-2026-0099") == nowhere.subject
    assert (await _plan(team)).version == plan.version
    refused = [r for r in await _audit(team) if r.action == "refused"]
    assert [(r.actor, r.detail) for r in refused] == [(LEA, "ANNULER FAIT: not on the care team")]
