"""Meeting reminders across stops of the service, on a real store and a driven clock.

A series keeps reminder rows for its next two meetings only; these tests stop
the service past them and check that the series is reminded again after the
restart, that nothing is sent for meetings already over, and that a reminder
missed for a meeting still ahead goes out once, worded from the real gap.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.integration.test_reminders_engine import Rig, Sent
from tests.support.mail import ANA, CLAIRE
from tests.support.store import Backend

PARIS = ZoneInfo("Europe/Paris")
REF = "RCP-2026-001"


def meeting_mail(recurrence: str = "") -> bytes:
    """Ana plans, on Wed 25/11/2026, a meeting on Thu 03/12/2026 12:30 with Dr DURAND."""
    return ("From: Ana COSTA <ana.costa@esp-valdelorge.mssante.test>\r\n"
            "To: coordination@esp-valdelorge.mssante.test\r\nSubject: RCP NOUVELLE\r\n"
            "Date: Wed, 25 Nov 2026 08:45:00 +0100\r\nMessage-ID: <rcp-stop@x.test>\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n"
            "Date : 03/12/2026 à 12h30\r\nLieu : salle\r\nParticipants : Dr DURAND\r\n"
            + (f"Récurrence : {recurrence}\r\n" if recurrence else "")).encode()


def meeting_reminders(sent: list[Sent]) -> list[tuple[date, str, str, date]]:
    """(meeting day, planned offset, recipient, local day sent), from the row keys."""
    out = []
    for s in sent:
        ref, day, offset, _ = s.key.split(":", 3)
        if ref == REF:
            out.append((date.fromisoformat(day), offset, s.recipient, s.local.date()))
    return sorted(out)


async def test_a_weekly_series_is_reminded_again_after_a_three_week_stop(
        tmp_path: Path, backend: Backend) -> None:
    # On SQLite and on PostgreSQL.
    rig = Rig(tmp_path, datetime(2026, 11, 25, 7, 0, tzinfo=UTC), backend=backend)
    await rig.start()
    await rig.mail(meeting_mail("chaque semaine"))
    made = {(r.payload["day"], r.payload["offset"]) for r in await rig.rows(REF)}
    assert {d for d, _ in made} == {"2026-12-03", "2026-12-10"}   # two meetings ahead only
    await rig.stop()
    # Down three weeks: past the 03/12 and 10/12 meetings, and the J-7 and
    # J-1 of the 17/12 one.
    await rig.clock.set(datetime(2026, 12, 16, 10, 0, tzinfo=PARIS))
    await rig.start()
    try:
        at_start = meeting_reminders(await rig.sent())
        # Nothing for meetings already over; for tomorrow's, one reminder each, late.
        assert at_start == [(date(2026, 12, 17), "J-1", ANA, date(2026, 12, 16)),
                            (date(2026, 12, 17), "J-1", CLAIRE, date(2026, 12, 16))]
        late = [s for s in await rig.sent() if s.key.startswith(REF)]
        assert all("demain" in s.mail.body for s in late)
        rows = await rig.rows(REF)
        assert not [r for r in rows if r.payload["day"] in ("2026-12-03", "2026-12-10")
                    and r.status in ("pending", "sent")]
        assert all(r.late for r in rows if r.status == "sent")

        await rig.stop()
        await rig.start()        # a second start sends nothing again
        assert meeting_reminders(await rig.sent()) == at_start
        await rig.run_until(datetime(2027, 1, 10, tzinfo=PARIS))
        after = [x for x in meeting_reminders(await rig.sent()) if x not in at_start]
        # Every later meeting: J-7 and J-1 on their own days, to both participants.
        expected = [(day, f"J-{n}", who, date.fromordinal(day.toordinal() - n))
                    for day in (date(2026, 12, 24), date(2026, 12, 31), date(2027, 1, 7))
                    for n in (1, 7) for who in (ANA, CLAIRE)]
        expected += [(date(2027, 1, 14), "J-7", who, date(2027, 1, 7)) for who in (ANA, CLAIRE)]
        assert after == sorted(expected)
        assert {s.local.time() for s in await rig.sent() if s.key.startswith(REF)
                and s.local.date() != date(2026, 12, 16)} == {time(8)}
    finally:
        await rig.stop()


@pytest.mark.parametrize(("restart", "subject", "wording"), [
    # J-7 missed alone: sent late, six days before.
    (datetime(2026, 11, 27, 9, 0, tzinfo=PARIS), "Rappel J-6", "dans 6 jours"),
    # J-7 and J-1 both missed: the J-1 only, « demain ».
    (datetime(2026, 12, 2, 9, 0, tzinfo=PARIS), "Rappel J-1", "demain"),
    # Back on the morning of the meeting: one reminder, « aujourd'hui ».
    (datetime(2026, 12, 3, 9, 0, tzinfo=PARIS), "Rappel jour J", "aujourd'hui"),
    # Back after it: nothing.
    (datetime(2026, 12, 3, 15, 0, tzinfo=PARIS), None, None),
])
async def test_a_late_meeting_reminder_says_the_real_gap_once(
        tmp_path: Path, restart: datetime, subject: str | None, wording: str | None) -> None:
    # Ana takes digests (the default); Claire asked for one mail per reminder.
    rig = Rig(tmp_path, datetime(2026, 11, 25, 7, 0, tzinfo=UTC),
              per_action_members=frozenset({CLAIRE}))
    await rig.start()
    await rig.mail(meeting_mail())
    await rig.stop()
    await rig.clock.set(restart)
    await rig.start()
    try:
        sent = [s for s in await rig.sent() if s.key.startswith(REF)]
        if subject is None:
            assert sent == []
            return
        assert sorted(s.recipient for s in sent) == [ANA, CLAIRE]   # one mail each
        for s in sent:
            assert wording is not None
            body = " ".join(s.mail.body.replace("\xa0", " ").split())
            if s.recipient == CLAIRE:
                assert subject in (s.mail.subject or "")
                assert f"{REF} {wording}, le jeudi 3 décembre 2026 à 12h30" in body
            else:
                assert f"réunion {REF} {wording}" in (s.mail.subject or "")
                assert (f"Réunion de concertation {REF} • {wording[0].upper()}{wording[1:]}, "
                        "le jeudi 3 décembre 2026 à 12h30") in body
            assert "dans 7 jours" not in body
            assert any(a.filename == "invitation.ics" for a in s.mail.attachments)
        statuses = {(r.payload["offset"], r.status) for r in await rig.rows(REF)}
        if restart.date() >= date(2026, 12, 2):
            assert statuses == {(7, "cancelled"), (1, "sent")}   # the stale J-7 not sent
        await rig.run_until(datetime(2026, 12, 4, tzinfo=PARIS))
        assert len([s for s in await rig.sent() if s.key.startswith(REF)]) == (
            4 if restart.date() < date(2026, 12, 2) else 2)       # then the J-1 on its day
    finally:
        await rig.stop()


async def test_no_late_j7_for_a_meeting_planned_after_its_time(tmp_path: Path) -> None:
    """Planned on 30/11 for 03/12: the J-7 was never owed, not even after a stop."""
    rig = Rig(tmp_path, datetime(2026, 11, 30, 7, 0, tzinfo=UTC))
    await rig.start()
    await rig.mail(meeting_mail().replace(b"Wed, 25 Nov 2026", b"Mon, 30 Nov 2026"))
    await rig.stop()
    await rig.clock.set(datetime(2026, 12, 1, 9, 0, tzinfo=PARIS))
    await rig.start()
    try:
        assert [s for s in await rig.sent() if s.key.startswith(REF)] == []
        assert {r.payload["offset"] for r in await rig.rows(REF)} == {1}
    finally:
        await rig.stop()


async def test_a_clock_jump_over_j7_and_j1_sends_the_j1_only(tmp_path: Path) -> None:
    """No restart: the machine slept (the wall clock jumps) over both reminder
    times; the engine finds J-7 and J-1 due in one pass."""
    rig = Rig(tmp_path, datetime(2026, 11, 25, 7, 0, tzinfo=UTC))
    await rig.start()
    try:
        await rig.mail(meeting_mail())
        await rig.clock.set(datetime(2026, 12, 2, 9, 0, tzinfo=PARIS))
        await rig.settle()
        sent = [s for s in await rig.sent() if s.key.startswith(REF)]
        assert sorted((s.recipient, s.key.split(":")[2]) for s in sent) == [
            (ANA, "J-1"), (CLAIRE, "J-1")]
        assert all("demain" in s.mail.body for s in sent)
        # The first J-7 composed is dropped as stale, and its reconciling
        # cancels the other one before its turn.
        statuses = {(r.payload["offset"], r.status) for r in await rig.rows(REF)}
        assert statuses == {(7, "dropped"), (7, "cancelled"), (1, "sent")}
    finally:
        await rig.stop()
