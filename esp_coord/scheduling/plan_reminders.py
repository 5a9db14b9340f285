"""Follow-up reminders of care plans: rows from ``plans.followups``, and their mails.

The plan handlers call ``plan_changed`` after they save a plan, in the same
transaction: when the plan's follow-ups changed (a new plan, a FAIT, a
REPORTER, a closure, a new action or referent), its reminder rows are
reconciled with what it now wants; a change that leaves them as they were (a
note, a problem, a team member) leaves the rows alone. The composers re-check
the plan when a reminder is due (still active, action still open, same
occurrence, recipient still concerned) and reschedule the plan from that day
(``schedule_plan``), which is how a recurring action that is neither done nor
touched keeps producing its next occurrences.

Reminder mails carry a stable Message-ID naming the plan
(``<PPS-2026-0001.rappel.<hash>@domain>``), so a reply "FAIT 3" finds the
plan from In-Reply-To alone (see ``references.plan_ref_of``). The
daily digest gathers several plans under its own Message-ID: there, each item
gives its ready-to-reply lines with the plan's reference (« FAIT 3
PPS-2026-0001 »), one action per reply.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date, datetime, timedelta

from esp_coord.answers import Answer
from esp_coord.config import Config, Member
from esp_coord.plan_repo import KIND as PLAN_KIND
from esp_coord.ports import UnitOfWork
from esp_coord.scheduling.registry import Composer, Registered
from esp_coord.scheduling.times import local_day, local_instant
from esp_coord.store.reminders import Reminder, ReminderSpec, keeping
from plans.dates import format_date
from plans.followups import DUE, OVERDUE, OVERDUE_NOTE, FollowUp, plan_followups
from plans.model import Action, Plan, PlanError
from plans.typography import french

__all__ = ["plan_changed", "plan_specs", "schedule_plan"]

_KEY_MAX = 255


def _key(followup: FollowUp) -> str:
    key = followup.key
    if len(key) <= _KEY_MAX:
        return key
    # An unusually long address: keep the key unique and within the column.
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"{key[:_KEY_MAX - 33]}#{digest}"


def plan_specs(plan: Plan, config: Config, now: datetime) -> list[ReminderSpec]:
    """The reminder rows ``plan`` wants, timed at the team's reminder hour."""
    settings = config.reminders
    followups = plan_followups(
        plan, today=local_day(now, config.timezone), overdue_days=settings.overdue_days,
        roster=[m.email for m in config.members],
        coordinators=[m.email for m in config.members if m.is_coordinator])
    return [ReminderSpec(key=_key(f), kind=f.kind, source_ref=plan.ref, recipient=f.recipient,
                         due_at=local_instant(f.day, settings.hour, config.timezone),
                         payload={"ref": f.ref, "number": f.number,
                                  "occurrence": f.occurrence.isoformat()})
            for f in followups]


def schedule_plan(tx: UnitOfWork, plan: Plan, config: Config, now: datetime,
                        *, keep: Reminder | None = None) -> None:
    """Reconcile the plan's reminder rows (``keep``: a row being sent now)."""
    tx.replace_reminders(plan.ref, keeping(plan_specs(plan, config, now), keep), now)


def plan_changed(tx: UnitOfWork, plan: Plan, config: Config, now: datetime,
                 previous: Plan | None) -> bool:
    """After ``plan`` was saved: reconcile its reminder rows if its follow-ups
    changed since ``previous`` (the plan as loaded; None for a new plan).
    Returns whether the rows were reconciled."""
    specs = plan_specs(plan, config, now)
    if previous is not None and plan_specs(previous, config, now) == specs:
        return False
    tx.replace_reminders(plan.ref, specs, now)
    return True


# --- composing the mails ---------------------------------------------------------


def _still_wanted(tx: UnitOfWork, reminder: Reminder, now: datetime, config: Config
                        ) -> tuple[Plan, Action] | None:
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
    if reminder.kind == DUE:
        # One-off: that very date. Recurring: an occurrence not yet behind us
        # (one before the current due date was done or skipped).
        ok = occurrence >= action.due if action.recurring else occurrence == action.due
        concerned = reminder.recipient == (action.assignee or "").lower()
    else:
        ok = occurrence == action.due
        if reminder.kind == OVERDUE:
            concerned = reminder.recipient == (action.assignee or "").lower()
        else:
            member = config.member(reminder.recipient)
            concerned = reminder.recipient == plan.referent.lower() or bool(
                member and member.is_coordinator)
    return (plan, action) if ok and concerned else None


def _name(config: Config, address: str | None) -> str:
    member: Member | None = config.member(address or "")
    return member.name if member else (address or "personne (à attribuer)")


def _message_tag(reminder: Reminder) -> str:
    return f"{reminder.source_ref}.rappel.{hashlib.sha256(reminder.key.encode()).hexdigest()[:16]}"


def _answer(reminder: Reminder, subject: str, lines: list[str]) -> Answer:
    return Answer(subject=french(subject), text=french("\n".join(lines) + "\n"),
                  to=(reminder.recipient,), message_id_tag=_message_tag(reminder),
                  stable_id=True, auto_submitted="auto-generated")


def _action_lines(plan: Plan, action: Action, config: Config) -> list[str]:
    return [f"Plan {plan.ref} - {plan.patient.display_name}",
            f"Action n° {action.number} : {action.what}",
            f"Qui : {_name(config, action.assignee)} ; quand : {action.when.describe()}"]


def _reply_help(action: Action, plan: Plan, today: date, *, digest: bool) -> list[str]:
    later = format_date(today + timedelta(days=7))
    if digest:
        # The daily digest names no plan (its Message-ID and subject are its
        # own): each line carries the plan's reference, and the rest of a FAIT
        # mail is its comment, hence one action per reply.
        return ["Pour le noter, répondez avec cette ligne (une action par réponse ; "
                "une ligne de commentaire peut suivre) :",
                f"    FAIT {action.number} {plan.ref}",
                "ou, pour changer la date :",
                f"    REPORTER {action.number} {plan.ref} au {later}"]
    return ["Répondez simplement à ce message :",
            f"    FAIT {action.number}",
            "quand c'est fait (une ligne de commentaire peut suivre), ou",
            f"    REPORTER {action.number} au {later}",
            "pour changer la date. Depuis un nouveau message, ajoutez la référence : "
            f"FAIT {action.number} {plan.ref}."]


_Text = Callable[[Reminder, Plan, Action, date, datetime, Config], list[Answer]]


def _plan_composer(text: _Text) -> Composer:
    """A composer that re-checks the plan (``_still_wanted``) and, if the
    reminder still applies, writes it with ``text`` (given the action's due date)."""
    def compose(tx: UnitOfWork, reminder: Reminder, now: datetime,
                      config: Config) -> list[Answer]:
        found = _still_wanted(tx, reminder, now, config)
        if found is None:
            return []
        plan, action = found
        assert action.due is not None  # _still_wanted keeps dated actions only
        return text(reminder, plan, action, action.due, now, config)
    return compose


@_plan_composer
def compose_due(reminder: Reminder, plan: Plan, action: Action, due: date, now: datetime,
                config: Config) -> list[Answer]:
    occurrence = date.fromisoformat(reminder.payload["occurrence"])
    today = local_day(now, config.timezone)
    when = "aujourd'hui" if occurrence == today else f"le {format_date(occurrence)}"
    lines = [f"Bonjour {_name(config, reminder.recipient)},", "",
             f"Rappel : une action du plan {plan.ref} est prévue {when}"
             f" ({format_date(occurrence)}).", "",
             *_action_lines(plan, action, config), ""]
    if action.recurring and occurrence > due:
        lines += [f"L'occurrence du {format_date(due)} n'est pas encore notée "
                  f"faite : FAIT {action.number} l'enregistre comme faite aujourd'hui et "
                  "prévoit la suivante.", ""]
    lines += _reply_help(action, plan, today,
                         digest=config.reminders.wants_digest(reminder.recipient))
    return [_answer(reminder, f"[{plan.ref}] Rappel : action {action.number} à faire "
                              f"le {format_date(occurrence)}", lines)]


@_plan_composer
def compose_overdue(reminder: Reminder, plan: Plan, action: Action, due: date, now: datetime,
                    config: Config) -> list[Answer]:
    days = (local_day(now, config.timezone) - due).days
    informed = ("La coordination en est informée." if reminder.recipient == plan.referent
                else "La référente ou le référent du plan et la coordination en sont informés.")
    lines = [f"Bonjour {_name(config, reminder.recipient)},", "",
             f"L'action n° {action.number} du plan {plan.ref}, prévue le "
             f"{format_date(due)}, n'est pas notée faite ({days} jour"
             f"{'s' if days > 1 else ''} de retard).", informed, "",
             *_action_lines(plan, action, config), "",
             *_reply_help(action, plan, local_day(now, config.timezone),
                          digest=config.reminders.wants_digest(reminder.recipient))]
    return [_answer(reminder, f"[{plan.ref}] En retard : action {action.number}", lines)]


@_plan_composer
def compose_overdue_note(reminder: Reminder, plan: Plan, action: Action, due: date,
                         now: datetime, config: Config) -> list[Answer]:
    lines = [f"Bonjour {_name(config, reminder.recipient)},", "",
             f"Pour information : l'action n° {action.number} du plan {plan.ref}, prévue le "
             f"{format_date(due)} et confiée à {_name(config, action.assignee)}, "
             f"n'est pas notée faite après {config.reminders.overdue_days} jours.",
             "Un rappel a été envoyé à la personne concernée.", "",
             *_action_lines(plan, action, config), "",
             f"STATUT {plan.ref} donne l'état complet du plan."]
    return [_answer(reminder, f"[{plan.ref}] Action {action.number} en retard", lines)]


KINDS = {DUE: Registered(compose_due, digest=True),
         OVERDUE: Registered(compose_overdue, digest=True),
         OVERDUE_NOTE: Registered(compose_overdue_note, digest=True)}
