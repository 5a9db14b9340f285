"""Reminders around days off, through the real processor and engine on a
driven clock: the working day before, at the same hour, the due date kept."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from plans.days_off import DaysOff
from tests.integration.test_reminders_engine import Rig
from tests.support.mail import ANA, CLAIRE, SOPHIE, example

PARIS = ZoneInfo("Europe/Paris")


def _flat(text: str) -> str:
    return " ".join(text.replace("\xa0", " ").replace("\u202f", " ").split())


async def test_an_action_due_at_christmas_is_reminded_the_day_before(tmp_path: Path) -> None:
    rig = Rig(tmp_path, datetime(2026, 11, 23, 7, 0, tzinfo=UTC))
    await rig.start()
    try:
        await rig.mail(example("01-nouveau-pps.eml").replace(b"| 15/12/2026", b"| 25/12/2026"))
        assert (await rig.plan()).action(2).due == date(2026, 12, 25)
        await rig.run_until(datetime(2026, 12, 26, 12, tzinfo=UTC))
        (sent,) = [s for s in await rig.sent() if s.recipient == SOPHIE and s.kind == "plan_due"
                   and s.key.startswith("PPS-2026-0001:2:")]
        assert sent.local == datetime(2026, 12, 24, 8, tzinfo=PARIS)   # Thursday, 08:00
        body = _flat(sent.mail.body)
        assert ("Prévue le vendredi 25 décembre 2026, jour férié (Noël) : ce rappel part le "
                "dernier jour ouvré d'avant.") in body
        assert (await rig.plan()).action(2).due == date(2026, 12, 25)   # the date does not move
        # Nothing at all goes out on the day itself, nor on the weekend after.
        assert not [s for s in await rig.sent()
                    if s.local.date() in (date(2026, 12, 25), date(2026, 12, 26))]
    finally:
        await rig.stop()


async def test_good_friday_is_off_in_alsace_moselle_only(tmp_path: Path) -> None:
    raw = example("01-nouveau-pps.eml").replace(b"| 15/12/2026", b"| 26/03/2027")
    for territory, expected in (("metropole", date(2027, 3, 26)),
                                ("alsace-moselle", date(2027, 3, 25))):
        folder = tmp_path / territory
        folder.mkdir()
        rig = Rig(folder, datetime(2026, 11, 23, 7, 0, tzinfo=UTC),
                  days_off=DaysOff(territory=territory))
        await rig.start()
        try:
            await rig.mail(raw)
            await rig.run_until(datetime(2027, 3, 27, 12, tzinfo=UTC))
            (sent,) = [s for s in await rig.sent() if s.recipient == SOPHIE
                       and s.kind == "plan_due" and s.key.startswith("PPS-2026-0001:2:")]
            assert sent.local.date() == expected, territory
        finally:
            await rig.stop()


def _meeting(day: str) -> bytes:
    return ("From: Ana COSTA <ana.costa@esp-valdelorge.mssante.test>\r\n"
            "To: coordination@esp-valdelorge.mssante.test\r\nSubject: RCP NOUVELLE\r\n"
            "Date: Mon, 14 Dec 2026 09:00:00 +0100\r\nMessage-ID: <rcp-off@x.test>\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n"
            f"Date : {day} à 12h30\r\nLieu : salle\r\nParticipants : Dr DURAND\r\n").encode()


async def test_a_monday_meetings_eve_reminder_goes_before_the_long_weekend(
        tmp_path: Path) -> None:
    # Monday 04/01/2027: J-1 is a Sunday, Friday 01/01 is a holiday: Thursday 31/12.
    rig = Rig(tmp_path, datetime(2026, 12, 14, 7, 0, tzinfo=UTC))
    await rig.start()
    try:
        await rig.mail(_meeting("04/01/2027"))
        await rig.run_until(datetime(2027, 1, 4, 10, tzinfo=PARIS))
        sent = sorted((s.local, s.recipient, s.key.split(":")[2]) for s in await rig.sent()
                      if s.key.startswith("RCP-2026-001:"))
        assert sent == [(datetime(2026, 12, 28, 8, tzinfo=PARIS), ANA, "J-7"),
                        (datetime(2026, 12, 28, 8, tzinfo=PARIS), CLAIRE, "J-7"),
                        (datetime(2026, 12, 31, 8, tzinfo=PARIS), ANA, "J-1"),
                        (datetime(2026, 12, 31, 8, tzinfo=PARIS), CLAIRE, "J-1")]
        eve = next(s for s in await rig.sent() if s.key.startswith("RCP-2026-001:")
                   and s.local.date() == date(2026, 12, 31))
        assert "réunion RCP-2026-001 dans 4 jours" in (eve.mail.subject or "")
    finally:
        await rig.stop()


async def test_no_day_off_for_a_team_that_works_every_day(tmp_path: Path) -> None:
    rig = Rig(tmp_path, datetime(2026, 11, 23, 7, 0, tzinfo=UTC), days_off=DaysOff.none())
    await rig.start()
    try:
        await rig.mail(example("01-nouveau-pps.eml").replace(b"| 15/12/2026", b"| 25/12/2026"))
        await rig.run_until(datetime(2026, 12, 26, tzinfo=UTC))
        (sent,) = [s for s in await rig.sent() if s.recipient == SOPHIE
                   and s.kind == "plan_due" and s.key.startswith("PPS-2026-0001:2:")]
        assert sent.local == datetime.combine(date(2026, 12, 25), time(8), tzinfo=PARIS)
    finally:
        await rig.stop()
