"""Concertation meetings end to end: example 04 through the real mailbox, its
invitation read back as iCalendar, its reminders on a driven clock, the
compte-rendu, cancellations, and a team overseas."""

from __future__ import annotations

import dataclasses
import email
from datetime import date, datetime
from email import policy
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar

from esp_coord.clock import DrivenClock
from esp_coord.intake import IncomingMail, parse_mail
from plans.attendance import answers_on
from plans.meetings import Meeting
from plans.model import Plan
from tests.e2e.clocked import start_at_date_of
from tests.e2e.harness import Team, wait_until
from tests.support.calendar_replies import outlook_reply, thunderbird_reply

PARIS = ZoneInfo("Europe/Paris")
ANA = ("Ana COSTA", "ana.costa@esp-valdelorge.mssante.test")
CLAIRE = "claire.durand@medecin.mssante.test"
FONTAINE = "lea.fontaine@dieteticien.mssante.test"
BOT_DOMAIN = "esp-valdelorge.mssante.test"


def _mail(subject: str, body: str, mid: str, when: datetime, sender=ANA) -> bytes:
    return (f"From: {sender[0]} <{sender[1]}>\r\nTo: coordination@{BOT_DOMAIN}\r\n"
            f"Subject: {subject}\r\nMessage-ID: <{mid}@esp.test>\r\n"
            f"Date: {email.utils.format_datetime(when)}\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body.replace("\n", "\r\n")
            + "\r\n").encode()


def sent_raw(team: Team, address: str) -> list[bytes]:
    return [m.content for m in team.front.messages
            if m.mail_from == team.config.bot_address and address in m.rcpt_tos]


def calendars(raw: bytes) -> list[tuple[str, Calendar]]:
    """Every text/calendar part of a mail: (its Content-Type, the parsed calendar)."""
    msg = email.message_from_bytes(raw, policy=policy.default)
    found = []
    for part in msg.walk():
        if part.get_content_type() == "text/calendar":
            cal = Calendar.from_ical(part.get_payload(decode=True))
            found.append((str(part["Content-Type"]), cal))
    return found


def event_of(cal: Calendar):  # type: ignore[no-untyped-def]
    events = cal.walk("VEVENT")
    assert len(events) == 1
    return events[0]


async def load(team: Team, kind: str, ref: str) -> dict:  # type: ignore[type-arg]
    assert team.service is not None
    doc = await team.service.store.run(lambda tx: tx.load_document(kind, ref))
    assert doc is not None, ref
    return doc.data


async def submit_and_answer(team: Team, raw: bytes, clock: DrivenClock) -> IncomingMail:
    mail = parse_mail(raw)
    assert mail.date is not None
    await clock.set(mail.date)
    return await team.wait_answer(await team.submit(raw))


def _is_reminder(subject: str, ref: str) -> bool:
    """A meeting reminder alone, or in the person's daily digest."""
    return f"[{ref}] Rappel" in subject or (subject.startswith("Rappels du ")
                                            and f"réunion {ref} " in subject)


async def reminders_to(team: Team, address: str, ref: str, count: int) -> list[IncomingMail]:
    def found() -> list[IncomingMail]:
        return [parse_mail(r) for r in sent_raw(team, address)
                if _is_reminder(parse_mail(r).subject, ref)]

    await wait_until(lambda: len(found()) >= count, what=f"{count} reminder(s) to {address}")
    return found()


async def cancel_seen_by_claire(team: Team, clock: DrivenClock, raw: bytes
                                ) -> tuple[Calendar, Any]:
    """Submits the cancelling mail ``raw``; the calendar Claire then got, and its event."""
    before = len(sent_raw(team, CLAIRE))
    await submit_and_answer(team, raw, clock)
    await wait_until(lambda: len(sent_raw(team, CLAIRE)) > before, what="cancel to Claire")
    cal = calendars(sent_raw(team, CLAIRE)[-1])[0][1]
    return cal, event_of(cal)


async def test_example_04_invitation_reminders_report_and_cancellations(
        team: Team, example_messages: dict[str, bytes]) -> None:
    clock = await start_at_date_of(team, example_messages["01-nouveau-pps"])
    members = [m.email for m in team.config.members]
    await submit_and_answer(team, example_messages["01-nouveau-pps"], clock)
    ack = await submit_and_answer(team, example_messages["04-rcp-nouvelle"], clock)

    # Created: RCP-2026-001 on 2026-12-03 12:30-14:00 Paris, first Thursday monthly.
    assert "RCP-2026-001" in ack.subject and "PPS-2026-0001 MARTIN Jeanne" in ack.text
    meeting = Meeting.from_dict(await load(team, "meeting", "RCP-2026-001"))
    assert meeting.start == datetime(2026, 12, 3, 12, 30, tzinfo=PARIS)
    assert meeting.duration_minutes == 90 and meeting.everyone
    assert set(meeting.participants) == set(members)
    assert meeting.plans == ["PPS-2026-0001"]
    assert [s.date() for s in meeting.occurrences(clock.now(), 3)] == [
        date(2026, 12, 3), date(2027, 1, 7), date(2027, 2, 4)]

    # The invitation went to every other member, valid iCalendar, METHOD:REQUEST.
    for address in members:
        await wait_until(lambda a=address: any(calendars(r) for r in sent_raw(team, a)),
                         what=f"invitation to {address}")
    invite = next(r for r in sent_raw(team, CLAIRE) if calendars(r))
    kinds = [ct for ct, _ in calendars(invite)]
    assert any("method=REQUEST" in k.replace('"', "") for k in kinds)
    cal = calendars(invite)[0][1]
    assert cal["METHOD"] == "REQUEST"
    assert [tz["TZID"] for tz in cal.walk("VTIMEZONE")] == ["Europe/Paris"]
    event = event_of(cal)
    assert str(event["UID"]) == f"RCP-2026-001@{BOT_DOMAIN}"
    assert int(event["SEQUENCE"]) == 0
    assert event.decoded("DTSTART") == datetime(2026, 12, 3, 12, 30, tzinfo=PARIS)
    assert event["DTSTART"].params["TZID"] == "Europe/Paris"
    assert event.decoded("DTEND") == datetime(2026, 12, 3, 14, 0, tzinfo=PARIS)
    assert event["RRULE"].to_ical() == b"FREQ=MONTHLY;BYDAY=TH;BYSETPOS=1"
    assert str(event["ORGANIZER"]) == f"mailto:coordination@{BOT_DOMAIN}"
    attendees = {str(a).removeprefix("mailto:"): a.params for a in event["ATTENDEE"]}
    assert set(attendees) == set(members)
    assert all(p["PARTSTAT"] == "NEEDS-ACTION" and p["RSVP"] == "TRUE"
               for p in attendees.values())
    assert "MARTIN" not in cal.to_ical().decode()      # no patient data in calendars

    # J-7 (26/11 08:00 Paris) and J-1 (02/12 08:00) to every member, agenda
    # inside, in each one's daily digest (with the invitation attached).
    await clock.set(datetime(2026, 11, 26, 8, 0, 1, tzinfo=PARIS))
    for address in members:
        (j7,) = await reminders_to(team, address, "RCP-2026-001", 1)
        assert "RCP-2026-001 dans 7 jours" in j7.subject and "PPS-2026-0001" in j7.text
    (claire_j7,) = await reminders_to(team, CLAIRE, "RCP-2026-001", 1)
    assert "MARTIN Jeanne" in claire_j7.text          # her patient
    (lea_j7,) = await reminders_to(team, FONTAINE, "RCP-2026-001", 1)
    assert "MARTIN" not in lea_j7.text                 # not on the plan's team
    assert any(calendars(r) for r in sent_raw(team, FONTAINE)
               if _is_reminder(parse_mail(r).subject, "RCP-2026-001"))
    await clock.set(datetime(2026, 12, 2, 8, 0, 1, tzinfo=PARIS))
    for address in members:
        reminders = await reminders_to(team, address, "RCP-2026-001", 2)
        assert sorted("RCP-2026-001 demain" in r.subject for r in reminders) == [False, True]

    # STATUT names the next meeting where the plan is on the agenda.
    status = await submit_and_answer(team, _mail("STATUT PPS-2026-0001", "", "st1",
                                                 datetime(2026, 12, 2, 9, 0, tzinfo=PARIS)),
                                     clock)
    assert "Prochaine concertation" in status.text and "RCP-2026-001" in status.text

    # The compte-rendu after the meeting: note in the plan, plan reviewed, meeting held.
    report = await submit_and_answer(team, _mail(
        "COMPTE-RENDU RCP-2026-001", "Présents : Dr DURAND, IDE MARIE, Dr HOUSE (CHU)\n"
        "PPS-2026-0001 : poursuite du plan, HbA1c dans 3 mois",
        "cr1", datetime(2026, 12, 3, 15, 0, tzinfo=PARIS)), clock)
    assert "03/06/2027" in report.text
    # What the activity report will count as attendance, and who it will not.
    text = report.text.replace("\xa0", " ")  # French typography's spaces
    assert "Comptés présents dans le rapport d'activité : Claire DURAND, Julien MARIE." in text
    assert "pas compté : « Dr HOUSE (CHU) » ne désigne personne de l'équipe ni de l'annuaire" \
        in text
    assert "ligne sans référence de plan" not in text
    plan = Plan.from_dict(await load(team, "plan", "PPS-2026-0001"))
    assert plan.review_date == date(2027, 6, 3)
    assert any("RCP-2026-001" in n.text and "HbA1c dans 3 mois" in n.text
               and n.author == ANA[1] for n in plan.notes)
    meeting = Meeting.from_dict(await load(team, "meeting", "RCP-2026-001"))
    assert meeting.held_on(date(2026, 12, 3)) is not None and meeting.plans == []

    # Cancel one occurrence: METHOD:CANCEL with RECURRENCE-ID, SEQUENCE bumped.
    cal, event = await cancel_seen_by_claire(team, clock, _mail(
        "ANNULER RCP-2026-001 du 07/01/2027", "congés", "an1",
        datetime(2026, 12, 4, 9, 0, tzinfo=PARIS)))
    assert cal["METHOD"] == "CANCEL" and int(event["SEQUENCE"]) == 1
    assert str(event["UID"]) == f"RCP-2026-001@{BOT_DOMAIN}"
    assert event.decoded("RECURRENCE-ID") == datetime(2027, 1, 7, 12, 30, tzinfo=PARIS)
    assert str(event["STATUS"]) == "CANCELLED"
    assert team.service is not None
    pending = await team.service.store.run(
        lambda tx: tx.reminders_of("RCP-2026-001", status="pending"))
    assert {r.payload["day"] for r in pending} == {"2027-02-04", "2027-03-04"}

    # Cancel the series: METHOD:CANCEL without RECURRENCE-ID, no reminder left.
    cal, event = await cancel_seen_by_claire(team, clock, _mail(
        "ANNULER RCP-2026-001", "", "an2", datetime(2026, 12, 4, 10, 0, tzinfo=PARIS)))
    assert cal["METHOD"] == "CANCEL" and int(event["SEQUENCE"]) == 2
    assert "RECURRENCE-ID" not in event
    pending = await team.service.store.run(
        lambda tx: tx.reminders_of("RCP-2026-001", status="pending"))
    assert pending == []


async def test_rights_and_listing(team: Team, example_messages: dict[str, bytes]) -> None:
    clock = await start_at_date_of(team, example_messages["01-nouveau-pps"])
    await submit_and_answer(team, example_messages["01-nouveau-pps"], clock)
    await submit_and_answer(team, example_messages["04-rcp-nouvelle"], clock)
    when = datetime(2026, 11, 25, 10, 0, tzinfo=PARIS)
    lea = ("Lea FONTAINE", FONTAINE)
    # Léa lists her meetings: the reference of the plan, not the patient.
    listing = await submit_and_answer(team, _mail("RCP", "", "l1", when, lea), clock)
    assert "RCP-2026-001" in listing.text and "PPS-2026-0001" in listing.text
    assert "MARTIN" not in listing.text
    # She may neither cancel it nor put a plan she does not follow on its agenda.
    refused = await submit_and_answer(team, _mail("ANNULER RCP-2026-001", "", "a1", when, lea),
                                      clock)
    assert "Seuls l'organisateur" in refused.text
    added = await submit_and_answer(team, _mail("RCP RCP-2026-001", "Patients : PPS-2026-0001",
                                                "p1", when, lea), clock)
    assert "introuvable" in added.text
    # A reply to the invitation finds the meeting without its reference.
    invite = next(parse_mail(r) for r in sent_raw(team, CLAIRE) if calendars(r))
    reply = _mail("RCP", "Patients : PPS-2026-0001", "p2", when, ("Claire DURAND", CLAIRE))
    reply = reply.replace(b"Message-ID:", f"In-Reply-To: {invite.message_id}\r\n"
                          "Message-ID:".encode())
    again = await submit_and_answer(team, reply, clock)
    assert "RCP-2026-001" in again.subject and "déjà à l'ordre du jour" in again.text
    # Unknown and invisible meetings get the same answer.
    unknown = await submit_and_answer(team, _mail("ANNULER RCP-2026-099", "", "a2", when, lea),
                                      clock)
    assert "Je ne trouve pas la réunion RCP-2026-099" in unknown.text
    meeting = Meeting.from_dict(await load(team, "meeting", "RCP-2026-001"))
    assert meeting.is_active and meeting.sequence == 0


async def test_calendar_answers_are_recorded_never_answered(
        team: Team, example_messages: dict[str, bytes]) -> None:
    """« Accepté » from Outlook, « Refusé » for one day from Thunderbird, and
    an unreadable answer, through the real mailbox: the first two are kept on
    the meeting, none gets a mail back (no loop with the client), and the
    unreadable one waits for the coordination's morning notice."""
    clock = await start_at_date_of(team, example_messages["01-nouveau-pps"])
    await submit_and_answer(team, example_messages["01-nouveau-pps"], clock)
    ack = await submit_and_answer(team, example_messages["04-rcp-nouvelle"], clock)
    assert "RCP-2026-001" in ack.text
    await wait_until(lambda: sent_raw(team, CLAIRE), what="invitation to Claire")
    assert team.service is not None
    store = team.service.store
    queued = sum((await store.run(lambda tx: tx.outbox_stats())).values())
    when = datetime(2026, 11, 25, 10, 0, tzinfo=PARIS)
    julien = ("Julien MARIE", "julien.marie@infirmier.mssante.test")
    answers = [
        outlook_reply(name="DURAND Claire", address=CLAIRE, status="ACCEPTED", when=when,
                      mid="e2e-accept"),
        thunderbird_reply(name=julien[0], address=julien[1], status="ACCEPTED", when=when,
                          mid="e2e-decline", days={date(2026, 12, 3): "DECLINED"}),
        outlook_reply(name="DURAND Claire", address=CLAIRE, status="TENTATIVE", when=when,
                      mid="e2e-broken", calendar="BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\n"
                      "BEGIN:VEVENT\r\nATTENDEE;PARTSTAT=TENTATIVE:mailto:" + CLAIRE + "\r\n"),
    ]
    for raw in answers:
        assert await team.wait_outcome(await team.submit(raw)) == "ignored"
    meeting = Meeting.from_dict(await load(team, "meeting", "RCP-2026-001"))
    assert {(r.attendee, r.status, r.day) for r in meeting.replies} == {
        (CLAIRE, "accepted", None), (julien[1], "accepted", None),
        (julien[1], "declined", date(2026, 12, 3))}
    assert answers_on(meeting.replies, date(2026, 12, 3)) == {
        CLAIRE: "accepted", julien[1]: "declined"}
    assert sum((await store.run(lambda tx: tx.outbox_stats())).values()) == queued
    reasons = await store.run(lambda tx: [r.reason for r in tx.recent_of_sender(
        CLAIRE, datetime(2026, 11, 1, tzinfo=PARIS))])
    assert reasons[:2] == ["calendar-unmatched", "calendar-reply"]  # newest first
    assert await store.run(lambda tx: tx.unreported_quarantine())


async def test_a_team_overseas_meets_on_its_own_clock(team: Team) -> None:
    martinique = ZoneInfo("America/Martinique")
    team.config = dataclasses.replace(team.config, timezone=martinique)
    clock = DrivenClock(datetime(2026, 11, 25, 9, 0, tzinfo=martinique))
    await team.start(clock=clock)
    ack = await submit_and_answer(team, _mail(
        "RCP NOUVELLE", "Date : 03/12/2026 à 12h30\nDurée : 1h\nLieu : https://visio.test/rcp\n"
        "Participants : Dr DURAND, IDE\nRécurrence : toutes les 2 semaines", "m1",
        datetime(2026, 11, 25, 9, 0, tzinfo=martinique)), clock)
    assert "jeudi 3 décembre 2026 à 12h30" in ack.text
    await wait_until(lambda: sent_raw(team, CLAIRE), what="invitation to Claire")
    cal = calendars(sent_raw(team, CLAIRE)[-1])[0][1]
    event = event_of(cal)
    assert [tz["TZID"] for tz in cal.walk("VTIMEZONE")] == ["America/Martinique"]
    assert event["DTSTART"].params["TZID"] == "America/Martinique"
    assert event.decoded("DTSTART") == datetime(2026, 12, 3, 12, 30, tzinfo=martinique)
    assert event["RRULE"].to_ical() == b"FREQ=WEEKLY;INTERVAL=2"
    assert team.service is not None
    pending = await team.service.store.run(
        lambda tx: tx.reminders_of("RCP-2026-001", status="pending"))
    # J-7 / J-1 at 08:00 in Martinique (12:00 UTC), for Claire, Julien and Ana.
    assert {r.recipient for r in pending} == {CLAIRE, "julien.marie@infirmier.mssante.test",
                                              ANA[1]}
    assert {r.due_at.astimezone(martinique).time().isoformat() for r in pending} == {"08:00:00"}
    assert {r.due_at.astimezone(martinique).date() for r in pending} == {
        date(2026, 11, 26), date(2026, 12, 2), date(2026, 12, 10), date(2026, 12, 16)}
