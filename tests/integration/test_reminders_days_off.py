"""Reminders around days off, through the real processor and engine on a
driven clock: the working day before, at the same hour, the due date kept."""

from __future__ import annotations

import email.utils
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from plans.days_off import DaysOff
from tests.integration.test_reminders_engine import Rig
from tests.support.mail import ANA, CLAIRE, JULIEN, SOPHIE, example

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


@pytest.mark.parametrize("lag", [timedelta(0), timedelta(seconds=2)])
async def test_a_monday_meetings_eve_reminder_goes_before_the_long_weekend(
        tmp_path: Path, lag: timedelta) -> None:
    # Monday 04/01/2027: J-1 is a Sunday, Friday 01/01 is a holiday: Thursday 31/12.
    # With a scheduler that wakes a moment late, the first participant's
    # reminder must not push the others' to the holiday or the weekend.
    rig = Rig(tmp_path, datetime(2026, 12, 14, 7, 0, tzinfo=UTC))
    await rig.start()
    try:
        await rig.mail(_meeting("04/01/2027"))
        await rig.run_until(datetime(2027, 1, 4, 10, tzinfo=PARIS), lag=lag)
        sent = sorted((s.local.replace(second=0), s.recipient, s.key.split(":")[2])
                      for s in await rig.sent() if s.key.startswith("RCP-2026-001:"))
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


def _fait(number: int, at: datetime) -> bytes:
    return ("From: Julien MARIE <julien.marie@infirmier.mssante.test>\r\n"
            "To: coordination@esp-valdelorge.mssante.test\r\n"
            f"Subject: FAIT {number} PPS-2026-0001\r\n"
            f"Date: {email.utils.format_datetime(at)}\r\n"
            f"Message-ID: <fait-{at:%Y%m%d%H%M}@infirmier.mssante.test>\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\nRAS\r\n").encode()


@pytest.mark.parametrize("lag", [timedelta(0), timedelta(seconds=2)])
async def test_a_daily_actions_weekend_is_told_on_friday_in_the_one_mail(
        tmp_path: Path, lag: timedelta) -> None:
    """A nurse's daily visit, noted done each working day: Saturday's and
    Sunday's are in Friday's mail, nothing goes out on the weekend, Monday's
    comes on Monday, and never two reminder mails in a morning, whether the
    scheduler wakes on the dot or a moment late (rows a pass writes for the
    days ahead must not fall behind it)."""
    raw = example("01-nouveau-pps.eml").replace(b"| chaque semaine", b"| tous les jours")
    rig = Rig(tmp_path, datetime(2026, 11, 23, 7, 0, tzinfo=UTC))
    await rig.start()
    try:
        await rig.mail(raw)
        day = date(2026, 11, 24)
        while day <= date(2026, 12, 8):
            await rig.run_until(datetime.combine(day, time(12), tzinfo=PARIS), lag=lag)
            if day.weekday() < 5:
                await rig.mail(_fait(1, datetime.combine(day, time(12), tzinfo=PARIS)))
            day += timedelta(days=1)
        mine = [s for s in await rig.sent() if s.recipient == JULIEN]
        daily = sorted({s.local.date() for s in mine if s.key.startswith("PPS-2026-0001:1:")})
        assert daily == [d for d in (date(2026, 11, 24) + timedelta(days=n) for n in range(15))
                         if d.weekday() < 5]
        friday = [s for s in mine if s.local.date() == date(2026, 11, 27)]
        told = {s.key.split(":")[2] for s in friday if s.key.startswith("PPS-2026-0001:1:")}
        assert {"2026-11-28", "2026-11-29"} <= told
        by_mail = {(s.recipient, s.local.date(), s.mail.message_id) for s in await rig.sent()}
        per_day = Counter((who, d) for who, d, _ in by_mail)
        assert max(per_day.values()) == 1, per_day.most_common(3)
    finally:
        await rig.stop()
