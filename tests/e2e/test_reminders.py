"""Plan follow-up reminders through the real mailbox, on a driven clock.

The daily digest goes out by SMTP at 08:00 team time; the assignee answers it
with the lines it gives (« FAIT 1 PPS-2026-0001 »), several in one reply; a
member who asked for one mail per reminder answers a bare "FAIT 1" and the
plan is found from In-Reply-To; a crash between the SMTP send and its record
does not send the reminder twice.
"""

from __future__ import annotations

import dataclasses
import email.utils
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from esp_coord.intake import IncomingMail, parse_mail
from plans.dates import format_date
from plans.model import Plan
from tests.e2e.clocked import start_at_date_of
from tests.e2e.harness import Team, wait_until
from tests.support.crashing import Crash, CrashingSender, crashed

PARIS = ZoneInfo("Europe/Paris")
JULIEN = "julien.marie@infirmier.mssante.test"
SUBJECT = "[PPS-2026-0001] Rappel : action 1"


def digests(team: Team, address: str, day: str) -> list[IncomingMail]:
    return [m for m in team.answers_to(address)
            if (m.subject or "").startswith(f"Rappels du {day}")]


def reminders(team: Team, address: str, day: str) -> list[IncomingMail]:
    """One mail per reminder (``per_action_members``)."""
    return [m for m in team.answers_to(address)
            if (m.subject or "").startswith(SUBJECT) and day in (m.subject or "")]


async def plan(team: Team) -> Plan:
    assert team.service is not None
    doc = await team.service.store.run(lambda tx: tx.load_document("plan", "PPS-2026-0001"))
    assert doc is not None
    return Plan.from_dict(doc.data)


async def settled(team: Team) -> bool:
    assert team.service is not None and team.service.reminders is not None
    stats = await team.service.store.run(lambda tx: tx.outbox_stats())
    return (await team.service.reminders.caught_up() and not stats.get("pending")
            and not stats.get("sending"))


def fait(reminder: IncomingMail, at: datetime, body: str = "FAIT 1\r\nglycémies notées") -> bytes:
    return (f"From: Julien MARIE <{JULIEN}>\r\n"
            "To: coordination@esp-valdelorge.mssante.test\r\n"
            f"Subject: RE: {reminder.subject}\r\nDate: {email.utils.format_datetime(at)}\r\n"
            "Message-ID: <fait-1@infirmier.mssante.test>\r\n"
            f"In-Reply-To: {reminder.message_id}\r\nReferences: {reminder.message_id}\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n").encode()


async def test_digest_by_mail_then_its_lines_in_one_reply(
        team: Team, example_messages: dict[str, bytes]) -> None:
    clock = await start_at_date_of(team, example_messages["01-nouveau-pps"])
    await team.wait_answer(await team.submit(example_messages["01-nouveau-pps"]))

    await clock.set(datetime(2026, 11, 30, 8, 0, 1, tzinfo=PARIS))
    await wait_until(lambda: digests(team, JULIEN, "30/11/2026"), what="the digest")
    (digest,) = digests(team, JULIEN, "30/11/2026")
    assert digest.date is not None and digest.date.astimezone(PARIS).hour == 8
    lines = [x.strip() for x in digest.body.splitlines() if x.strip().startswith("FAIT ")]
    assert "FAIT 1 PPS-2026-0001" in lines

    # Two lines of the digest in one reply, a comment under the first.
    await clock.set(datetime(2026, 11, 30, 9, 30, tzinfo=PARIS))
    answer = await team.wait_answer(await team.submit(fait(
        digest, clock.now(), "FAIT 1 PPS-2026-0001\r\nglycémies notées\r\n"
        "REPORTER 2 PPS-2026-0001 au 18/12/2026")))
    text = " ".join(answer.text.replace("\xa0", " ").split())
    assert "2 lignes de suivi ; chacune a été traitée à part" in text
    current = await plan(team)
    nxt = current.action(1).due
    assert nxt is not None and nxt > date(2026, 11, 30)
    assert f"Prochaine fois : le {format_date(nxt)}" in text
    assert "reportée au 18/12/2026" in text
    assert [o.comment for o in current.action(1).done] == ["glycémies notées"]
    assert current.action(2).due == date(2026, 12, 18)

    await clock.set(datetime.combine(nxt, time(8, 0, 1), tzinfo=PARIS))
    await wait_until(lambda: digests(team, JULIEN, format_date(nxt)), what="the next one")
    await wait_until(lambda: settled(team), what="everything sent")
    assert len(digests(team, JULIEN, "30/11/2026")) == 1
    assert len(digests(team, JULIEN, format_date(nxt))) == 1
    assert not reminders(team, JULIEN, "30/11/2026")


async def test_reminder_by_mail_then_fait_in_reply(team: Team,
                                                   example_messages: dict[str, bytes]) -> None:
    # Julien asked for one mail per reminder.
    team.config = dataclasses.replace(team.config, reminders=dataclasses.replace(
        team.config.reminders, per_action_members=frozenset({JULIEN})))
    clock = await start_at_date_of(team, example_messages["01-nouveau-pps"])
    await team.wait_answer(await team.submit(example_messages["01-nouveau-pps"]))
    weekly = (await plan(team)).action(1)
    assert weekly.due is not None and weekly.when.rhythm is not None
    late_day = weekly.due + timedelta(days=3)

    await clock.set(datetime.combine(late_day, time(8, 0, 1), tzinfo=PARIS))
    late = "[PPS-2026-0001] En retard : action 1"
    await wait_until(lambda: [m for m in team.answers_to(JULIEN) if m.subject == late],
                     what="the overdue reminder")
    (reminder,) = [m for m in team.answers_to(JULIEN) if m.subject == late]
    assert "FAIT 1" in reminder.text and "REPORTER 1" in reminder.text
    assert reminder.message_id.startswith("<PPS-2026-0001.rappel.")
    assert reminder.date is not None and reminder.date.astimezone(PARIS).hour == 8

    await clock.set(datetime.combine(late_day, time(9, 30), tzinfo=PARIS))
    done = await team.submit(fait(reminder, clock.now()))
    answer = await team.wait_answer(done)
    nxt = weekly.when.rhythm.next_after(weekly.start or weekly.due, late_day)
    assert nxt is not None
    assert "Action 1" in answer.subject and format_date(nxt) in answer.text
    assert (await plan(team)).action(1).due == nxt

    await clock.set(datetime.combine(nxt, time(8, 0, 1), tzinfo=PARIS))
    await wait_until(lambda: reminders(team, JULIEN, format_date(nxt)), what="the next one")
    await wait_until(lambda: settled(team), what="everything sent")
    assert len([m for m in team.answers_to(JULIEN) if m.subject == late]) == 1
    assert len(reminders(team, JULIEN, format_date(nxt))) == 1
    assert not digests(team, JULIEN, format_date(nxt))


async def test_killed_between_send_and_record_sends_the_reminder_once(
        team: Team, example_messages: dict[str, bytes]) -> None:
    clock = await start_at_date_of(team, example_messages["01-nouveau-pps"])
    await team.wait_answer(await team.submit(example_messages["01-nouveau-pps"]))
    await wait_until(lambda: settled(team), what="the acknowledgement recorded")
    await team.stop()

    # Down over a week of due times; at start the missed reminders are sent
    # and the process dies right after SMTP accepted the first one, before
    # recording it.
    before = len(team.front.messages)
    await clock.set(datetime(2026, 11, 30, 10, 0, tzinfo=PARIS))
    await team.start(clock=clock, sender=CrashingSender(team.config.smtp, when="after-send"))
    await crashed(team)
    await team.stop()
    assert len(team.front.messages) > before   # one reminder got through

    await team.start(clock=clock)
    await wait_until(lambda: settled(team), timeout=20, what="recovery")
    assert len(digests(team, JULIEN, "30/11/2026")) == 1
    delivered = [(r, parse_mail(m.content).message_id) for m in team.front.messages
                 if m.mail_from == team.config.bot_address for r in m.rcpt_tos
                 if r != team.config.bot_address]
    assert len(delivered) == len(set(delivered)), "a mail went out twice"
    assert team.service is not None
    rows = await team.service.store.run(lambda tx: tx.reminders_of("PPS-2026-0001"))
    due = (await plan(team)).action(1).due
    assert due is not None
    sent = [r for r in rows if r.recipient == JULIEN and r.status == "sent"
            and r.payload["occurrence"] == due.isoformat() and r.kind == "plan_overdue"
            and not r.payload.get("recall")]
    assert len(sent) == 1 and sent[0].late


__all__ = ["Crash"]
