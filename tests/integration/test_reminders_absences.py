"""Absences through the real processor and engine, on a driven clock: the
member gets nothing while away, their substitute (else the plan's referent
and the coordination) gets what falls due, marked so; an out-of-office reply
gives the dates and is never answered; STATUT, agendas and ABSENCES show it."""

from __future__ import annotations

import email.utils
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from esp_coord.intake import IncomingMail, parse_mail
from tests.integration.test_reminders_engine import Rig, Sent
from tests.support.mail import ANA, CLAIRE, JULIEN, SOPHIE, example

PARIS = ZoneInfo("Europe/Paris")
PAUL = "paul.girard@medecin.mssante.test"
NAMES = {JULIEN: "Julien MARIE", CLAIRE: "Claire DURAND", ANA: "Ana COSTA", PAUL: "Paul GIRARD",
         SOPHIE: "Sophie LEROY"}
_count = 0


def flat(text: str) -> str:
    return " ".join(text.replace("\xa0", " ").replace("\u202f", " ").split())


def member_mail(sender: str, subject: str, body: str, at: datetime, *,
                in_reply_to: str | None = None, headers: str = "") -> bytes:
    global _count
    _count += 1
    thread = f"In-Reply-To: {in_reply_to}\r\nReferences: {in_reply_to}\r\n" if in_reply_to else ""
    return (f"From: {NAMES[sender]} <{sender}>\r\nTo: coordination@esp-valdelorge.mssante.test"
            f"\r\nSubject: {subject}\r\nDate: {email.utils.format_datetime(at)}\r\n"
            f"Message-ID: <abs-{_count}@{sender.split('@')[1]}>\r\n{thread}{headers}"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            f"{body}\r\n").encode()


async def answers(rig: Rig, mail: IncomingMail) -> list[IncomingMail]:
    return [parse_mail(i.raw) for i in await rig.outbox() if i.cause == mail.dedup_key]


def at(day: date, hour: int = 9) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=PARIS)


def during(sent: list[Sent], who: str, first: date, last: date) -> list[Sent]:
    return [s for s in sent if s.recipient == who and first <= s.local.date() <= last]


async def test_the_substitute_gets_and_may_answer_what_falls_due(tmp_path: Path) -> None:
    rig = Rig(tmp_path, datetime(2026, 11, 23, 7, 0, tzinfo=UTC))
    await rig.start()
    try:
        await rig.mail(example("01-nouveau-pps.eml"))
        await rig.mail(member_mail(JULIEN, "FAIT 1 PPS-2026-0001", "", at(date(2026, 11, 24))))
        assert (await rig.plan()).action(1).due == date(2026, 12, 1)
        declared = await rig.mail(member_mail(
            JULIEN, "ABSENCE du 30/11/2026 au 06/12/2026", "Remplaçant : Dr GIRARD",
            at(date(2026, 11, 24), 10)))
        (ack,) = await answers(rig, declared)
        assert ack.subject == "RE: ABSENCE du 30/11/2026 au 06/12/2026"
        assert ("Absence enregistrée : Julien MARIE, du 30/11/2026 au 06/12/2026 "
                "(remplacement : Paul GIRARD).") in flat(ack.body)

        status = await rig.mail(member_mail(CLAIRE, "STATUT PPS-2026-0001", "",
                                            at(date(2026, 11, 25))))
        (shown,) = await answers(rig, status)
        assert ("Absences dans l'équipe du plan : - Julien MARIE, du 30/11/2026 au 06/12/2026 "
                "(remplacement : Paul GIRARD)") in flat(shown.body)

        await rig.run_until(at(date(2026, 12, 1), 8) .replace(minute=1))
        sent = await rig.sent()
        assert during(sent, JULIEN, date(2026, 11, 30), date(2026, 12, 6)) == []
        (covered,) = [s for s in during(sent, PAUL, date(2026, 12, 1), date(2026, 12, 1))
                      if s.key.startswith("PPS-2026-0001:1:2026-12-01:plan_due:")]
        assert covered.recipient == PAUL
        body = flat(covered.mail.body)
        assert "En remplacement de Julien MARIE (absence jusqu'au 06/12/2026)." in body
        assert "FAIT 1 PPS-2026-0001" in body
        # Paul is not on the plan's team: as the substitute, he may answer.
        done = await rig.mail(member_mail(PAUL, "RE: Rappels", "FAIT 1 PPS-2026-0001",
                                          at(date(2026, 12, 1)),
                                          in_reply_to=covered.mail.message_id))
        (answer,) = await answers(rig, done)
        assert "Action 1 du plan PPS-2026-0001 notée faite le 01/12/2026" in flat(answer.body)
        assert (await rig.plan()).action(1).done[-1].by == PAUL

        # Back on the 7th: his own reminders again (the next one, 08/12).
        await rig.run_until(at(date(2026, 12, 8), 12))
        again = [s for s in await rig.sent() if s.recipient == JULIEN
                 and s.key.startswith("PPS-2026-0001:1:2026-12-08:plan_due:")]
        assert [s.local.date() for s in again] == [date(2026, 12, 8)]
        assert not [s for s in await rig.sent() if s.recipient == PAUL
                    and s.local.date() >= date(2026, 12, 7)]
        # And Paul's access ends with it: the same answer as for no such plan.
        after = await rig.mail(member_mail(PAUL, "STATUT PPS-2026-0001", "",
                                           at(date(2026, 12, 8), 13)))
        unknown = await rig.mail(member_mail(PAUL, "STATUT PPS-2026-0999", "",
                                             at(date(2026, 12, 8), 14)))
        (refused,), (none,) = await answers(rig, after), await answers(rig, unknown)
        assert none.body.replace("PPS-2026-0999", "PPS-2026-0001") == refused.body
        assert "MARTIN" not in refused.body
    finally:
        await rig.stop()


async def test_without_substitute_the_referent_and_coordination_cover(tmp_path: Path) -> None:
    rig = Rig(tmp_path, datetime(2026, 11, 23, 7, 0, tzinfo=UTC))
    await rig.start()
    try:
        await rig.mail(example("01-nouveau-pps.eml"))
        await rig.mail(member_mail(JULIEN, "ABSENCE", "du 25/11/2026 au 02/12/2026",
                                   at(date(2026, 11, 23), 10)))
        await rig.run_until(at(date(2026, 12, 3), 12))
        sent = await rig.sent()
        assert during(sent, JULIEN, date(2026, 11, 25), date(2026, 12, 2)) == []
        # Action 1 (due 24/11) is overdue on the 27th: its notice goes to Claire and Ana.
        late = [s for s in sent if s.kind == "plan_overdue" and ":1:" in s.key
                and s.local.date() == date(2026, 11, 27)]
        assert sorted(s.recipient for s in late) == [ANA, CLAIRE]
        assert all("En remplacement de Julien MARIE" in flat(s.mail.body) for s in late)
        # Their team follow-up says where the reminder went, not « sent to him ».
        for s in late:
            assert ("confiée à Julien MARIE En retard de 3 jours (prévue le 24/11/2026) ; en "
                    "l'absence de Julien MARIE (jusqu'au 02/12/2026), le rappel va à qui "
                    "assure le remplacement.") in flat(s.mail.body)
    finally:
        await rig.stop()


async def test_an_out_of_office_reply_is_read_and_never_answered(tmp_path: Path) -> None:
    rig = Rig(tmp_path, datetime(2026, 11, 23, 7, 0, tzinfo=UTC))
    await rig.start()
    try:
        await rig.mail(example("01-nouveau-pps.eml"))
        await rig.run_until(at(date(2026, 12, 15), 8).replace(second=2))
        auto = await rig.mail(example("09-absence-auto.eml"))   # 15/12 08:00:03, Sophie
        assert await answers(rig, auto) == []
        record = await rig.store.run(lambda tx: tx.processed(auto.dedup_key))
        assert record is not None and record.outcome == "ignored"
        absences = await rig.store.run(lambda tx: tx.load_document("absences", "equipe"))
        assert absences is not None
        assert absences.data["absences"] == [{
            "member": SOPHIE, "start": "2026-12-15", "end": "2027-01-04", "substitute": None,
            "source": "auto-reply", "at": absences.data["absences"][0]["at"]}]
        # Her protocol follow-up due 23/12 goes to the referent and the coordination.
        await rig.run_until(at(date(2027, 1, 5), 12))
        sent = await rig.sent()
        assert during(sent, SOPHIE, date(2026, 12, 16), date(2027, 1, 4)) == []
        covered = [s for s in sent if s.kind == "plan_due" and s.local.date() == date(2026, 12, 23)
                   and s.recipient in (CLAIRE, ANA) and s.mail.body.count("Sophie LEROY")]
        assert sorted({s.recipient for s in covered}) == [ANA, CLAIRE]
        # The same reply again changes nothing.
        again = await rig.mail(example("09-absence-auto.eml").replace(
            b"auto-20261215080003", b"auto-20270105090000").replace(
            b"Tue, 15 Dec 2026 08:00:03", b"Tue, 05 Jan 2027 09:00:00"))
        assert await answers(rig, again) == []
    finally:
        await rig.stop()


async def test_an_auto_reply_without_headers_is_not_a_command_but_a_new_mail_is(
        tmp_path: Path) -> None:
    rig = Rig(tmp_path, datetime(2026, 11, 23, 7, 0, tzinfo=UTC))
    await rig.start()
    try:
        await rig.mail(example("01-nouveau-pps.eml"))
        await rig.run_until(at(date(2026, 11, 27), 8).replace(minute=1))
        digest = next(s.mail for s in await rig.sent() if s.recipient == JULIEN)
        robot = await rig.mail(member_mail(JULIEN, "Absence du 20/12 au 04/01", "",
                                           at(date(2026, 11, 27)),
                                           in_reply_to=digest.message_id))
        assert await answers(rig, robot) == []
        record = await rig.store.run(lambda tx: tx.processed(robot.dedup_key))
        assert record is not None and record.outcome == "ignored"
        stored = await rig.store.run(lambda tx: tx.load_document("absences", "equipe"))
        assert stored is not None and [(a["member"], a["source"]) for a in
                                       stored.data["absences"]] == [(JULIEN, "auto-reply")]
        person = await rig.mail(member_mail(CLAIRE, "Absence du 20/12 au 04/01", "",
                                            at(date(2026, 11, 27), 10)))
        (ack,) = await answers(rig, person)
        assert "Absence enregistrée : Claire DURAND, du 20/12/2026 au 04/01/2027." in flat(
            ack.body)

        listing = await rig.mail(member_mail(ANA, "ABSENCES", "", at(date(2026, 11, 27), 11)))
        (listed,) = await answers(rig, listing)
        text = flat(listed.body)
        assert "À venir : - Claire DURAND, du 20/12/2026 au 04/01/2027" in text
        assert "- Julien MARIE, du 20/12/2026 au 04/01/2027 (lue dans une réponse automatique)" \
            in text
        mine = await rig.mail(member_mail(JULIEN, "ABSENCES", "", at(date(2026, 11, 27), 12)))
        (own,) = await answers(rig, mine)
        assert "Claire DURAND" not in own.body and "réservée à la coordination" in flat(own.body)

        cancel = await rig.mail(member_mail(CLAIRE, "ANNULER ABSENCE", "",
                                            at(date(2026, 11, 27), 13)))
        (cancelled,) = await answers(rig, cancel)
        assert "Absence annulée pour Claire DURAND : du 20/12/2026 au 04/01/2027." in flat(
            cancelled.body)
    finally:
        await rig.stop()


def meeting_mail(day: str, sent: datetime) -> bytes:
    return member_mail(ANA, "RCP NOUVELLE", f"Date : {day} à 12h30\r\nLieu : salle\r\n"
                       "Participants : tous\r\nPatients : PPS-2026-0001", sent)


async def test_an_absent_participant_gets_no_meeting_reminder_and_agendas_say_so(
        tmp_path: Path) -> None:
    rig = Rig(tmp_path, datetime(2026, 11, 23, 7, 0, tzinfo=UTC))
    await rig.start()
    try:
        await rig.mail(example("01-nouveau-pps.eml"))
        await rig.mail(meeting_mail("03/12/2026", at(date(2026, 11, 23), 10)))
        await rig.mail(member_mail(JULIEN, "ABSENCE du 30/11/2026 au 06/12/2026",
                                   "Remplaçant : Dr GIRARD", at(date(2026, 11, 23), 11)))
        await rig.run_until(at(date(2026, 12, 3), 9))
        meeting = [s for s in await rig.sent() if s.key.startswith("RCP-2026-001:")]
        j1 = [s for s in meeting if s.local.date() == date(2026, 12, 2)]
        # Away on the meeting's day: neither its J-7 (sent before he left) nor its J-1.
        assert j1 and JULIEN not in {s.recipient for s in meeting}
        assert CLAIRE in {s.recipient for s in meeting if s.local.date() == date(2026, 11, 26)}
        claire = next(s for s in j1 if s.recipient == CLAIRE)
        assert ("Absents ce jour-là : Julien MARIE, du 30/11/2026 au 06/12/2026 (remplacement : "
                "Paul GIRARD).") in flat(claire.mail.body)
    finally:
        await rig.stop()
