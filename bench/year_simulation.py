"""A year of reminders for a team of 12 with 150 patients (issue 17).

    python -m bench.year_simulation [--days 365] [--patients 150] [--side before|after]

runs the service's own processor and reminder engine (SQLite, a driven
clock, no mail server: what the service sends is read from its outbox) over
the year of ``bench.year_team``: the plans written, the monthly meeting, the
professionals' FAIT on time and late, their absences. Then it counts, for
each member and each day of the year, the reminder mails (due and overdue
actions, meetings, the team follow-up) and every mail from the service
(answers to their FAIT, ABSENCE, NOUVEAU PPS included), and prints one JSON
object per side:

- ``after``: the service as it is (digest, days off, absences declared or
  read from out-of-office replies, one FAIT mail a day with several lines);
- ``before``: its per-action option (``digest = false``, the former default)
  with no days off and no absences known to the service: one reminder mail
  per action, one FAIT mail per action, reminders to people on leave.

``run()`` (what ``make bench`` calls) runs both sides in two child processes
side by side. Nothing is asserted about time; ``problems()`` lists what went
wrong (a plan refused, a FAIT without its answer, more than one reminder mail
a day for someone).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

from bench import year_team as team
from bench.year_team import Away, Pro

ROOT = Path(__file__).resolve().parents[1]
START = date(team.YEAR, 1, 1)


@dataclass
class Year:
    """What one side of the simulation did, for the counts."""

    plans: dict[int, str] = field(default_factory=dict)       # patient index -> plan ref
    refused_plans: int = 0
    fait_mails: int = 0
    fait_lines: int = 0
    unanswered: int = 0
    auto_replies: int = 0
    declared: int = 0
    replied_away: set[tuple[str, date]] = field(default_factory=set)


class Simulation:
    def __init__(self, folder: Path, *, after: bool, days: int, patients: int,
                 start: date = START) -> None:
        self.folder, self.after, self.days, self.start = folder, after, days, start
        self.patients = [p for p in team.patients(patients) if p.written < start + timedelta(days)]
        self.absences = team.absences()
        self.writer = team.Writer()
        self.year = Year()

    def _config(self) -> Any:
        from esp_coord.config import config_from_dict

        config = config_from_dict(team.config_data(digest=self.after, days_off=self.after),
                                  path=ROOT / "config" / "esp.example.toml")
        return replace(config, database_url=f"sqlite:///{self.folder / 'year.db'}",
                       key_file=self.folder / "year.key")

    def at(self, day: date, hour: int, minute: int = 0) -> datetime:
        from esp_coord.scheduling.times import local_instant

        return local_instant(day, clock_time(hour, minute), self.config.timezone)

    async def run(self) -> dict[str, Any]:
        from esp_coord.bootstrap import make_processor, reminder_kinds
        from esp_coord.clock import DrivenClock
        from esp_coord.crypto import Keyring
        from esp_coord.scheduling.engine import ReminderEngine
        from esp_coord.store import Store

        self.config = self._config()
        keyring = Keyring.generate()
        keyring.save(self.config.key_file)
        self.clock = DrivenClock(self.at(self.start, 0))
        started = time.perf_counter()
        async with AsyncExitStack() as stack:
            self.store = Store(self.config.database_url, keyring)
            await self.store.start(stack)
            self.processor = make_processor(self.config, self.store, now=self.clock.now)
            self.engine = ReminderEngine(store=self.store, config=self.config, clock=self.clock,
                                         composers=reminder_kinds())
            await self.engine.start(stack)
            for offset in range(self.days):
                await self._day(self.start + timedelta(days=offset))
            counts = await self.store.run(self._counts)
        return {"side": "after" if self.after else "before", "days": self.days,
                "patients": len(self.patients), "members": len(team.PROS),
                "wall_s": round(time.perf_counter() - started, 1), **counts,
                "plans": len(self.year.plans), "refused_plans": self.year.refused_plans,
                "fait_mails": self.year.fait_mails, "fait_lines": self.year.fait_lines,
                "unanswered_mails": self.year.unanswered,
                "absences_declared": self.year.declared,
                "out_of_office_replies": self.year.auto_replies}

    # --- one day --------------------------------------------------------------

    async def _settle(self, moment: datetime) -> None:
        await self.clock.set(moment)
        await self.engine.notify_changed()
        while not await self.engine.caught_up():
            await asyncio.sleep(0.002)

    async def _send(self, sender: Pro, subject: str, body: str, moment: datetime, *,
                    automatic: bool = False) -> int:
        await self.clock.set(moment)
        outcome = await self.processor.process(
            self.writer.mail(sender, subject, body, moment, automatic=automatic))
        # The service wakes its engine after each mail: what the mail made
        # due now goes out now, not at the next morning's pass.
        await self._settle(moment)
        if not automatic and outcome.answers == 0:
            self.year.unanswered += 1
        return outcome.answers

    def _present(self, who: Pro, day: date) -> bool:
        return team.away(self.absences, who, day) is None

    async def _day(self, day: date) -> None:
        await self._settle(self.at(day, 8, 0) + timedelta(seconds=30))
        if self.after:
            await self._out_of_office(day)
            for a in self.absences:
                if a.declared and a.start - timedelta(days=5) == day:
                    self.year.declared += 1
                    await self._send(a.who, "Absence", team.absence_body(a), self.at(day, 9))
        for n, patient in enumerate(p for p in self.patients if p.written == day):
            answers = await self._send(patient.referent, "NOUVEAU PPS", team.plan_body(patient),
                                       self.at(day, 10, n))
            ref = f"PPS-{team.YEAR}-{len(self.year.plans) + 1:04d}"
            if answers and await self.store.run(
                    lambda tx, ref=ref: tx.load_document("plan", ref)):
                self.year.plans[patient.index] = ref
            else:
                self.year.refused_plans += 1
        if day == self.start + timedelta(days=(7 - self.start.weekday()) % 7):
            await self._meeting(day)
        if day.weekday() < 5 and not team_day_off(day):
            await self._evening(day)

    async def _meeting(self, day: date) -> None:
        refs = list(self.year.plans.values())[:5]
        thursday = day + timedelta(days=(3 - day.weekday()) % 7 or 7)
        body = (f"Date : {thursday:%d/%m/%Y} à 12h30\nDurée : 1h30\nLieu : Maison de santé\n"
                "Participants : tous\nRécurrence : le premier jeudi de chaque mois\n"
                + (f"Patients : {', '.join(refs)}\n" if refs else ""))
        await self._send(team.COORDINATOR, "RCP nouvelle", body, self.at(day, 11))

    async def _out_of_office(self, day: date) -> None:
        """A member on an undeclared absence answers the first mail of the
        service they get during it (an out-of-office responder replies once
        per sender)."""
        for a in self.absences:
            if a.declared or not a.start <= day <= a.end or (a.who.email, a.start) in \
                    self.year.replied_away:
                continue
            since = self.at(a.start, 0)
            if await self.store.run(lambda tx, a=a, since=since: _got_mail(tx, a.who.email,
                                                                         since)):
                self.year.replied_away.add((a.who.email, a.start))
                self.year.auto_replies += 1
                subject, text = team.out_of_office(a)
                await self._send(a.who, subject, text, self.at(day, 8, 5), automatic=True)

    async def _evening(self, day: date) -> None:
        """Each professional marks done what they did today: one mail with a
        line per action (after), one mail per action (before)."""
        todo = await self.store.run(lambda tx: self._done_today(tx, day))
        for minute, (who, lines) in enumerate(sorted(todo.items(), key=lambda kv: kv[0].name)):
            moment = self.at(day, 18, minute)
            self.year.fait_lines += len(lines)
            if self.after:
                self.year.fait_mails += 1
                await self._send(who, f"Re: Rappels du {day:%d/%m/%Y}", "\n".join(lines) + "\n",
                                 moment)
            else:
                for line in lines:
                    self.year.fait_mails += 1
                    await self._send(who, line, "Fait.\n", moment)

    def _done_today(self, tx: Any, day: date) -> dict[Pro, list[str]]:
        from plans.model import Plan

        by_email = {p.email: p for p in team.PROS}
        out: dict[Pro, list[str]] = {}
        for ref in self.year.plans.values():
            doc = tx.load_document("plan", ref)
            if doc is None:
                continue
            plan = Plan.from_dict(doc.data)
            if not plan.is_active:
                continue
            for action in plan.actions:
                if action.status != "todo" or action.due is None or action.due > day:
                    continue
                owner = by_email.get((action.assignee or "").lower())
                if owner is None or day < action.due + timedelta(
                        days=team.fate(ref, action.number, action.due)):
                    continue
                actor = self._actor(owner, day)
                if actor is not None:
                    out.setdefault(actor, []).append(f"FAIT {action.number} {ref}")
        return out

    def _actor(self, owner: Pro, day: date) -> Pro | None:
        """Who does ``owner``'s work today: themselves, else (the service
        told) their named substitute, else nobody until they are back."""
        absence: Away | None = team.away(self.absences, owner, day)
        if absence is None:
            return owner
        sub = absence.substitute
        if self.after and absence.declared and sub and self._present(sub, day):
            return sub
        return None

    # --- the counts -----------------------------------------------------------

    def _counts(self, tx: Any) -> dict[str, Any]:
        from sqlalchemy import select

        from esp_coord.scheduling.meeting_reminders import REMINDER_KIND
        from esp_coord.store.tables import outbox, reminders
        from plans.followups import DUE, OVERDUE, OVERDUE_NOTE

        # The rest are notices (the quarterly report, the quarantine notice).
        reminder_kinds = {DUE, OVERDUE, OVERDUE_NOTE, REMINDER_KIND}
        conn = tx._conn
        kind_of = dict(conn.execute(select(reminders.c.key, reminders.c.kind)).all())
        tz = self.config.timezone
        members = {p.email for p in team.PROS}
        reminder_mails: Counter[tuple[str, date]] = Counter()
        all_mails: Counter[tuple[str, date]] = Counter()
        on_days_off = to_absent = 0
        for recipients, created, cause in conn.execute(
                select(outbox.c.recipients, outbox.c.created_at, outbox.c.cause)):
            day = created.astimezone(tz).date()
            _, _, key = (cause or "").partition(":")
            is_reminder = (cause or "").startswith(("reminder:", "digest:")) and \
                kind_of.get(key) in reminder_kinds
            for address in json.loads(recipients):
                address = address.lower()
                if address not in members:
                    continue
                all_mails[address, day] += 1
                if is_reminder:
                    reminder_mails[address, day] += 1
                    on_days_off += team_day_off(day) or day.weekday() >= 5
                    who = next(p for p in team.PROS if p.email == address)
                    to_absent += not self._present(who, day)
        days = [self.start + timedelta(days=i) for i in range(self.days)]
        return {"reminder_mails": _figures(reminder_mails, members, days),
                "all_mails": _figures(all_mails, members, days),
                "reminder_mails_on_days_off": on_days_off,
                "reminder_mails_to_absent": to_absent}


def team_day_off(day: date) -> bool:
    """A public holiday of metropolitan France (the team's territory)."""
    from plans.days_off import DaysOff

    return DaysOff().holiday(day) is not None


def _got_mail(tx: Any, address: str, since: datetime) -> bool:
    from sqlalchemy import select

    from esp_coord.store.tables import outbox

    rows = tx._conn.execute(select(outbox.c.recipients).where(outbox.c.created_at >= since))
    return any(address in json.loads(r) for (r,) in rows)


def _figures(counts: Counter[tuple[str, date]], members: set[str], days: list[date]
             ) -> dict[str, Any]:
    """p50, p95 and max of mails per person per day over every (member, day)
    of the period, zeros included, and the same over the days with mail."""
    values = sorted(counts.get((m, d), 0) for m in members for d in days)
    busy = sorted(v for v in values if v)
    top = max(counts, key=lambda k: (counts[k], k[1]), default=None)

    def pct(xs: list[int], q: float) -> int:
        return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else 0

    return {"p50": pct(values, 0.5), "p95": pct(values, 0.95), "max": values[-1] if values else 0,
            "total": sum(values), "per_person": round(sum(values) / len(members)),
            "days_with_mail_share": round(len(busy) / len(values), 3) if values else 0,
            "p50_days_with_mail": pct(busy, 0.5), "p95_days_with_mail": pct(busy, 0.95),
            "mean": round(statistics.fmean(values), 2) if values else 0,
            # Who got the most in one day, and when: a profession, not a name.
            "max_on": None if top is None else {
                "profession": next(p.profession for p in team.PROS if p.email == top[0]),
                "day": f"{top[1]:%A %Y-%m-%d}"}}


def year_table(result: dict[str, Any]) -> Any:
    """The figures of both sides for the terminal (``make bench``)."""
    from rich.table import Table

    before, after = result["before"], result["after"]
    t = Table(title=f"Reminders over {after['days']} days: {after['members']} members, "
                    f"{after['patients']} patients (issue 17)")
    for col in ("mails per person per day", "before", "after", "target"):
        t.add_column(col)
    for which, label, target in (("reminder_mails", "reminder mails", ("", "", "<= 1")),
                                 ("all_mails", "all mails from the service",
                                  ("", "<= 2", ""))):
        for stat, aim in zip(("p50", "p95", "max"), target, strict=True):
            t.add_row(f"{label}: {stat}", str(before[which][stat]), str(after[which][stat]), aim)
        t.add_row(f"{label}: per person over the period", str(before[which]["per_person"]),
                  str(after[which]["per_person"]), "")
    for key, label in (("reminder_mails_on_days_off", "reminder mails on weekends and holidays"),
                       ("reminder_mails_to_absent", "reminder mails to someone away"),
                       ("fait_mails", "FAIT mails from the team")):
        t.add_row(label, str(before[key]), str(after[key]), "")
    t.caption = (f"simulated in {before['wall_s']} s (before) and {after['wall_s']} s (after), "
                 "side by side")
    return t


def problems(result: dict[str, Any]) -> list[str]:
    """What went wrong on the way, for ``make bench``'s exit status."""
    found = []
    for side in ("before", "after"):
        r = result.get(side)
        if not r:
            continue
        if r["refused_plans"]:
            found.append(f"year ({side}): {r['refused_plans']} plan(s) refused")
        if r["unanswered_mails"]:
            found.append(f"year ({side}): {r['unanswered_mails']} mail(s) without an answer")
    after = result.get("after")
    if after and after["reminder_mails"]["max"] > 1:
        found.append(f"year: someone got {after['reminder_mails']['max']} reminder mails a day")
    return found


async def _simulate(side: str, days: int, patients: int, start: date) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="esp-year-") as tmp:
        return await Simulation(Path(tmp), after=side == "after", days=days, patients=patients,
                                start=start).run()


def run(days: int = 365, patients: int = 150) -> dict[str, Any]:
    """Both sides, each in a fresh child process, side by side (2 cores)."""
    children = {side: subprocess.Popen(
        [sys.executable, "-m", "bench.year_simulation", "--side", side, "--days", str(days),
         "--patients", str(patients)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
        for side in ("before", "after")}
    result: dict[str, Any] = {}
    for side, child in children.items():
        out, _ = child.communicate()
        if child.returncode:
            raise RuntimeError(f"the {side} side of the year simulation failed")
        result[side] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--patients", type=int, default=150)
    parser.add_argument("--side", choices=("before", "after"))
    parser.add_argument("--start", type=date.fromisoformat, default=START)
    args = parser.parse_args()
    import logging

    logging.basicConfig(level=logging.WARNING)
    if args.side:
        result = asyncio.run(_simulate(args.side, args.days, args.patients, args.start))
    else:
        result = run(args.days, args.patients)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
