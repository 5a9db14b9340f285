"""The reminder engine on a real store with a driven clock: months in seconds.

Plans are created and changed through the real processor (the example mails),
the engine runs its APScheduler job on the ``DrivenClock``, and what it sends
is read back from the outbox (the delivery is not running: every mail the
engine enqueued is still there, each exactly once). Restarts run on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from esp_coord.bootstrap import make_processor, reminder_kinds
from esp_coord.clock import DrivenClock
from esp_coord.config import Config, ReminderSettings
from esp_coord.crypto import Keyring
from esp_coord.intake import IncomingMail, parse_mail
from esp_coord.scheduling.engine import ReminderEngine
from esp_coord.store import Store, Tx
from esp_coord.store.records import OutboxItem
from esp_coord.store.reminders import Reminder
from plans.dates import format_date
from plans.days_off import DaysOff
from plans.model import Plan
from tests.e2e.harness import wait_until
from tests.support.config import offline_config
from tests.support.crashing import Crash
from tests.support.mail import ANA, CLAIRE, JULIEN, SOPHIE, example
from tests.support.store import Backend

PARIS = ZoneInfo("Europe/Paris")


def team_config(folder: Path, tz: str = "Europe/Paris", **reminders: object) -> Config:
    # The quarterly report's rows would be the earliest of these tests' own.
    return offline_config(
        folder, timezone=ZoneInfo(tz), report_schedule="none",
        reminders=dataclasses.replace(ReminderSettings(), **reminders))  # type: ignore[arg-type]


@dataclass
class Sent:
    key: str
    kind: str
    recipient: str
    at: datetime
    mail: IncomingMail

    @property
    def local(self) -> datetime:
        return self.at.astimezone(PARIS)


class Rig:
    """Store + processor + engine on one database, restartable; a driven clock."""

    def __init__(self, folder: Path, start: datetime, tz: str = "Europe/Paris",
                 backend: Backend | None = None, **reminders: object) -> None:
        self.config = team_config(folder, tz, **reminders)
        self.backend = backend
        self.keyring = Keyring.generate()
        self.clock = DrivenClock(start)
        self.stack: AsyncExitStack | None = None
        self.engine: ReminderEngine | None = None
        self.composers = reminder_kinds()  # a test may add kinds of its own
        self.sources: set[str] = set()     # sources of rows a test adds itself

    async def start(self) -> None:
        self.stack = AsyncExitStack()
        self.store = (self.backend.store(self.keyring) if self.backend is not None
                      else Store(self.config.database_url, self.keyring))
        await self.store.start(self.stack)
        self.processor = make_processor(self.config, self.store, now=self.clock.now)
        self.engine = ReminderEngine(store=self.store, config=self.config, clock=self.clock,
                                     composers=self.composers)
        await self.engine.start(self.stack)
        await self.settle()

    async def stop(self) -> None:
        if self.stack is not None:
            await self.stack.aclose()
            self.stack = None
            self.engine = None

    async def settle(self) -> None:
        assert self.engine is not None
        for _ in range(20):  # most passes finish within a few loop turns
            await asyncio.sleep(0.002)
            if await self.engine.caught_up():
                return
        await wait_until(self.engine.caught_up, timeout=10, what="the engine to catch up")

    async def mail(self, raw: bytes) -> IncomingMail:
        mail = parse_mail(raw)
        if mail.date is not None:
            await self.clock.set(mail.date)
        await self.processor.process(raw)
        if self.engine is not None:
            await self.engine.notify_changed()
            await self.settle()
        return mail

    async def run_until(self, end: datetime, lag: timedelta = timedelta(0)) -> None:
        """Move the clock to ``end``, stopping at each due time on the way (as
        real time would), and let the engine catch up at each stop. ``lag``:
        stop that long after each due time, as a real scheduler wakes a moment
        late (what is written during a pass is then already past its time)."""
        while self.clock.now() < end:
            nxt = await self.store.run(lambda tx: tx.next_reminder_due())
            target = end if nxt is None or nxt <= self.clock.now() else min(end, nxt + lag)
            await self.clock.set(target)
            await self.settle()

    async def sent(self) -> list[Sent]:
        """Every reminder row sent, with the mail that carried it (its own, or
        the digest it went out in: the mail to its recipient at its time)."""
        def read(tx: Tx) -> list[Sent]:
            mails: dict[tuple[str, datetime], IncomingMail] = {}
            for item in tx.outbox_due(datetime(2100, 1, 1, tzinfo=UTC), limit=100_000):
                if (item.cause or "").startswith(("reminder:", "digest:")):
                    for recipient in item.recipients:
                        mails[(recipient, item.created_at)] = parse_mail(item.raw)
            sources = {d.ref for kind in ("plan", "meeting") for d in tx.find_documents(kind)}
            rows = [r for ref in sorted(sources | self.sources) for r in tx.reminders_of(ref)
                    if r.status == "sent"]
            out = []
            for row in sorted(rows, key=lambda r: (r.sent_at, r.id)):  # type: ignore[arg-type, return-value]
                assert row.sent_at is not None
                out.append(Sent(row.key, row.kind, row.recipient, row.sent_at,
                                mails[(row.recipient, row.sent_at)]))
            return out

        return await self.store.run(read)

    async def outbox(self) -> list[OutboxItem]:
        """Every mail enqueued (nothing is delivered in these tests)."""
        return await self.store.run(lambda tx: tx.outbox_due(
            datetime(2100, 1, 1, tzinfo=UTC), limit=100_000))

    async def rows(self, ref: str = "PPS-2026-0001") -> list[Reminder]:
        return await self.store.run(lambda tx: tx.reminders_of(ref))

    async def plan(self, ref: str = "PPS-2026-0001") -> Plan:
        doc = await self.store.run(lambda tx: tx.load_document("plan", ref))
        assert doc is not None
        return Plan.from_dict(doc.data)


def reply(to: IncomingMail, sender: str, body: str, at: datetime, subject: str = "") -> bytes:
    mid = email.utils.make_msgid(domain="medecin.mssante.test")
    return (f"From: {sender}\r\nTo: coordination@esp-valdelorge.mssante.test\r\n"
            f"Subject: {subject or 'RE: ' + (to.subject or '')}\r\n"
            f"Date: {email.utils.format_datetime(at)}\r\nMessage-ID: {mid}\r\n"
            f"In-Reply-To: {to.message_id}\r\nReferences: {to.message_id}\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            f"{body}\r\n").encode()


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    rig = Rig(tmp_path, datetime(2026, 11, 23, 7, 0, tzinfo=UTC))
    await rig.start()
    try:
        yield rig
    finally:
        await rig.stop()


def expected_due_days(plan: Plan, number: int, first: date, last: date) -> list[date]:
    action = plan.action(number)
    assert action.when.rhythm is not None and action.start is not None
    return [d for d in action.when.rhythm.occurrences(action.start, until=action.when.until)
            if first <= d <= last] if action.when.rhythm else []


async def test_three_months_of_follow_ups_fire_on_their_days(rig: Rig) -> None:
    await rig.mail(example("01-nouveau-pps.eml"))
    plan = await rig.plan()
    await rig.run_until(datetime(2027, 2, 24, 12, tzinfo=UTC))
    sent = await rig.sent()
    assert sent, "no reminder at all in three months"
    # Every reminder at 08:00 team time, each key once.
    assert {(s.local.hour, s.local.minute) for s in sent} == {(8, 0)}
    assert len({(s.key, s.recipient) for s in sent}) == len(sent)

    due = [s for s in sent if s.kind == "plan_due"]
    pharmacist = sorted(s.local.date() for s in due if s.recipient == SOPHIE
                        and ":2:" in s.key)
    assert pharmacist == [date(2026, 12, 15)]
    # Each recurring action, never done: a due-day reminder per occurrence
    # from the day after creation (the creation day's 08:00 had passed) until
    # it is overdue, three days after its due date; none after, where the
    # Monday recalls say it (« en retard depuis 3 semaines »). Each goes out
    # on its day, or the working day before (weekends, holidays).
    off = rig.config.reminders.days_off
    first, last = date(2026, 11, 24), date(2027, 2, 24)
    for action in plan.actions:
        if not action.recurring or action.assignee is None:
            continue
        assert action.due is not None
        days = sorted(s.local.date() for s in due if s.key.startswith(
            f"{plan.ref}:{action.number}:"))
        until = min(last, action.due + timedelta(days=3))
        assert days == [off.previous_working_day(d) for d in expected_due_days(
            plan, action.number, first, until)], action.number
    protocol = [a for a in plan.actions if a.protocol == "diabete-type-2"]
    assert protocol and any(
        s.key.startswith(f"{plan.ref}:{a.number}:") for a in protocol for s in due)
    nurse_monthly = next(a for a in protocol if a.assignee == JULIEN)
    assert sorted(s.local.date() for s in due if s.key.startswith(
        f"{plan.ref}:{nurse_monthly.number}:")) == [
            off.previous_working_day(nurse_monthly.due)]

    # Nothing was ever done: one escalation per action on the day it is
    # overdue (its current due date never moves), to the assignee and as a
    # note to the referent and coordination, then a recall every Monday. A
    # notice says « not done 3 days after »: on a day off, the working day
    # after, never before (and then no recall the same morning).
    def after(day: date) -> date:
        while off.is_off(day):
            day += timedelta(days=1)
        return day

    overdue = [s for s in sent if s.kind == "plan_overdue"]
    notes = [s for s in sent if s.kind == "plan_overdue_note"]
    for action in plan.actions:
        if action.assignee is None or action.due is None:
            continue
        late_day = action.due + timedelta(days=3)
        if late_day > last:
            continue
        mine = sorted(s.local.date() for s in overdue
                      if s.key.startswith(f"{plan.ref}:{action.number}:"))
        mondays = [late_day + timedelta(days=n) for n in range(1, (last - late_day).days + 1)
                   if (late_day + timedelta(days=n)).weekday() == 0]
        told = after(late_day)
        assert mine == [told, *(after(d) for d in mondays if after(d) > told)], action.number
    weekly = plan.action(1)
    assert weekly.assignee == JULIEN and weekly.due is not None
    nurse_late = next(s for s in overdue if s.key == (
        f"{plan.ref}:1:{weekly.due.isoformat()}:plan_overdue:{JULIEN}"))
    assert nurse_late.local.date() == after(weekly.due + timedelta(days=3))
    assert {s.recipient for s in notes if int(s.key.split(":")[1]) == 1} == {CLAIRE, ANA}
    # In the nurse's daily digest of that morning; weeks later, one line.
    assert "en retard" in (nurse_late.mail.subject or "")
    assert f"En retard de 3 jours : prévue le {format_date(weekly.due)}" in " ".join(
        nurse_late.mail.body.replace("\xa0", " ").split())
    recall = next(s for s in overdue if s.key.startswith(f"{plan.ref}:1:")
                  and s.local.date() >= weekly.due + timedelta(weeks=3))
    body = " ".join(recall.mail.body.replace("\xa0", " ").split())
    assert "Toujours en retard (déjà signalé) :" in body
    assert f"{plan.ref} - Action 1 : surveillance glycémies et poids, examen des pieds " \
           "(chaque semaine) : en retard depuis 3 semaines FAIT 1 PPS-2026-0001" in body


async def test_reply_fait_to_a_reminder_moves_the_recurring_action_on(rig: Rig) -> None:
    await rig.mail(example("01-nouveau-pps.eml"))
    before = (await rig.plan()).action(1)
    assert before.due is not None and before.when.rhythm is not None
    late_day = before.due + timedelta(days=3)
    await rig.run_until(datetime.combine(late_day, time(8, 1), tzinfo=PARIS))
    reminder = next(s for s in await rig.sent() if s.kind == "plan_overdue"
                    and s.recipient == JULIEN and s.key.startswith("PPS-2026-0001:1:"))
    assert "FAIT 1" in reminder.mail.body
    await rig.mail(reply(reminder.mail, "Julien MARIE <julien.marie@infirmier.mssante.test>",
                         "FAIT 1\nglycémies notées",
                         datetime.combine(late_day, time(9), tzinfo=PARIS)))
    after = (await rig.plan()).action(1)
    nxt = before.when.rhythm.next_after(before.start or before.due, late_day)
    assert nxt is not None and after.status == "todo" and after.due == nxt
    rows = {r.key: r for r in await rig.rows()}
    assert rows[f"PPS-2026-0001:1:{nxt}:plan_due:{JULIEN}"].status == "pending"
    assert rows[f"PPS-2026-0001:1:{nxt}:plan_overdue:{JULIEN}"].status == "pending"
    # The escalation of the old occurrence went out once and stays sent; its
    # recalls are cancelled.
    old = f"PPS-2026-0001:1:{before.due}:plan_overdue:{JULIEN}"
    assert rows[old].status == "sent"
    assert {r.status for k, r in rows.items() if k.startswith(old + ":")} == {"cancelled"}
    await rig.run_until(datetime.combine(nxt + timedelta(days=4), time(12), tzinfo=PARIS))
    late = [s for s in await rig.sent() if s.kind == "plan_overdue"
            and s.key.startswith("PPS-2026-0001:1:")]
    assert [s.local.date() for s in late] == [late_day, nxt + timedelta(days=3)]


async def test_nothing_after_closure(rig: Rig) -> None:
    await rig.mail(example("01-nouveau-pps.eml"))
    await rig.run_until(datetime(2026, 12, 1, 12, tzinfo=UTC))
    count = len(await rig.sent())
    close = (b"From: Claire DURAND <claire.durand@medecin.mssante.test>\r\n"
             b"To: coordination@esp-valdelorge.mssante.test\r\nSubject: CLORE PPS-2026-0001\r\n"
             b"Date: Tue, 01 Dec 2026 14:00:00 +0100\r\nMessage-ID: <close.1@medecin.mssante.test>"
             b"\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nDemenagement\r\n")
    await rig.mail(close)
    assert (await rig.plan()).status == "closed"
    assert not [r for r in await rig.rows() if r.status == "pending"]
    await rig.run_until(datetime(2027, 1, 15, tzinfo=UTC))
    assert len(await rig.sent()) == count


async def test_member_removed_from_roster_gets_nothing(tmp_path: Path) -> None:
    rig = Rig(tmp_path, datetime(2026, 11, 23, 7, 0, tzinfo=UTC))
    await rig.start()
    await rig.mail(example("01-nouveau-pps.eml"))
    await rig.stop()
    # Julien leaves the team; the service restarts with the new roster.
    rig.config = dataclasses.replace(
        rig.config, members=tuple(m for m in rig.config.members if m.email != JULIEN))
    await rig.start()
    try:
        await rig.run_until(datetime(2026, 12, 20, tzinfo=UTC))
        sent = await rig.sent()
        assert sent and JULIEN not in {s.recipient for s in sent}
        assert any(r.status == "dropped" and r.recipient == JULIEN for r in await rig.rows())
    finally:
        await rig.stop()


async def test_stopped_across_due_times_sends_late_once_at_start(
        tmp_path: Path, backend: Backend) -> None:
    # On SQLite and on PostgreSQL.
    rig = Rig(tmp_path, datetime(2026, 11, 23, 7, 0, tzinfo=UTC), backend=backend)
    await rig.start()
    await rig.mail(example("01-nouveau-pps.eml"))
    await rig.run_until(datetime(2026, 12, 14, 12, tzinfo=UTC))
    before = await rig.sent()
    await rig.stop()
    await rig.clock.set(datetime(2026, 12, 15, 15, tzinfo=UTC))  # down over 15/12 08:00
    await rig.start()  # start = rebuild + send what was missed
    await rig.stop()
    await rig.start()  # a second restart sends nothing again
    try:
        new = [s for s in await rig.sent() if s.key not in {b.key for b in before}]
        pharmacist = [s for s in new if s.recipient == SOPHIE and ":2:" in s.key]
        assert len(pharmacist) == 1
        row = next(r for r in await rig.rows() if r.key == pharmacist[0].key)
        assert row.status == "sent" and row.late
        assert row.sent_at == datetime(2026, 12, 15, 15, tzinfo=UTC)
        assert len({s.key for s in new}) == len(new)
    finally:
        await rig.stop()


async def test_killed_between_compose_and_record_sends_nothing_twice(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rig = Rig(tmp_path, datetime(2026, 12, 14, 7, 0, tzinfo=UTC))
    await rig.start()
    await rig.mail(example("01-nouveau-pps.eml").replace(b"23 Nov 2026", b"14 Dec 2026"))
    armed = {"on": True}
    original = Tx.mark_reminder_sent

    def dying(self: Tx, reminder_id: int, now: datetime, late: bool) -> bool:
        if armed["on"]:
            raise Crash("after the mail was enqueued, before the row is marked")
        return original(self, reminder_id, now, late)

    monkeypatch.setattr(Tx, "mark_reminder_sent", dying)
    assert rig.engine is not None
    await rig.clock.set(datetime(2026, 12, 15, 7, 30, tzinfo=UTC))
    with pytest.raises(Crash):
        await rig.engine.dispatch_due()
    assert await rig.sent() == []          # the enqueue was rolled back with it
    await rig.stop()
    armed["on"] = False
    await rig.start()
    try:
        sent = [s for s in await rig.sent() if s.recipient == SOPHIE and ":2:" in s.key]
        assert len(sent) == 1
        await rig.stop()
        await rig.start()
        assert len([s for s in await rig.sent() if s.recipient == SOPHIE
                    and ":2:" in s.key]) == 1
    finally:
        await rig.stop()


def _by_day(items: list[OutboxItem]) -> dict[tuple[str, date, str], list[OutboxItem]]:
    """Reminder mails by (recipient, local day, what: Rappels / Suivi / one reminder)."""
    found: dict[tuple[str, date, str], list[OutboxItem]] = {}
    for item in items:
        if not (item.cause or "").startswith(("digest:", "reminder:")):
            continue
        subject = parse_mail(item.raw).subject or ""
        what = subject.split(" du ")[0] if item.cause.startswith("digest:") else "un rappel"  # type: ignore[union-attr]
        for recipient in item.recipients:
            day = item.created_at.astimezone(PARIS).date()
            found.setdefault((recipient, day, what), []).append(item)
    return found


async def test_one_digest_a_day_per_person_and_one_follow_up_for_watchers(rig: Rig) -> None:
    await rig.mail(example("01-nouveau-pps.eml"))
    await rig.run_until(datetime(2027, 1, 31, 12, tzinfo=UTC))
    by_day = _by_day(await rig.outbox())
    assert by_day and {what for _, _, what in by_day} == {"Rappels", "Suivi de l'équipe"}
    assert all(len(items) == 1 for items in by_day.values()), "two digests the same day"
    # Every sent row went out in a digest, none alone.
    assert all(s.mail.subject.startswith(("Rappels du", "Suivi de l'équipe du"))  # type: ignore[union-attr]
               for s in await rig.sent())
    # The day the first actions are overdue, the plan's referent gets one
    # mail: her own overdue action, then as its last part the notes about
    # the others' actions; the coordination, with no action of its own, the
    # team follow-up alone.
    plan = await rig.plan()
    day = min(a.due for a in plan.actions if a.due) + timedelta(days=3)
    assert (CLAIRE, day, "Suivi de l'équipe") not in by_day
    (mail,) = by_day[(CLAIRE, day, "Rappels")]
    parsed = parse_mail(mail.raw)
    assert parsed.subject.startswith("Rappels du ") and "; suivi de l'équipe : " in parsed.subject
    own, team = " ".join(parsed.body.replace("\xa0", " ").split()).split("Suivi de l'équipe :")
    assert "FAIT 4 PPS-2026-0001" in own and "Julien MARIE" not in own
    assert "confiée à Julien MARIE" in team and "FAIT 1" not in team
    (alone,) = by_day[(ANA, day, "Suivi de l'équipe")]
    assert "confiée à Julien MARIE" in parse_mail(alone.raw).body.replace("\xa0", " ")


async def test_per_action_members_get_one_mail_per_reminder(tmp_path: Path) -> None:
    rig = Rig(tmp_path, datetime(2026, 11, 23, 7, 0, tzinfo=UTC),
              per_action_members=frozenset({JULIEN}))
    await rig.start()
    try:
        await rig.mail(example("01-nouveau-pps.eml"))
        await rig.run_until(datetime(2026, 12, 8, 12, tzinfo=UTC))
        sent = await rig.sent()
        julien = [s for s in sent if s.recipient == JULIEN]
        assert julien and all(s.mail.subject.startswith("[PPS-2026-0001] ")  # type: ignore[union-attr]
                              for s in julien)
        assert len({s.mail.message_id for s in julien}) == len(julien)  # one mail each
        assert all(s.mail.subject.startswith(("Rappels du", "Suivi de l'équipe du"))  # type: ignore[union-attr]
                   for s in sent if s.recipient != JULIEN)
    finally:
        await rig.stop()


def test_reminder_hour_is_configurable(tmp_path: Path) -> None:
    config = team_config(tmp_path, hour=time(7, 30), overdue_days=5)
    assert config.reminders.hour == time(7, 30) and config.reminders.overdue_days == 5


@pytest.mark.parametrize("zone", ["Europe/Paris", "Indian/Reunion"])
async def test_a_due_day_reminder_goes_out_at_the_configured_hour(
        tmp_path: Path, zone: str) -> None:
    tz = ZoneInfo(zone)
    rig = Rig(tmp_path, datetime(2026, 11, 23, 7, 0, tzinfo=UTC), tz=zone, hour=time(7, 30))
    await rig.start()
    try:
        await rig.mail(example("01-nouveau-pps.eml"))
        await rig.run_until(datetime(2026, 12, 16, tzinfo=tz))
        sent = await rig.sent()
        (pharmacist,) = [s for s in sent if s.recipient == SOPHIE and s.kind == "plan_due"]
        assert pharmacist.at.astimezone(tz) == datetime(2026, 12, 15, 7, 30, tzinfo=tz)
        assert {s.at.astimezone(tz).time() for s in sent} == {time(7, 30)}
    finally:
        await rig.stop()


async def test_reply_reporter_moves_the_action_and_cancels_its_overdue_rows(rig: Rig) -> None:
    await rig.mail(example("01-nouveau-pps.eml"))
    await rig.run_until(datetime(2026, 12, 15, 8, tzinfo=UTC))
    (reminder,) = [s for s in await rig.sent() if s.recipient == SOPHIE and s.kind == "plan_due"]
    await rig.mail(reply(reminder.mail, "Sophie LEROY <sophie.leroy@pharmacien.mssante.test>",
                         "REPORTER 2 au 22/12/2026", datetime(2026, 12, 15, 9, tzinfo=UTC)))
    assert (await rig.plan()).action(2).due == date(2026, 12, 22)
    rows = {r.key.removeprefix("PPS-2026-0001:2:"): r.status for r in await rig.rows()
            if r.key.startswith("PPS-2026-0001:2:")}
    old = {k: v for k, v in rows.items() if k.startswith("2026-12-15:")}
    new = {k: v for k, v in rows.items() if k.startswith("2026-12-22:")}
    assert old.pop(f"2026-12-15:plan_due:{SOPHIE}") == "sent"
    assert old and set(old.values()) == {"cancelled"}       # the overdue reminder and notes
    assert new and set(new.values()) == {"pending"}
    await rig.run_until(datetime(2026, 12, 23, 12, tzinfo=UTC))
    action2 = sorted((s.kind, s.local.date()) for s in await rig.sent()
                     if s.key.startswith("PPS-2026-0001:2:"))
    # Nothing overdue on 18/12; the new due day's reminder on 22/12.
    assert action2 == [("plan_due", date(2026, 12, 15)), ("plan_due", date(2026, 12, 22))]


async def test_a_reply_to_the_daily_digest_marks_the_action_done(rig: Rig) -> None:
    await rig.mail(example("01-nouveau-pps.eml"))
    await rig.run_until(datetime(2026, 11, 30, 8, tzinfo=UTC))
    items = await rig.outbox()
    digest = parse_mail([i for i in items if JULIEN in i.recipients
                         and (i.cause or "").startswith("digest:")][-1].raw)
    # About one plan only: its Message-ID names it, as a single reminder's would.
    assert digest.message_id.startswith("<PPS-2026-0001.rappel.digest.")
    # The ready-to-reply line of action 1, copied from the digest as written.
    line = next(x.strip() for x in digest.body.splitlines()
                if x.strip().startswith("FAIT 1 "))
    assert line == "FAIT 1 PPS-2026-0001"
    assert "Plusieurs lignes FAIT ou REPORTER" in " ".join(digest.body.split())
    before = (await rig.plan()).action(1)
    await rig.mail(reply(digest, "Julien MARIE <julien.marie@infirmier.mssante.test>",
                         f"{line}\nglycémies notées", datetime(2026, 11, 30, 9, tzinfo=UTC)))
    action = (await rig.plan()).action(1)
    assert before.when.rhythm is not None and before.due is not None
    assert action.due == before.when.rhythm.next_after(before.start or before.due,
                                                       date(2026, 11, 30))
    assert [(o.by, o.comment) for o in action.done] == [(JULIEN, "glycémies notées")]
    # The REPORTER example of the digest works the same way.
    later = next(x.strip() for x in digest.body.splitlines()
                 if x.strip().startswith("REPORTER "))
    number = int(later.split()[1])
    moved = later.rsplit(" ", 1)[0] + " 09/12/2026"
    await rig.mail(reply(digest, "Julien MARIE <julien.marie@infirmier.mssante.test>", moved,
                         datetime(2026, 11, 30, 10, tzinfo=UTC)))
    assert (await rig.plan()).action(number).due == date(2026, 12, 9)


@pytest.mark.parametrize(("zone", "mail_date", "days"), [
    ("Europe/Paris", "Thu, 25 Mar 2027 09:12:44 +0100", (date(2027, 3, 26), date(2027, 3, 30))),
    ("Europe/Paris", "Thu, 28 Oct 2027 09:12:44 +0200", (date(2027, 10, 29), date(2027, 11, 2))),
    ("America/Martinique", "Thu, 25 Mar 2027 09:12:44 -0400",
     (date(2027, 3, 26), date(2027, 3, 30))),
    ("Indian/Reunion", "Thu, 28 Oct 2027 09:12:44 +0400", (date(2027, 10, 29), date(2027, 11, 2))),
])
async def test_daily_reminders_stay_at_eight_local_across_dst_and_overseas(
        tmp_path: Path, zone: str, mail_date: str, days: tuple[date, date]) -> None:
    raw = example("01-nouveau-pps.eml").replace(
        b"Mon, 23 Nov 2026 09:12:44 +0100", mail_date.encode()).replace(
        b"| chaque semaine", b"| tous les jours").replace(
        b"15/05/2027", b"15/05/2028").replace(b"15/12/2026", b"J+20")
    tz = ZoneInfo(zone)
    # Ten days before an action is overdue, and no day off: each day keeps
    # its reminder here.
    rig = Rig(tmp_path, parse_mail(raw).date - timedelta(hours=1), tz=zone,  # type: ignore[operator]
              overdue_days=10, days_off=DaysOff.none())
    await rig.start()
    try:
        await rig.mail(raw)
        first, last = days
        end = datetime.combine(last, time(23), tzinfo=tz)
        await rig.run_until(end)
        daily = [s for s in await rig.sent()
                 if s.kind == "plan_due" and s.key.startswith("PPS-2027-0001:1:")]
        local = [s.at.astimezone(tz) for s in daily]
        assert [t.date() for t in local] == [first + timedelta(days=i)
                                             for i in range((last - first).days + 1)]
        assert {t.time() for t in local} == {time(8)}
    finally:
        await rig.stop()


async def test_one_job_whatever_the_rows_and_an_earlier_row_wakes_it(rig: Rig) -> None:
    from esp_coord.scheduling.engine import JOB_ID
    from esp_coord.store.reminders import ReminderSpec

    assert rig.engine is not None and rig.engine.scheduler is not None
    base = datetime(2027, 1, 10, 7, tzinfo=UTC)
    specs = [ReminderSpec(key=f"PPS-2026-0099:{i}", kind="plan_due", source_ref="PPS-2026-0099",
                          recipient=JULIEN, due_at=base + timedelta(hours=i),
                          payload={"number": 1, "occurrence": "2027-01-10"})
             for i in range(500)]
    await rig.store.run(lambda tx: tx.add_reminders(specs, rig.clock.now()))
    await rig.engine.notify_changed()
    jobs = rig.engine.scheduler.get_jobs()
    assert [j.id for j in jobs] == [JOB_ID] and jobs[0].next_run_time == base
    earlier = base - timedelta(days=20)
    await rig.store.run(lambda tx: tx.replace_reminders("PPS-2026-0098", [ReminderSpec(
        key="early", kind="plan_due", source_ref="PPS-2026-0098", recipient=JULIEN,
        due_at=earlier, payload={"number": 1, "occurrence": "2026-12-21"})], rig.clock.now()))
    rig.engine.wake()   # what the mailroom does after each committed batch
    await wait_until(lambda: rig.engine.scheduler.get_job(JOB_ID).next_run_time == earlier,  # type: ignore[union-attr]
                     what="the job re-armed earlier")
    await rig.clock.set(earlier + timedelta(seconds=1))
    await rig.settle()
    (early,) = await rig.rows("PPS-2026-0098")
    assert early.status == "dropped"   # no such plan: composed to nothing, nothing sent
    assert await rig.sent() == []


async def test_same_engine_on_the_system_clock(tmp_path: Path) -> None:
    """The real clock: APScheduler's own timing, a reminder a moment ahead."""
    from esp_coord.answers import Answer
    from esp_coord.clock import SystemClock
    from esp_coord.scheduling import Registered
    from esp_coord.store.reminders import ReminderSpec

    def ping(tx: Tx, reminder: Reminder, now: datetime, config: Config) -> list[Answer]:
        return [Answer(subject="ping", text="ping\n", to=(reminder.recipient,),
                       auto_submitted="auto-generated")]

    composers = reminder_kinds()
    composers.add("test_ping", Registered(ping))
    config = team_config(tmp_path)
    clock = SystemClock()
    async with AsyncExitStack() as stack:
        store = Store(config.database_url, Keyring.generate())
        await store.start(stack)
        engine = ReminderEngine(store=store, config=config, clock=clock, composers=composers)
        await engine.start(stack)
        due = clock.now() + timedelta(milliseconds=300)
        await store.run(lambda tx: tx.replace_reminders("X-1", [ReminderSpec(
            key="X-1:ping", kind="test_ping", source_ref="X-1", recipient=JULIEN,
            due_at=due)], clock.now()))
        engine.wake()
        await wait_until(lambda: engine.sent == 1, timeout=10, what="the reminder")
        (row,) = await store.run(lambda tx: tx.reminders_of("X-1"))
        assert row.status == "sent" and not row.late and row.sent_at is not None
        assert row.sent_at >= due


async def test_a_composer_bug_marks_its_row_failed_and_the_others_go_out(
        rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    from esp_coord.answers import Answer
    from esp_coord.scheduling import Registered
    from esp_coord.store.reminders import ReminderSpec

    def broken(tx: Tx, reminder: Reminder, now: datetime, config: Config) -> list[Answer]:
        raise KeyError("MARTIN Jeanne")  # an exception that quotes patient data

    def fine(tx: Tx, reminder: Reminder, now: datetime, config: Config) -> list[Answer]:
        return [Answer(subject="ok", text="ok\n", to=(reminder.recipient, "outsider@evil.test"),
                       auto_submitted="auto-generated")]

    rig.composers.add("test_broken", Registered(broken))
    rig.composers.add("test_fine", Registered(fine))
    due = rig.clock.now() + timedelta(hours=1)
    await rig.store.run(lambda tx: tx.replace_reminders("X-2", [
        ReminderSpec(key="X-2:a", kind="test_broken", source_ref="X-2", recipient=JULIEN,
                     due_at=due),
        ReminderSpec(key="X-2:b", kind="test_fine", source_ref="X-2", recipient=JULIEN,
                     due_at=due),
        ReminderSpec(key="X-2:c", kind="test_unknown", source_ref="X-2", recipient=JULIEN,
                     due_at=due)], rig.clock.now()))
    assert rig.engine is not None
    await rig.engine.notify_changed()
    await rig.run_until(due + timedelta(minutes=1))
    status = {r.key: r.status for r in await rig.rows("X-2")}
    assert status == {"X-2:a": "failed", "X-2:b": "sent", "X-2:c": "failed"}
    items = await rig.store.run(lambda tx: tx.outbox_due(
        datetime(2100, 1, 1, tzinfo=UTC), limit=10))
    (mail,) = [i for i in items if i.cause == "reminder:X-2:b"]
    assert mail.recipients == (JULIEN,)          # never anyone off the roster
    assert "MARTIN" not in caplog.text and "KeyError" in caplog.text


async def test_after_a_long_stop_one_digest_each_and_each_action_once(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Down three weeks: every missed row is due at start. Each person gets one
    digest, each action in it once (its due day, overdue notice and recalls
    merged), and no row fails (composing one row reconciles its plan, which
    cancels the stale ones still waiting in the same digest)."""
    rig = Rig(tmp_path, datetime(2026, 11, 23, 7, 0, tzinfo=UTC))
    await rig.start()
    await rig.mail(example("01-nouveau-pps.eml"))
    await rig.stop()
    await rig.clock.set(datetime(2026, 12, 16, 10, 0, tzinfo=PARIS))
    await rig.start()
    try:
        by_day = _by_day(await rig.outbox())
        assert by_day and all(len(items) == 1 for items in by_day.values())
        assert {day for _, day, _ in by_day} == {date(2026, 12, 16)}
        for (_, _, what), (item,) in by_day.items():
            body = parse_mail(item.raw).body
            if what == "Rappels":
                actions = [x.strip().split(" : ")[0] for x in body.splitlines()
                           if x.strip().startswith(("• Action", "• PPS-"))]
                assert len(actions) == len(set(actions)), body
        assert not [r for r in await rig.rows() if r.status == "failed"]
        assert "composing failed" not in caplog.text
    finally:
        await rig.stop()
