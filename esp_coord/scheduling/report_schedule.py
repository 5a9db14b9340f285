"""The activity report sent to the coordinators, each quarter and each year.

On the first day of a quarter, at the reminder hour, each coordinator gets
the report of the quarter that ended (``esp_coord.report.mail``); in
January, the report of the year that ended as well. Rows are made ahead:
at engine start (``ensure_scheduled``) the next reports are planned, and each
one sent plans the next; a row's key names its period and its coordinator,
so that no report goes out twice, and one due while the service was down
goes out at start, marked late, like every reminder.

``[report] schedule`` says which: "quarterly" (default: quarters and years),
"yearly", or "none".
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta

from esp_coord.answers import Answer
from esp_coord.config import Config
from esp_coord.ports import UnitOfWork
from esp_coord.report.gather import build_report
from esp_coord.report.mail import report_answer
from esp_coord.scheduling.registry import Registered
from esp_coord.scheduling.times import local_day, local_instant
from esp_coord.store.reminders import Reminder, ReminderSpec
from plans.periods import Period, quarter, year
from plans.typography import french

__all__ = ["KIND", "KINDS", "SOURCE", "ensure_scheduled", "periods_due_on"]

KIND = "activity_report"
SOURCE = "report"


def periods_due_on(day: date, schedule: str) -> list[Period]:
    """The periods whose report goes out on ``day`` (the first of a quarter)."""
    if schedule == "none" or day.day != 1 or day.month not in (1, 4, 7, 10):
        return []
    due = []
    if schedule == "quarterly":
        number = (day.month - 1) // 3  # the quarter that just ended (0: the last one)
        due.append(quarter(day.year - 1, 4) if number == 0 else quarter(day.year, number))
    if day.month == 1:
        due.append(year(day.year - 1))
    return due


def _next_day(after: date, schedule: str) -> date | None:
    if schedule == "none":
        return None
    for months in range(1, 13):
        month = (after.month - 1 + months) % 12 + 1
        day = date(after.year + (after.month - 1 + months) // 12, month, 1)
        if periods_due_on(day, schedule):
            return day
    return None


def _sent_on(day: date, config: Config) -> date:
    """The first working day from ``day`` (1 January is a holiday): unlike a
    reminder, a report cannot go out before its period has ended."""
    for _ in range(15):
        if not config.reminders.days_off.is_off(day):
            return day
        day += timedelta(days=1)
    return day


def _specs(day: date, config: Config) -> list[ReminderSpec]:
    due_at = local_instant(_sent_on(day, config), config.reminders.hour, config.timezone)
    specs = []
    for period in periods_due_on(day, config.report_schedule):
        for member in config.members:
            if not member.is_coordinator:
                continue
            address = member.email.strip().lower()
            who = address if len(address) < 180 else \
                "#" + hashlib.sha256(address.encode()).hexdigest()
            specs.append(ReminderSpec(
                key=f"{SOURCE}:{period.start:%Y%m%d}-{period.end:%Y%m%d}:{who}:{KIND}", kind=KIND,
                source_ref=SOURCE, recipient=address, due_at=due_at,
                payload={"start": period.start.isoformat(), "end": period.end.isoformat(),
                         "label": period.label}))
    return specs


def ensure_scheduled(tx: UnitOfWork, config: Config, now: datetime) -> None:
    """The next report day's rows, for every coordinator (idempotent)."""
    today = local_day(now, config.timezone)
    day = today if periods_due_on(today, config.report_schedule) and local_instant(
        _sent_on(today, config), config.reminders.hour, config.timezone) > now else \
        _next_day(today, config.report_schedule)
    if day is not None:
        tx.add_reminders(_specs(day, config), now)


def compose_report(tx: UnitOfWork, reminder: Reminder, now: datetime,
                   config: Config) -> list[Answer]:
    period_end = date.fromisoformat(reminder.payload["end"])
    following = _next_day(period_end + timedelta(days=1), config.report_schedule)
    if following is not None:  # the next report is planned as this one goes
        tx.add_reminders(_specs(following, config), now)
    member = config.member(reminder.recipient)
    if member is None or not member.is_coordinator:
        return []
    payload = reminder.payload
    period = Period(date.fromisoformat(payload["start"]), date.fromisoformat(payload["end"]),
                    str(payload["label"]))
    report = build_report(tx, config, period)
    return [report_answer(report, name=member.name, to=(reminder.recipient,),
                          subject=french(f"Rapport d’activité de l’équipe : {period.label}"),
                          auto_submitted="auto-generated",
                          message_id_tag=f"rapport-{period.start:%Y%m%d}")]


KINDS = {KIND: Registered(compose_report, rebuild=ensure_scheduled)}
