"""The coordinators' quarantine notice through the real mailbox, on a driven clock.

Example 08 (a sender not on the roster) gets silence and goes to the
quarantine folder; the next morning at 08:00 the coordinator receives one
notice by SMTP naming the sender and the reason, never the mail's subject nor
its body; restarts and a crash right after the SMTP send do not send it again.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from esp_coord.intake import IncomingMail, parse_mail
from tests.e2e.clocked import start_at_date_of
from tests.e2e.harness import Team, wait_until
from tests.support.crashing import CrashingSender, crashed

PARIS = ZoneInfo("Europe/Paris")
ANA = "ana.costa@esp-valdelorge.mssante.test"       # the example team's coordinator
STRANGER = "marc.petit@medecin.mssante.test"
SUBJECT = "Messages en quarantaine"


def notices(team: Team) -> list[IncomingMail]:
    return [parse_mail(m.content) for m in team.front.messages
            if m.mail_from == team.config.bot_address
            and (parse_mail(m.content).subject or "").startswith(SUBJECT)
            and m.rcpt_tos != [team.config.bot_address]]


async def settled(team: Team) -> bool:
    assert team.service is not None and team.service.reminders is not None
    stats = await team.service.store.run(lambda tx: tx.outbox_stats())
    return (await team.service.reminders.caught_up() and not stats.get("pending")
            and not stats.get("sending"))


async def test_stranger_quarantined_then_coordinator_told_once_by_mail(
        team: Team, example_messages: dict[str, bytes]) -> None:
    raw = example_messages["08-expediteur-inconnu"]
    clock = await start_at_date_of(team, raw)
    stranger = await team.submit(raw)
    assert await team.wait_outcome(stranger) == "quarantined"
    await wait_until(lambda: team.dovecot.folder_count("Quarantaine"), what="quarantine")
    await wait_until(lambda: settled(team), what="nothing left to send")
    assert team.answers_to(STRANGER) == [] and notices(team) == []

    # Down across the hour, and killed right after SMTP accepted the notice,
    # before recording it: the restart must not send it a second time.
    await team.stop()
    await clock.set(datetime(2026, 11, 28, 9, 30, tzinfo=PARIS))
    await team.start(clock=clock, sender=CrashingSender(team.config.smtp, when="after-send"))
    await crashed(team)
    await team.stop()
    assert len(notices(team)) == 1
    await team.start(clock=clock)
    await wait_until(lambda: settled(team), timeout=20, what="recovery")

    (notice,) = notices(team)
    (delivered,) = [m for m in team.front.messages
                    if parse_mail(m.content).message_id == notice.message_id]
    assert set(delivered.rcpt_tos) == {ANA, team.config.bot_address}  # + the witness copy
    text = notice.text.replace("\u00a0", " ").replace("\u202f", " ")
    assert "Le 27/11/2026 à 12h00, de marc.petit@medecin.mssante.test" in text
    assert "expéditeur absent de l'annuaire de l'équipe" in text
    assert "« Quarantaine »" in text
    for secret in ("STATUT", "PPS-2026-0001", "MARTIN", "plan de Mme"):
        assert secret not in text and secret not in (notice.subject or "")
    assert team.answers_to(STRANGER) == []

    # The next days: nothing new in quarantine, nothing sent.
    await clock.set(datetime(2026, 11, 30, 8, 0, 5, tzinfo=PARIS))
    await wait_until(lambda: settled(team), what="the next days")
    assert len(notices(team)) == 1
