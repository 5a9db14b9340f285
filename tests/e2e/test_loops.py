"""No mail loop with a robot that answers everything and says nothing of it.

A member's mailbox runs a naive responder: it answers every mail it gets,
with none of the headers that mark a robot (no Auto-Submitted, no
X-Autoreply, no Precedence). It replies quoting our mail (a "RE:" that is a
command again, as ``RE: [PPS-2026-0001] Statut`` is), forwards it back
(a "TR:" rule), or replies with a text of its own (an out-of-office that
keeps the subject). Through the real mailbox, for each kind of answer the
service sends, the exchange must die out by itself within a few answers,
and what was left unanswered is recorded for the coordinators' notice.
"""

from __future__ import annotations

import email.utils

import pytest

from esp_coord import loop_guard
from esp_coord.intake import IncomingMail
from tests.e2e.harness import Team, wait_until
from tests.support.mail import mail

JULIEN = "julien.marie@infirmier.mssante.test"
BOT = "coordination@esp-valdelorge.mssante.test"
ROUNDS = 15  # far more than any bound below: a loop would show


def _respond(answer: IncomingMail, mode: str, n: int) -> bytes:
    head = (f"From: Julien MARIE <{JULIEN}>\r\nTo: {BOT}\r\n"
            f"Date: {email.utils.format_datetime(email.utils.localtime())}\r\n"
            f"Message-ID: <naive-{mode}-{n}@infirmier.mssante.test>\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n")
    quoted = "".join(f"> {line}\r\n" for line in answer.text.splitlines())
    if mode == "reply":
        return (head + f"Subject: RE: {answer.subject}\r\n"
                f"In-Reply-To: {answer.message_id}\r\nReferences: {answer.message_id}\r\n\r\n"
                f"Le 03/12/2026, Coordination a écrit :\r\n{quoted}").encode()
    if mode == "forward":
        return (head + f"Subject: TR: {answer.subject}\r\n\r\n"
                "-------- Message transféré --------\r\n"
                f"Objet : {answer.subject}\r\n\r\n{answer.text}").encode()
    # An out-of-office that keeps the subject and writes a text of its own.
    return (head + f"Subject: RE: {answer.subject}\r\n"
            f"In-Reply-To: {answer.message_id}\r\n\r\n"
            "Bonjour, je suis en tournée et lirai votre message ce soir.\r\n").encode()


async def _converse(team: Team, first: bytes, mode: str) -> list[IncomingMail]:
    """Send ``first``, then let the responder answer every answer until
    the service stops answering; the service's answers to Julien."""
    sent = [await team.submit(first)]
    answered = 0
    for n in range(ROUNDS):
        for mail_sent in sent:
            await team.wait_outcome(mail_sent, 60)
        await wait_until(team.settled, 60, "the service settled")
        answers = team.answers_to(JULIEN)
        if len(answers) == answered:
            break
        sent = [await team.submit(_respond(answer, mode, n)) for answer in answers[answered:]]
        answered = len(answers)
    return team.answers_to(JULIEN)


TRIGGERS = {
    "status": ("STATUT PPS-2026-0001", ""),
    "done": ("FAIT 1 PPS-2026-0001", "Glycémies notées."),
    "not-understood": ("Question", "Pouvez-vous me rappeler ?"),
    "help": ("AIDE", ""),
}


@pytest.mark.parametrize("mode", ["reply", "forward"])
@pytest.mark.parametrize("trigger", sorted(TRIGGERS))
async def test_a_responder_that_echoes_every_answer_gets_two_at_most(
        team: Team, example_messages: dict[str, bytes], trigger: str, mode: str) -> None:
    service = await team.start()
    await team.wait_answer(await team.submit(example_messages["01-nouveau-pps"]))
    subject, body = TRIGGERS[trigger]
    answers = await _converse(team, mail(subject, body, sender=JULIEN, name="Julien MARIE"),
                              mode)
    # The answer to the real mail, then one to the first echo; the second
    # echo in a row is left unanswered and recorded for the coordinators.
    assert 1 <= len(answers) <= 2, [a.subject for a in answers]
    reasons = await service.store.run(
        lambda tx: tx.recent_of_sender(JULIEN, answers[0].date.replace(year=2000)))
    if len(answers) == 2:
        assert [r.reason for r in reasons].count("echo") == 1


async def test_a_responder_with_text_of_its_own_is_paused_by_the_thread_budget(
        team: Team, example_messages: dict[str, bytes]) -> None:
    service = await team.start()
    await team.wait_answer(await team.submit(example_messages["01-nouveau-pps"]))
    status = await team.wait_answer(await team.submit(mail(
        "STATUT PPS-2026-0001", "", sender=JULIEN, name="Julien MARIE")))
    before = len(team.answers_to(JULIEN))
    answers = await _converse(team, _respond(status, "away", 99), "away")
    # Each of its replies reads as a STATUT again, with the same text: after
    # the budget, one notice that answers are paused, then nothing.
    assert len(answers) - before == loop_guard.REPEAT_BUDGET + 1
    assert "suspend ses réponses" in answers[-1].text
    recent = await service.store.run(
        lambda tx: tx.recent_of_sender(JULIEN, status.date.replace(year=2000)))
    reasons = [r.reason for r in recent]
    assert reasons.count("loop-paused") == 1  # the coordinators are told once
    assert reasons.count("loop-held") == 1  # its reply to the notice


async def test_an_auto_reply_subject_silences_only_a_mail_without_command(
        team: Team, example_messages: dict[str, bytes]) -> None:
    service = await team.start()
    await team.wait_answer(await team.submit(example_messages["01-nouveau-pps"]))
    silenced = []
    for subject in ("Absence du 20/12 au 04/01", "Je suis absente", "Congés annuels",
                    "Absent jusqu'au 4 janvier", "Message automatique",
                    "Accusé de réception : [PPS-2026-0001] Statut", "Lu : [PPS-2026-0001] Statut"):
        sent = await team.submit(mail(subject, "Je suis absente, je lirai vos messages à mon "
                                      "retour.", sender=JULIEN, name="Julien MARIE"))
        assert await team.wait_outcome(sent) == "ignored", subject
        silenced.append(sent)
    # A member's real mail is never silenced by its subject.
    real = await team.submit(mail("Absence : Mme MARTIN absente au passage de ce matin",
                                  "STATUT PPS-2026-0001", sender=JULIEN, name="Julien MARIE"))
    assert "MARTIN Jeanne" in (await team.wait_answer(real)).text
    await wait_until(team.settled, 60, "the service settled")
    assert all(a.in_reply_to[-1:] == (real.message_id,) for a in team.answers_to(JULIEN))
    # Each one left unanswered is for the coordinators' notice.
    recent = await service.store.run(
        lambda tx: tx.recent_of_sender(JULIEN, real.date.replace(year=2000)))
    assert [r.reason for r in recent].count("auto-subject") == len(silenced)
