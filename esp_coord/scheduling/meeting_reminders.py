"""J-7 / J-1 reminders of concertation meetings: their rows, and their mails.

For each of the next two occurrences, one reminder per participant and per
``[reminders] meeting_offsets`` day (J-7, J-1 by default), at ``[reminders]
hour`` team-local time (the working day before, when that day is off: a
Monday meeting's J-1 goes out on Friday), reconciled with ``tx.replace_reminders`` on every
change of the meeting (the meeting handlers call ``schedule``), at every
reminder composed or dropped, and for every active series at engine start
(``schedule_all``): a stop longer than the rows made ahead closes the rows of
meetings already over and makes the next ones. The composer drops the
reminder of a cancelled occurrence, a participant who left or a meeting
already over.

A reminder missed while the service was down is sent late only if the
meeting is still ahead and no closer reminder of the same meeting and person
is due as well (after a stop over J-7 and J-1, only the J-1 goes out: two
mails the same morning would say the same thing). It is worded from the real
gap (« demain », « aujourd'hui »), never from its planned offset.

Someone who takes digests gets it as an entry of their daily digest
(``plan_digest.DAILY``), with the invitation attached to the digest: one
mail that morning, not two.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from esp_coord import absence_repo
from esp_coord.absence_repo import absence_words
from esp_coord.access import participants_of
from esp_coord.agenda import view_for
from esp_coord.answers import Answer
from esp_coord.config import Config, Member
from esp_coord.invitations import invitation_file
from esp_coord.meeting_repo import MeetingRepository
from esp_coord.plan_repo import PlanRepository
from esp_coord.ports import UnitOfWork
from esp_coord.roster import people_of
from esp_coord.scheduling.digest import MEETING, Entry
from esp_coord.scheduling.plan_digest import DAILY
from esp_coord.scheduling.reconcile import reconcile
from esp_coord.scheduling.registry import Registered
from esp_coord.scheduling.times import reminder_instant
from esp_coord.store.reminders import Reminder, ReminderSpec
from plans.absences import Absences
from plans.meeting_render import AgendaView, days_before_words, reminder_lines, render_reminder
from plans.meetings import Meeting

__all__ = ["AHEAD", "KINDS", "REMINDER_KIND", "compose_reminder", "reminder_item",
           "reminder_specs", "schedule", "schedule_all"]

REMINDER_KIND = "meeting_reminder"
# Reminders are kept for this many upcoming occurrences; the composer adds
# the next ones as the series goes on.
AHEAD = 2


def reminder_specs(meeting: Meeting, config: Config, now: datetime,
                   absences: Absences | None = None) -> list[ReminderSpec]:
    """J-N reminders of the next ``AHEAD`` occurrences, one per participant:
    those ahead of ``now`` and, for a meeting still to come, the latest one
    whose time has passed since the meeting was planned (owed: see ``schedule``).
    None to a participant absent the day it goes out or the day of the meeting."""
    specs: list[ReminderSpec] = []
    absences = absences or Absences()
    settings = config.reminders
    for start in meeting.occurrences(now, AHEAD):
        day = start.date()
        # On a day off, the working day before (``times.reminder_instant``).
        dues = sorted(((reminder_instant(day - timedelta(days=offset), settings.hour,
                                         meeting.tz, settings.days_off, now), offset)
                       for offset in settings.meeting_offsets), reverse=True)
        # J-0 after the meeting has started says nothing useful.
        dues = [(due, offset) for due, offset in dues if due < start]
        past = [(due, offset) for due, offset in dues if due < now]
        # Of those missed, the closest only, for a meeting not yet started; none
        # from before the meeting existed (no J-7 for a meeting planned three
        # days ahead).
        owed = past[:1] if start > now else []
        wanted = [d for d in dues if d[0] >= now] + [
            d for d in owed if d[0] >= meeting.created_at]
        for due, offset in wanted:
            for address in participants_of(meeting, config):
                if absences.away(address, due.astimezone(meeting.tz).date(), day):
                    continue
                specs.append(ReminderSpec(
                    key=f"{meeting.ref}:{day.isoformat()}:J-{offset}:{address}",
                    kind=REMINDER_KIND, source_ref=meeting.ref, recipient=address, due_at=due,
                    payload={"meeting": meeting.ref, "day": day.isoformat(), "offset": offset}))
    return specs


def schedule(tx: UnitOfWork, meeting: Meeting, config: Config, now: datetime,
             keep: Reminder | None = None, *, absences: Absences | None = None) -> None:
    """Reconcile the meeting's reminder rows; ``keep`` (the row being sent)
    stays as it is even if the settings changed since it was planned.

    A row owed but never made (its time passed during a stop longer than the
    rows made ahead) is added as it would have been, to go out late at once:
    the store never makes a past row on its own, and a key already there
    (sent, dropped, cancelled) is never made again."""
    if absences is None:
        absences, _ = absence_repo.load(tx)
    specs = reminder_specs(meeting, config, now, absences)
    reconcile(tx, meeting.ref, specs, now, keep, days_off=config.reminders.days_off,
              tz=meeting.tz)
    owed = [spec for spec in specs if spec.due_at < now]
    if owed:
        tx.add_reminders(owed, now)


def schedule_all(tx: UnitOfWork, config: Config, now: datetime) -> None:
    """Engine start: every active meeting's rows reconciled from now on."""
    absences, _ = absence_repo.load(tx)
    for meeting in MeetingRepository(tx).active():
        schedule(tx, meeting, config, now, absences=absences)


def _superseded(tx: UnitOfWork, reminder: Reminder, now: datetime) -> bool:
    """A later reminder of the same meeting day and person is due too (both
    missed during a stop): only that one is sent."""
    return any(row.id != reminder.id and row.recipient == reminder.recipient
               and row.payload.get("day") == reminder.payload["day"]
               and reminder.due_at < row.due_at <= now
               for row in tx.reminders_of(reminder.source_ref, status="pending"))


def _prepared(tx: UnitOfWork, reminder: Reminder, now: datetime, config: Config
              ) -> tuple[Meeting, datetime, int, AgendaView, Member] | None:
    """The meeting, occurrence, real gap in days, agenda as the recipient may
    see it and the recipient, if the reminder still applies (see
    ``compose_reminder``); the series' rows are reconciled first."""
    loaded = MeetingRepository(tx).get(reminder.source_ref)
    member = config.member(reminder.recipient)
    if loaded is None:
        return None
    meeting, _ = loaded
    # First of all, whatever happens to this row: the series goes on.
    schedule(tx, meeting, config, now, keep=reminder)
    day = date.fromisoformat(reminder.payload["day"])
    start = meeting.at_day(day)
    today = now.astimezone(meeting.tz).date()
    absences, _ = absence_repo.load(tx)
    participants = participants_of(meeting, config)
    if (member is None or not meeting.is_active or day in meeting.cancelled
            or start + meeting.duration <= now
            or member.email not in participants
            or absences.away(member.email, today, day) is not None
            or _superseded(tx, reminder, now)):
        return None
    away = [absence_words(a, config) for a in absences.items
            if a.covers(day) and a.member in participants]
    view = view_for(member, meeting, day, PlanRepository(tx).active(), today,
                    late_after=config.reminders.overdue_days, absent=away)
    # From the real gap: a reminder sent late must not announce « dans 7 jours ».
    return meeting, start, max(0, (day - today).days), view, member


def compose_reminder(tx: UnitOfWork, reminder: Reminder, now: datetime,
                     config: Config) -> list[Answer]:
    """One meeting reminder: the agenda as its recipient may see it, the
    invitation. Nothing (the row is dropped) for a cancelled meeting or day, a
    participant who left, a meeting already over, or a stale reminder (see
    the module docstring)."""
    prepared = _prepared(tx, reminder, now, config)
    if prepared is None:
        return []
    meeting, start, gap, view, member = prepared
    rendered = render_reminder(meeting, start=start, days_before=gap, people=people_of(config),
                               view=view)
    return [Answer(subject=rendered.subject, text=rendered.text, to=(member.email,),
                   attachments=(invitation_file(meeting, config, now, view.refs),),
                   message_id_tag=f"{meeting.ref}.rappel.{start.date().isoformat()}",
                   auto_submitted="auto-generated")]


def reminder_item(tx: UnitOfWork, reminder: Reminder, now: datetime,
                  config: Config) -> Entry | None:
    """The same reminder as an entry of the person's daily digest, with the
    invitation attached to the digest."""
    prepared = _prepared(tx, reminder, now, config)
    if prepared is None:
        return None
    meeting, start, gap, view, _ = prepared
    lines = reminder_lines(meeting, start=start, days_before=gap, view=view)
    return Entry(meeting.ref, f"Réunion de concertation {meeting.ref}", tuple(lines),
                 kind=MEETING, attachments=(invitation_file(meeting, config, now, view.refs),),
                 label=f"réunion {meeting.ref} {days_before_words(gap)}",
                 about=f"{meeting.ref}:{start.date().isoformat()}")


KINDS = {REMINDER_KIND: Registered(compose_reminder, digest=DAILY, item=reminder_item,
                                    rebuild=schedule_all)}
