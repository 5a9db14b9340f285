"""Follow-up reminders of care plans, one mail each: for the people who asked
for a mail per reminder (``[reminders] per_action_members``, or ``digest =
false``); everyone else gets them in a digest (``plan_digest``).

Each mail carries a stable Message-ID naming the plan, so that a bare
« FAIT 3 » in reply finds it (``references.plan_ref_of``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timedelta

from esp_coord.answers import Answer
from esp_coord.config import Config
from esp_coord.ports import UnitOfWork
from esp_coord.scheduling import plan_digest
from esp_coord.scheduling.digest import late_words
from esp_coord.scheduling.plan_reminders import (
    action_block,
    covering_words,
    name_of,
    still_wanted,
)
from esp_coord.scheduling.registry import Composer, Registered
from esp_coord.scheduling.times import local_day
from esp_coord.store.reminders import Reminder
from plans.dates import format_date, format_date_long
from plans.followups import DUE, OVERDUE, OVERDUE_NOTE
from plans.model import Action, Plan
from plans.typography import french

__all__ = ["KINDS", "compose_due", "compose_overdue", "compose_overdue_note"]


def _message_tag(reminder: Reminder) -> str:
    return f"{reminder.source_ref}.rappel.{hashlib.sha256(reminder.key.encode()).hexdigest()[:16]}"


def _answer(reminder: Reminder, subject: str, lines: list[str]) -> Answer:
    return Answer(subject=french(subject), text=french("\n".join(lines) + "\n"),
                  to=(reminder.recipient,), message_id_tag=_message_tag(reminder),
                  stable_id=True, auto_submitted="auto-generated")


def _reply_help(action: Action, plan: Plan, today: date) -> list[str]:
    later = format_date(today + timedelta(days=7))
    return ["Répondez simplement à ce message :",
            f"    FAIT {action.number}",
            "quand c'est fait (une ligne de commentaire peut suivre), ou",
            f"    REPORTER {action.number} au {later}",
            "pour changer la date. Depuis un nouveau message, ajoutez la référence : "
            f"FAIT {action.number} {plan.ref}."]


_Text = Callable[[Reminder, Plan, Action, date, datetime, Config], list[Answer]]


def _plan_composer(text: _Text) -> Composer:
    """A composer that re-checks the plan (``still_wanted``) and, if the
    reminder still applies, writes it with ``text`` (given the action's due date)."""
    def compose(tx: UnitOfWork, reminder: Reminder, now: datetime,
                config: Config) -> list[Answer]:
        found = still_wanted(tx, reminder, now, config)
        if found is None:
            return []
        plan, action = found
        assert action.due is not None  # still_wanted keeps dated actions only
        answers = text(reminder, plan, action, action.due, now, config)
        covering = covering_words(tx, reminder, config, local_day(now, config.timezone))
        if covering is None:
            return answers
        # Said first, under the greeting: this one is someone else's.
        return [replace(a, text=a.text.replace("\n\n", f"\n\n{french(covering)}\n\n", 1))
                for a in answers]
    return compose


@_plan_composer
def compose_due(reminder: Reminder, plan: Plan, action: Action, due: date, now: datetime,
                config: Config) -> list[Answer]:
    occurrence = date.fromisoformat(reminder.payload["occurrence"])
    today = local_day(now, config.timezone)
    when = "aujourd'hui" if occurrence == today else f"le {format_date(occurrence)}"
    lines = [f"Bonjour {name_of(config, reminder.recipient)},", "",
             f"Rappel : une action du plan {plan.ref} est prévue {when}"
             f" ({format_date(occurrence)}).", "",
             *action_block(plan, action, config), ""]
    why = config.reminders.days_off.why(occurrence) if occurrence > today else None
    if why is not None:
        lines += [f"Le {format_date_long(occurrence)} est un {why} : ce rappel part le "
                  "dernier jour ouvré d'avant ; l'échéance ne change pas.", ""]
    if action.recurring and occurrence > due:
        lines += [f"L'occurrence du {format_date(due)} n'est pas encore notée "
                  f"faite : FAIT {action.number} l'enregistre comme faite aujourd'hui et "
                  "prévoit la suivante.", ""]
    lines += _reply_help(action, plan, today)
    return [_answer(reminder, f"[{plan.ref}] Rappel : action {action.number} à faire "
                              f"le {format_date(occurrence)}", lines)]


@_plan_composer
def compose_overdue(reminder: Reminder, plan: Plan, action: Action, due: date, now: datetime,
                    config: Config) -> list[Answer]:
    days = (local_day(now, config.timezone) - due).days
    if reminder.payload.get("recall"):
        lines = [f"Bonjour {name_of(config, reminder.recipient)},", "",
                 f"L'action n° {action.number} du plan {plan.ref} est toujours {late_words(days)}"
                 f" (prévue le {format_date(due)}).", "",
                 *action_block(plan, action, config), "",
                 *_reply_help(action, plan, local_day(now, config.timezone))]
        return [_answer(reminder, f"[{plan.ref}] Toujours en retard : action {action.number}",
                        lines)]
    informed = ("La coordination en est informée." if reminder.recipient == plan.referent
                else "La référente ou le référent du plan et la coordination en sont informés.")
    lines = [f"Bonjour {name_of(config, reminder.recipient)},", "",
             f"L'action n° {action.number} du plan {plan.ref}, prévue le "
             f"{format_date(due)}, n'est pas notée faite ({days} jour"
             f"{'s' if days > 1 else ''} de retard).", informed, "",
             *action_block(plan, action, config), "",
             *_reply_help(action, plan, local_day(now, config.timezone))]
    return [_answer(reminder, f"[{plan.ref}] En retard : action {action.number}", lines)]


@_plan_composer
def compose_overdue_note(reminder: Reminder, plan: Plan, action: Action, due: date,
                         now: datetime, config: Config) -> list[Answer]:
    if reminder.payload.get("recall"):
        days = (local_day(now, config.timezone) - due).days
        lines = [f"Bonjour {name_of(config, reminder.recipient)},", "",
                 f"Pour information : l'action n° {action.number} du plan {plan.ref}, confiée à "
                 f"{name_of(config, action.assignee)}, est toujours {late_words(days)} (prévue "
                 f"le {format_date(due)}).", "", *action_block(plan, action, config), "",
                 f"STATUT {plan.ref} donne l'état complet du plan."]
        return [_answer(reminder, f"[{plan.ref}] Action {action.number} toujours en retard",
                        lines)]
    lines = [f"Bonjour {name_of(config, reminder.recipient)},", "",
             f"Pour information : l'action n° {action.number} du plan {plan.ref}, prévue le "
             f"{format_date(due)} et confiée à {name_of(config, action.assignee)}, "
             f"n'est pas notée faite après {config.reminders.overdue_days} jours.",
             "Un rappel a été envoyé à la personne concernée.", "",
             *action_block(plan, action, config), "",
             f"STATUT {plan.ref} donne l'état complet du plan."]
    return [_answer(reminder, f"[{plan.ref}] Action {action.number} en retard", lines)]


KINDS = {DUE: Registered(compose_due, digest=plan_digest.DAILY, item=plan_digest.due_item),
         OVERDUE: Registered(compose_overdue, digest=plan_digest.DAILY,
                             item=plan_digest.overdue_item),
         OVERDUE_NOTE: Registered(compose_overdue_note, digest=plan_digest.TEAM,
                                  item=plan_digest.note_item)}
