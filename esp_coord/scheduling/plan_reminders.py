"""Follow-up reminders of care plans: their rows (from ``plans.followups``) and the
check that a due row still applies; their mails are ``plan_mails`` (one per
reminder) and ``plan_digest`` (the daily digests).

The plan handlers call ``plan_changed`` after they save a plan, in the same
transaction: when the plan's follow-ups changed (a new plan, a FAIT, a
REPORTER, a closure, a new action or referent), its reminder rows are
reconciled with what it now wants; a change that leaves them as they were (a
note, a problem, a team member) leaves the rows alone. The composers re-check
the plan when a reminder is due (still active, action still open, same
occurrence, recipient still concerned) and reschedule the plan from that day
(``schedule_plan``), which is how a recurring action that is neither done nor
touched keeps producing its next occurrences.

A reminder mail about one plan carries a Message-ID naming the plan
(``<PPS-2026-0001.rappel.<hash>@domain>``), so a reply "FAIT 3" finds the
plan from In-Reply-To alone (see ``references.plan_ref_of``). A digest about
several plans has its own: there, each item gives its ready-to-reply line
with the plan's reference (« FAIT 3 PPS-2026-0001 »), and a reply may hold
several such lines (``plans.commands.action_commands``).
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import date, datetime

from esp_coord import absence_repo
from esp_coord.config import Config, Member
from esp_coord.plan_repo import KIND as PLAN_KIND
from esp_coord.ports import UnitOfWork
from esp_coord.scheduling.reconcile import reconcile
from esp_coord.scheduling.times import (
    first_actable_day,
    local_day,
    notice_instant,
    reminder_instant,
    told_ahead,
)
from esp_coord.store.reminders import Reminder, ReminderSpec
from plans.absences import Absences
from plans.dates import format_date
from plans.followups import DUE, OVERDUE, OVERDUE_NOTE, FollowUp, plan_followups
from plans.model import Action, Plan, PlanError

__all__ = ["action_block", "covering_words", "earliest_start", "name_of", "plan_changed",
           "plan_specs", "schedule_plan", "still_wanted"]

_KEY_MAX = 255


def _key(followup: FollowUp) -> str:
    key = followup.key
    if len(key) <= _KEY_MAX:
        return key
    # An unusually long address: keep the key unique and within the column.
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"{key[:_KEY_MAX - 33]}#{digest}"


def earliest_start(config: Config, now: datetime) -> date:
    """The first day a new recurring action may fall on (``Plan.create``'s
    ``earliest``): the first whose reminder is still to go out."""
    settings = config.reminders
    return first_actable_day(now, config.timezone, settings.hour, settings.days_off)


def plan_specs(plan: Plan, config: Config, now: datetime,
               absences: Absences | None = None) -> list[ReminderSpec]:
    """The reminder rows ``plan`` wants, timed at the team's reminder hour: a
    due-day reminder on the working day before a day off, an overdue notice
    on the working day after (it says « not done N days after »: never
    before them). What falls due for someone absent goes to whoever covers
    for them (``Absences.cover``), marked ``covering``."""
    settings = config.reminders
    coordinators = [m.email for m in config.members if m.is_coordinator]
    today = local_day(now, config.timezone)
    followups = plan_followups(
        plan, today=today, overdue_days=settings.overdue_days,
        roster=[m.email for m in config.members], coordinators=coordinators,
        ahead=told_ahead(today, settings.days_off))
    absences = absences or Absences()
    specs = []
    told: dict[tuple[int, date, str, str], date] = {}
    for f in followups:
        if f.kind == DUE:
            due_at = reminder_instant(f.day, settings.hour, config.timezone, settings.days_off,
                                      now)
        else:
            due_at = notice_instant(f.day, settings.hour, config.timezone, settings.days_off)
            # A first notice moved past a weekend to a Monday says that morning
            # what the Monday recall would: the recall is left out.
            sent_on, about = local_day(due_at, config.timezone), (
                f.number, f.occurrence, f.kind, f.recipient)
            if not f.recall:
                told[about] = sent_on
            elif sent_on <= told.get(about, date.min):
                continue
        days = (local_day(due_at, config.timezone), f.occurrence if f.kind == DUE else f.day)
        # An absent watcher's note goes to their substitute only: the other
        # watchers get theirs.
        fallback = [plan.referent.lower(), *coordinators] if f.kind != OVERDUE_NOTE else []
        for recipient in absences.cover(f.recipient, days, fallback):
            covered = f if recipient == f.recipient else replace(f, recipient=recipient)
            specs.append(ReminderSpec(
                key=_key(covered), kind=f.kind, source_ref=plan.ref, recipient=recipient,
                due_at=due_at, payload=_payload(f, covering=f.recipient
                                                if recipient != f.recipient else None)))
    return specs


def _payload(followup: FollowUp, covering: str | None) -> dict[str, object]:
    payload: dict[str, object] = {"ref": followup.ref, "number": followup.number,
                                  "occurrence": followup.occurrence.isoformat()}
    if followup.recall:
        payload["recall"] = True
    if covering is not None:
        payload["covering"] = covering
    return payload


def schedule_plan(tx: UnitOfWork, plan: Plan, config: Config, now: datetime,
                  *, keep: Reminder | None = None, absences: Absences | None = None) -> None:
    """Reconcile the plan's reminder rows (``keep``: a row being sent now)."""
    if absences is None:
        absences, _ = absence_repo.load(tx)
    reconcile(tx, plan.ref, plan_specs(plan, config, now, absences), now, keep,
              days_off=config.reminders.days_off, tz=config.timezone)


def plan_changed(tx: UnitOfWork, plan: Plan, config: Config, now: datetime,
                 previous: Plan | None) -> bool:
    """After ``plan`` was saved: reconcile its reminder rows if its follow-ups
    changed since ``previous`` (the plan as loaded; None for a new plan).
    Returns whether the rows were reconciled."""
    absences, _ = absence_repo.load(tx)
    specs = plan_specs(plan, config, now, absences)
    if previous is not None and plan_specs(previous, config, now, absences) == specs:
        return False
    reconcile(tx, plan.ref, specs, now, days_off=config.reminders.days_off, tz=config.timezone)
    return True


# --- composing the mails ---------------------------------------------------------


def still_wanted(tx: UnitOfWork, reminder: Reminder, now: datetime, config: Config
                 ) -> tuple[Plan, Action] | None:
    """The plan and action a due row is about, if it still applies (the plan
    active, the action open, the same occurrence, the recipient concerned);
    the plan's rows are reconciled from now on first, whatever the answer."""
    doc = tx.load_document(PLAN_KIND, reminder.source_ref)
    if doc is None:
        return None
    plan = Plan.from_dict(doc.data)
    schedule_plan(tx, plan, config, now, keep=reminder)
    if not plan.is_active:
        return None
    try:
        action = plan.action(int(reminder.payload["number"]))
    except (PlanError, KeyError, ValueError):
        return None
    occurrence = date.fromisoformat(reminder.payload["occurrence"])
    if action.status != "todo" or action.due is None:
        return None
    # A row covering for someone absent is about them (and still wanted only
    # while the absence lasts: the reconcile above cancelled it otherwise).
    about = str(reminder.payload.get("covering") or reminder.recipient)
    if reminder.kind == DUE:
        # One-off: that very date. Recurring: an occurrence not yet behind us
        # (one before the current due date was done or skipped).
        ok = occurrence >= action.due if action.recurring else occurrence == action.due
        concerned = about == (action.assignee or "").lower()
    else:
        ok = occurrence == action.due
        if reminder.kind == OVERDUE:
            concerned = about == (action.assignee or "").lower()
        else:
            member = config.member(about)
            concerned = about == plan.referent.lower() or bool(
                member and member.is_coordinator)
    return (plan, action) if ok and concerned else None


def covering_words(tx: UnitOfWork, reminder: Reminder, config: Config, today: date
                   ) -> str | None:
    """« En remplacement de Julien MARIE (absence jusqu'au 04/01/2027). » for a
    row covering for someone absent, else None."""
    covering = reminder.payload.get("covering")
    if not covering:
        return None
    absences, _ = absence_repo.load(tx)
    absence = absences.on(str(covering), today) or next(
        (a for a in absences.of(str(covering)) if a.end >= today), None)
    until = f" (absence jusqu'au {format_date(absence.end)})" if absence else ""
    return f"En remplacement de {name_of(config, str(covering))}{until}."


def name_of(config: Config, address: str | None) -> str:
    member: Member | None = config.member(address or "")
    return member.name if member else (address or "personne (à attribuer)")


def action_block(plan: Plan, action: Action, config: Config) -> list[str]:
    return [f"Plan {plan.ref} - {plan.patient.display_name}",
            f"Action n° {action.number} : {action.what}",
            f"Qui : {name_of(config, action.assignee)} ; quand : {action.when.describe()}"]
