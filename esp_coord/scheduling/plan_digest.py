"""The two daily digests, and the entries the plans' reminders give them.

- ``DAILY`` (« Vos rappels du … »): what one person has to do: actions due
  and their own overdue ones, and the meetings coming (``meeting_reminders``
  gives those entries). At most one a day per person.
- ``TEAM`` (« Suivi de l'équipe du … »): the overdue notes to the plan's
  referent and the coordination, apart from what they have to do: they
  follow the team's work, they do not do it. On a morning when they also
  have their own ``DAILY``, the follow-up is the last part of that one mail
  (``team_part``): still one mail a day, at most.

Each entry re-checks its row as the one-mail composers do
(``plan_reminders.still_wanted``); None drops the row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from esp_coord import absence_repo
from esp_coord.answers import Answer
from esp_coord.config import Config
from esp_coord.ports import UnitOfWork
from esp_coord.scheduling.digest import (
    MEETING,
    Digest,
    Entry,
    Part,
    digest_answer,
    late_words,
    merged,
)
from esp_coord.scheduling.plan_reminders import covering_words, name_of, still_wanted
from esp_coord.scheduling.times import local_day
from esp_coord.store.reminders import Reminder
from plans.dates import format_date, format_date_long
from plans.model import Action, Plan

__all__ = ["DAILY", "DIGESTS", "TEAM", "due_item", "due_words", "note_item", "overdue_item",
           "team_part", "write_daily", "write_team"]

DAILY, TEAM = "rappels", "suivi"


def _covering(tx: UnitOfWork, reminder: Reminder, config: Config, today: date) -> list[str]:
    said = covering_words(tx, reminder, config, today)
    return [said] if said else []


def _heading(plan: Plan) -> str:
    return f"{plan.ref} - {plan.patient.display_name}"


def _what(action: Action) -> str:
    what = f"Action {action.number} : {action.what}"
    return f"{what} ({action.when.describe()})" if action.recurring else what


def _found(tx: UnitOfWork, reminder: Reminder, now: datetime, config: Config
           ) -> tuple[Plan, Action, date, date] | None:
    found = still_wanted(tx, reminder, now, config)
    if found is None:
        return None
    plan, action = found
    assert action.due is not None  # still_wanted keeps dated actions only
    return plan, action, action.due, local_day(now, config.timezone)


def due_item(tx: UnitOfWork, reminder: Reminder, now: datetime, config: Config
             ) -> Entry | None:
    found = _found(tx, reminder, now, config)
    if found is None:
        return None
    plan, action, due, today = found
    occurrence = date.fromisoformat(reminder.payload["occurrence"])
    lines = [_what(action), *_covering(tx, reminder, config, today),
             due_words(occurrence, today, config)]
    late = max(0, (today - due).days)
    if action.recurring and occurrence > due:
        lines.append(f"Celle du {format_date(due)} n'est pas notée faite"
                     + (f" ({late_words(late)})" if late else "")
                     + f" : FAIT {action.number} la note faite et prévoit la suivante.")
    return Entry(plan.ref, _heading(plan), tuple(lines),
                 replies=(f"FAIT {action.number} {plan.ref}",), late=late,
                 about=f"{plan.ref}:{action.number}")


def due_words(occurrence: date, today: date, config: Config) -> str:
    """« Prévue aujourd'hui. », « Prévue le 15/12/2026. », and for a day off,
    why the reminder comes before it."""
    if occurrence <= today:
        return "Prévue aujourd'hui." if occurrence == today else (
            f"Prévue le {format_date(occurrence)}.")
    why = config.reminders.days_off.why(occurrence)
    if why is None:
        return f"Prévue le {format_date(occurrence)}."
    return (f"Prévue le {format_date_long(occurrence)}, {why} : ce rappel part le dernier "
            "jour ouvré d'avant.")


def overdue_item(tx: UnitOfWork, reminder: Reminder, now: datetime, config: Config
                 ) -> Entry | None:
    found = _found(tx, reminder, now, config)
    if found is None:
        return None
    plan, action, due, today = found
    late = max(1, (today - due).days)
    reply = (f"FAIT {action.number} {plan.ref}",)
    if reminder.payload.get("recall"):
        # Already told: one line among the recalls, how late in weeks.
        covering = reminder.payload.get("covering")
        instead = f" (en remplacement de {name_of(config, str(covering))})" if covering else ""
        return Entry(plan.ref, _heading(plan),
                     (f"{_what(action)} : {late_words(late)}{instead}",),
                     replies=reply, late=late, recall=True, about=f"{plan.ref}:{action.number}")
    informed = ("La coordination en est informée." if reminder.recipient == plan.referent
                else "La référente ou le référent du plan et la coordination en sont informés.")
    lines = (_what(action), *_covering(tx, reminder, config, today),
             f"{late_words(late).capitalize()} : prévue le {format_date(due)}, pas encore "
             f"notée faite. {informed}")
    return Entry(plan.ref, _heading(plan), lines, replies=reply, late=late,
                 about=f"{plan.ref}:{action.number}")


def note_item(tx: UnitOfWork, reminder: Reminder, now: datetime, config: Config
              ) -> Entry | None:
    found = _found(tx, reminder, now, config)
    if found is None:
        return None
    plan, action, due, today = found
    late = max(1, (today - due).days)
    who = f"{_what(action)}, confiée à {name_of(config, action.assignee)}"
    if reminder.payload.get("recall"):
        return Entry(plan.ref, _heading(plan), (f"{who} : {late_words(late)}",), late=late,
                     recall=True, about=f"{plan.ref}:{action.number}")
    away = absence_repo.load(tx)[0].on((action.assignee or "").lower(), today)
    told = ("un rappel lui a été envoyé" if away is None else
            f"en l'absence de {name_of(config, action.assignee)} (jusqu'au "
            f"{format_date(away.end)}), le rappel va à qui assure le remplacement")
    lines = (who, *_covering(tx, reminder, config, today),
             f"{late_words(late).capitalize()} (prévue le {format_date(due)}) ; {told}.")
    return Entry(plan.ref, _heading(plan), lines, late=late,
                 about=f"{plan.ref}:{action.number}")


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n > 1 else ''}"


def _daily_summary(entries: Sequence[Entry]) -> str:
    actions = [e for e in entries if e.kind != MEETING and not e.recall]
    still = sum(1 for e in entries if e.recall)
    meetings = {e.section: e.label for e in entries if e.kind == MEETING}
    parts = []
    if len(meetings) == 1:
        parts.append(next(iter(meetings.values())))
    elif meetings:
        parts.append(_count(len(meetings), "réunion"))
    if actions:
        late = sum(1 for e in actions if e.late)
        said = _count(len(actions), "action")
        parts.append(said + (" en retard" if late == len(actions) else
                             f" dont {late} en retard" if late else ""))
    if still:
        parts.append(f"{still} toujours en retard")
    return " et ".join(parts)


def write_daily(tx: UnitOfWork, recipient: str, entries: Sequence[Entry], now: datetime,
                config: Config, parts: Sequence[Part] = ()) -> Answer:
    entries = merged(entries)
    today = local_day(now, config.timezone)
    summary = _daily_summary(entries)
    opening = [f"Vos rappels du {format_date(today)} : {summary}."]
    closing: list[str] = []
    plan_entry = next((e for e in entries if e.kind != MEETING and e.replies), None)
    if plan_entry is not None:
        opening += ["", "Quand c'est fait, répondez à ce message en recopiant la ligne FAIT de "
                    "l'action ; une ligne de commentaire peut suivre chacune. Plusieurs lignes "
                    "FAIT ou REPORTER dans la même réponse sont toutes prises en compte."]
        example = plan_entry.replies[0].replace("FAIT", "REPORTER", 1)
        later = format_date(today + timedelta(days=7))
        closing = ["Pour changer une date, la même ligne avec REPORTER et la nouvelle date :",
                   f"    {example} au {later}",
                   f"STATUT {plan_entry.section} donne l'état complet d'un plan."]
    subject = " ; ".join([f"Rappels du {format_date(today)} : {summary}",
                          *(part.summary for part in parts)])
    return digest_answer(recipient=recipient, subject=subject, opening=opening,
                         entries=entries, closing=closing, config=config, tag="digest",
                         parts=parts)


def _team_summary(entries: Sequence[Entry]) -> str:
    fresh = [e for e in entries if not e.recall]
    still = len(entries) - len(fresh)
    said = []
    if fresh:
        said.append(f"{_count(len(fresh), 'action')} en retard")
    if still:
        said.append(f"{still} toujours en retard")
    return " et ".join(said)


def _team_purpose(config: Config) -> str:
    return (f"Pour information : ces actions ne sont pas notées faites "
            f"{config.reminders.overdue_days} jours après leur échéance ; la personne "
            "chargée de chacune a reçu un rappel.")


def write_team(tx: UnitOfWork, recipient: str, entries: Sequence[Entry], now: datetime,
               config: Config, parts: Sequence[Part] = ()) -> Answer:
    entries = merged(entries)
    today = local_day(now, config.timezone)
    summary = _team_summary(entries)
    opening = [f"Suivi de l'équipe au {format_date(today)} : {summary} dans les plans que "
               "vous suivez.", _team_purpose(config)]
    first = entries[0].section
    closing = [f"STATUT {first} (ou un autre plan) donne l'état complet d'un plan.",
               "Ce suivi ne part que les jours où une action passe en retard, et le lundi pour "
               "rappeler celles qui le sont toujours."]
    return digest_answer(recipient=recipient, subject=f"Suivi de l'équipe du "
                         f"{format_date(today)} : {summary}", opening=opening,
                         entries=entries, closing=closing, config=config, tag="suivi",
                         parts=parts)


def team_part(tx: UnitOfWork, recipient: str, entries: Sequence[Entry], now: datetime,
              config: Config) -> Part:
    """The team follow-up as the last part of the person's daily digest."""
    entries = merged(entries)
    summary = _team_summary(entries)
    return Part(summary=f"suivi de l'équipe : {summary}",
                opening=(f"Suivi de l'équipe : {summary} dans les plans que vous suivez.",
                         _team_purpose(config)),
                entries=tuple(entries))


DIGESTS = {DAILY: Digest(write_daily),
           TEAM: Digest(write_team, into=DAILY, part=team_part)}
