"""The foundation end to end: SMTP in, real Dovecot mailbox, threaded answer out."""

from __future__ import annotations

from tests.e2e.harness import Team, wait_until
from tests.support.mail import CLAIRE, mail


async def test_help_is_answered_threaded_in_french_and_filed(team: Team) -> None:
    await team.start()
    sent = await team.submit(mail("AIDE", "Bonjour, comment ça marche ?"))
    answer = await team.wait_answer(sent)
    assert answer.from_address == team.config.bot_address
    assert answer.in_reply_to == (sent.message_id,)
    assert sent.message_id in answer.references
    assert answer.subject.startswith("RE: AIDE")
    assert "NOUVEAU PPS" in answer.text and "STATUT" in answer.text
    raw = next(m.content for m in team.front.messages
               if m.mail_from == team.config.bot_address and CLAIRE in m.rcpt_tos)
    assert b"Auto-Submitted: auto-replied" in raw
    assert b"text/html" in raw
    # The mail left the inbox for the processed folder; the witness copy of
    # the answer came back and was filed in the sent folder.
    await wait_until(lambda: team.dovecot.folder_count("Envoyés"), what="witness copy filed")
    assert await team.dovecot.folder_count("INBOX") == 0
    assert await team.dovecot.folder_count("Traités") == 1
    stats = await team.service.store.run(lambda tx: tx.outbox_stats())
    assert stats.get("sent") == 1 and not stats.get("pending") and not stats.get("sending")


async def test_unknown_text_gets_closest_commands_not_silence(team: Team) -> None:
    await team.start()
    sent = await team.submit(mail("stauts", "ou en est Mme MARTIN ?"))
    answer = await team.wait_answer(sent)
    assert "pas été compris" in answer.text and "Rien n'a été enregistré" in answer.text
    assert "STATUT PPS-2026-0001" in answer.text     # the closest command, with its example


async def test_meeting_commands_are_answered_with_their_errors(team: Team) -> None:
    await team.start()
    sent = await team.submit(mail("RCP NOUVELLE", "Durée : 1h30"))
    answer = await team.wait_answer(sent)
    assert "RCP NOUVELLE" in answer.text and "Rien n'a été enregistré" in answer.text
    assert "la date de la réunion n'est pas indiquée" in answer.text


async def test_strangers_get_silence_and_quarantine(team: Team) -> None:
    await team.start()
    stranger = await team.submit(mail("STATUT PPS-2026-0001", "le plan svp",
                                      sender="marc.petit@medecin.mssante.test",
                                      name="Marc PETIT"))
    lookalike = await team.submit(mail("AIDE", "aide", sender=f"{CLAIRE}.evil.test"))
    assert await team.wait_outcome(stranger) == "quarantined"
    assert await team.wait_outcome(lookalike) == "quarantined"
    await wait_until(lambda: team.dovecot.folder_count("Quarantaine"), what="quarantine")
    assert await team.dovecot.folder_count("Quarantaine") == 2
    assert team.answers_to("marc.petit@medecin.mssante.test") == []
    assert team.answers_to(f"{CLAIRE}.evil.test") == []
    count = await team.service.store.run(lambda tx: tx.quarantine_count())
    assert count == 2


async def test_auto_replies_are_never_answered(team: Team, example_messages) -> None:
    await team.start()
    auto = await team.submit(example_messages["09-absence-auto"])
    bounce = await team.submit(mail("Undelivered", "gone",
                                    extra="Auto-Submitted: auto-generated\r\n"))
    assert await team.wait_outcome(auto) == "ignored"
    assert await team.wait_outcome(bounce) == "ignored"
    assert team.answers_to(auto.from_address) == []
    assert team.answers_to(CLAIRE) == []


async def test_mail_waiting_while_down_is_processed_at_start(team: Team) -> None:
    waiting = [await team.submit(mail("AIDE", f"message {i}")) for i in range(5)]
    assert await team.dovecot.folder_count("INBOX") == 5
    await team.start()
    for sent in waiting:
        await team.wait_answer(sent)
    assert len(team.answers_to(CLAIRE)) == 5


async def test_the_same_mail_twice_is_answered_once(team: Team) -> None:
    raw = mail("AIDE", "deux fois")
    await team.start()
    first = await team.submit(raw)
    await team.wait_answer(first)
    await team.submit(raw)     # the same Message-ID delivered again
    await wait_until(lambda: team.dovecot.folder_count("Traités"), what="filed")
    await wait_until(lambda: _inbox_empty(team), what="inbox drained")
    assert len(team.answers_in_reply_to(first)) == 1


async def _inbox_empty(team: Team) -> bool:
    return await team.dovecot.folder_count("INBOX") == 0
