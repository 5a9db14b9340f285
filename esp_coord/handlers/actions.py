"""Action commands: FAIT, ANNULER FAIT, REPORTER, about one numbered action of a plan.

The same access as reading the plan (``access.may_read``). The number comes
first on the command line (« FAIT 3 », « REPORTER 2 au 15/12 »), then the
plan's reference unless the mail answers one of the service's own.
"""

from __future__ import annotations

import dataclasses

from esp_coord.answers import Answer, reply_subject
from esp_coord.plan_repo import Loaded, PlanRepository
from esp_coord.processing import Request
from esp_coord.roster import people_of
from esp_coord.scheduling.plan_reminders import plan_changed
from plans.commands import Detected, action_comment, postponed_date_text, split_action_number
from plans.dates import format_time, parse_new_due
from plans.errors import FieldError
from plans.model import Plan, PlanError
from plans.render import render_done, render_postponed, render_undone
from plans.typography import french

from .common import plan_for, today_of
from .replies import plan_answer
from .trail import record

__all__ = ["action_done", "action_postponed", "action_undone"]


def _action_number(request: Request, detected: Detected, command: str
                   ) -> tuple[int | None, str, list[Answer]]:
    number, rest = split_action_number(detected.raw_args)
    if number is not None:
        return number, rest, []
    text = french(f"Bonjour {request.sender.name},\n\nIndiquez le numéro de l'action après "
                  f"{command}, par exemple « {command} 2 PPS-2026-0001 » : les numéros "
                  "figurent dans l'accusé de réception et dans STATUT. Rien n'a été fait.\n")
    return None, "", [Answer(subject=reply_subject(request.mail.subject, "Numéro d'action"),
                             text=text, refused=True)]


def _action_problem(request: Request, plan: Plan, error: PlanError) -> list[Answer]:
    reasons = {"closed": f"le plan {plan.ref} est clos",
               "no_action": f"le plan {plan.ref} n'a pas d'action n° {error.number}",
               "not_todo": f"l'action n° {error.number} du plan {plan.ref} n'est plus à faire",
               "not_done": f"l'action n° {error.number} du plan {plan.ref} n'est pas notée "
                           "faite",
               "cancelled": f"l'action n° {error.number} du plan {plan.ref} est annulée"}
    text = french(f"Bonjour {request.sender.name},\n\nRien n'a été fait : "
                  f"{reasons.get(error.code, 'demande impossible')}. STATUT {plan.ref} "
                  "vous renvoie la liste des actions avec leur numéro.\n")
    return [Answer(subject=reply_subject(request.mail.subject, f"[{plan.ref}] Action"),
                   text=text, refused=True)]


def _action_target(request: Request, plans: PlanRepository, detected: Detected, command: str
                   ) -> tuple[int, str, Loaded | None, list[Answer]]:
    """The action number, the rest of the command line and the plan, or the answer
    that says what is missing."""
    number, rest, problem = _action_number(request, detected, command)
    if number is None:
        return 0, "", None, problem
    loaded, refused = plan_for(request, plans, detected, command)
    return number, rest, loaded, refused


def action_done(request: Request, detected: Detected) -> list[Answer]:
    plans = PlanRepository.of(request)
    number, _, loaded, answers = _action_target(request, plans, detected, "FAIT")
    if loaded is None:
        return answers
    plan = loaded.plan
    comment = action_comment(detected, people_of(request.config))
    try:
        action = plan.mark_done(number, by=request.sender.email, on=today_of(request),
                                comment=comment, at=request.now,
                                source_message_id=request.mail.message_id)
    except PlanError as e:
        return _action_problem(request, plan, e)
    plans.save(plan, summary=f"action {number} faite")
    plan_changed(request.tx, plan, request.config, request.now, loaded.original())
    record(request, "done", plan.ref, f"action {number}, version {plan.version}")
    return [plan_answer(request, render_done(plan, action, people=people_of(request.config)),
                        plan=plan, kind="done")]


def action_undone(request: Request, detected: Detected) -> list[Answer]:
    """``ANNULER FAIT 3``: a FAIT sent by mistake; the action is to do again.
    The same access as FAIT: whoever may read the plan."""
    plans = PlanRepository.of(request)
    number, _, loaded, answers = _action_target(request, plans, detected, "ANNULER FAIT")
    if loaded is None:
        return answers
    plan = loaded.plan
    try:
        undone = plan.undo_done(number, by=request.sender.email, at=request.now,
                                source_message_id=request.mail.message_id)
    except PlanError as e:
        return _action_problem(request, plan, e)
    plans.save(plan, summary=f"action {number} remise à faire")
    plan_changed(request.tx, plan, request.config, request.now, loaded.original())
    record(request, "undo-done", plan.ref, f"action {number}, version {plan.version}")
    rendered = render_undone(plan, plan.action(number), undone, people=people_of(request.config))
    return [plan_answer(request, rendered, plan=plan, kind="undone")]


def action_postponed(request: Request, detected: Detected) -> list[Answer]:
    plans = PlanRepository.of(request)
    number, rest, loaded, answers = _action_target(request, plans, detected, "REPORTER")
    if loaded is None:
        return answers
    plan = loaded.plan
    when = postponed_date_text(rest)
    try:
        new_date, at = parse_new_due(when, today=today_of(request))
    except FieldError as e:
        return [_date_refused(request, detected, plan, number, e)]
    try:
        action = plan.postpone(number, new_date, by=request.sender.email, at=request.now,
                               source_message_id=request.mail.message_id, at_time=at)
    except PlanError as e:
        return _action_problem(request, plan, e)
    plans.save(plan, summary=f"action {number} reportée")
    plan_changed(request.tx, plan, request.config, request.now, loaded.original())
    record(request, "postpone", plan.ref, f"action {number}, version {plan.version}")
    rendered = render_postponed(plan, action, people=people_of(request.config))
    if at is not None:
        said = (f"L'heure indiquée ({format_time(at)}) vaut pour cette fois : elle est gardée "
                "dans les notes du plan et son historique (STATUT) ; les fois suivantes "
                "gardent l'heure du rythme." if action.recurring else
                f"Heure : {format_time(at)} ; le rappel part le jour prévu, à l'heure "
                "habituelle des rappels.")
        rendered = dataclasses.replace(rendered, text=rendered.text + french(f"\n{said}\n"))
    return [plan_answer(request, rendered, plan=plan, kind="postponed")]


def _date_refused(request: Request, detected: Detected, plan: Plan, number: int,
                  error: FieldError) -> Answer:
    """The new date cannot be used: where, what, what was expected, an example."""
    where = f"Ligne {detected.line}" if detected.line is not None else "Objet"
    text = french(
        f"Bonjour {request.sender.name},\n\nRien n'a été fait : la nouvelle date de l'action "
        f"{number} n'est pas acceptée.\n\n{where} : « {detected.text} »\n"
        f"   Problème : {error.problem}\n   Attendu : {error.expected}\n"
        f"   Exemple : REPORTER {number} au {error.example} {plan.ref}\n")
    return Answer(subject=reply_subject(request.mail.subject, f"[{plan.ref}] Date"), text=text,
                  refused=True)
