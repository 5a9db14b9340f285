"""Action commands: FAIT, ANNULER FAIT, REPORTER, about one numbered action of a plan.

The same access as reading the plan (``access.may_read``). The number comes
first on the command line (« FAIT 3 », « REPORTER 2 au 15/12 »), then the
plan's reference unless the mail answers one of the service's own.

A mail may hold several such lines, one per action (a reply to the daily
digest: « FAIT 3 PPS-2026-0001 », « REPORTER 1 PPS-2026-0002 au 15/12/2026 »;
``plans.commands.action_commands`` says which lines count): each is handled
on its own, as if it were alone in its mail, and one answer says line by
line what was done and what was not.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from esp_coord.answers import Answer, reply_subject
from esp_coord.plan_repo import Loaded, PlanRepository
from esp_coord.processing import Request
from esp_coord.references import plan_ref_of
from esp_coord.roster import people_of
from esp_coord.scheduling.plan_reminders import plan_changed
from plans.commands import (
    DISPLAY,
    Detected,
    action_commands,
    action_comment,
    postponed_date_text,
    split_action_number,
)
from plans.dates import format_time, parse_new_due
from plans.errors import FieldError
from plans.model import Plan, PlanError
from plans.render import render_done, render_postponed, render_undone
from plans.typography import french

from .common import plan_for, today_of
from .replies import plan_answer
from .trail import record

__all__ = ["action_done", "action_postponed", "action_undone"]


@dataclass(frozen=True)
class _Line:
    """What one command line did: the answer it gets alone in its mail, and
    what the line-by-line answer says of it."""

    answers: list[Answer]
    brief: str
    ok: bool
    plan: Plan | None = None


def _failed(answers: list[Answer], brief: str) -> _Line:
    return _Line(answers, f"Rien n'a été fait : {brief}.", ok=False)


def _action_number(request: Request, detected: Detected, command: str
                   ) -> tuple[int | None, str, _Line | None]:
    number, rest = split_action_number(detected.raw_args)
    if number is not None:
        return number, rest, None
    text = french(f"Bonjour {request.sender.name},\n\nIndiquez le numéro de l'action après "
                  f"{command}, par exemple « {command} 2 PPS-2026-0001 » : les numéros "
                  "figurent dans l'accusé de réception et dans STATUT. Rien n'a été fait.\n")
    answer = Answer(subject=reply_subject(request.mail.subject, "Numéro d'action"), text=text,
                    refused=True)
    return None, "", _failed([answer], f"le numéro de l'action manque après {command}")


_REASONS = {"closed": "le plan {ref} est clos",
            "no_action": "le plan {ref} n'a pas d'action n° {number}",
            "not_todo": "l'action n° {number} du plan {ref} n'est plus à faire",
            "not_done": "l'action n° {number} du plan {ref} n'est pas notée faite",
            "cancelled": "l'action n° {number} du plan {ref} est annulée"}


def _action_problem(request: Request, plan: Plan, error: PlanError) -> _Line:
    reason = _REASONS.get(error.code, "demande impossible").format(ref=plan.ref,
                                                                   number=error.number)
    text = french(f"Bonjour {request.sender.name},\n\nRien n'a été fait : {reason}. "
                  f"STATUT {plan.ref} vous renvoie la liste des actions avec leur numéro.\n")
    answer = Answer(subject=reply_subject(request.mail.subject, f"[{plan.ref}] Action"),
                    text=text, refused=True)
    return _failed([answer], reason)


def _action_target(request: Request, plans: PlanRepository, detected: Detected, command: str
                   ) -> tuple[int, str, Loaded | None, _Line | None]:
    """The action number, the rest of the command line and the plan, or what
    the line gets instead (what is missing)."""
    number, rest, problem = _action_number(request, detected, command)
    if problem is not None:
        return 0, "", None, problem
    assert number is not None
    loaded, refused = plan_for(request, plans, detected, command)
    if loaded is None:
        # plan_for's answers say it: the plan is missing, or not found among
        # the sender's (the same words for both).
        brief = ("le plan n'est pas précisé (écrivez sa référence sur la ligne)"
                 if plan_ref_of(request.mail, request.config, detected) is None else
                 "je ne trouve pas ce plan parmi ceux auxquels vous avez accès")
        return number, rest, None, _failed(refused, brief)
    return number, rest, loaded, None


def _brief(text: str) -> str:
    """A rendered acknowledgement on one or two lines, for the line-by-line answer."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return "Fait : " + " ".join(lines[:2])


def _done_line(request: Request, plans: PlanRepository, detected: Detected) -> _Line:
    number, _, loaded, problem = _action_target(request, plans, detected, "FAIT")
    if problem is not None:
        return problem
    assert loaded is not None
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
    rendered = render_done(plan, action, people=people_of(request.config))
    return _Line([plan_answer(request, rendered, plan=plan, kind="done")],
                 _brief(rendered.text) + (" Commentaire enregistré." if comment else ""),
                 ok=True, plan=plan)


def _undone_line(request: Request, plans: PlanRepository, detected: Detected) -> _Line:
    """``ANNULER FAIT 3``: a FAIT sent by mistake; the action is to do again.
    The same access as FAIT: whoever may read the plan."""
    number, _, loaded, problem = _action_target(request, plans, detected, "ANNULER FAIT")
    if problem is not None:
        return problem
    assert loaded is not None
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
    return _Line([plan_answer(request, rendered, plan=plan, kind="undone")],
                 _brief(rendered.text), ok=True, plan=plan)


def _postponed_line(request: Request, plans: PlanRepository, detected: Detected) -> _Line:
    number, rest, loaded, problem = _action_target(request, plans, detected, "REPORTER")
    if problem is not None:
        return problem
    assert loaded is not None
    plan = loaded.plan
    when = postponed_date_text(rest)
    try:
        new_date, at = parse_new_due(when, today=today_of(request))
    except FieldError as e:
        return _failed([_date_refused(request, detected, plan, number, e)],
                       f"la nouvelle date n'est pas acceptée ({e.problem} ; attendu : "
                       f"{e.expected}, par exemple REPORTER {number} au {e.example} {plan.ref})")
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
    return _Line([plan_answer(request, rendered, plan=plan, kind="postponed")],
                 _brief(rendered.text), ok=True, plan=plan)


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


_LineHandler = Callable[[Request, PlanRepository, Detected], _Line]
_LINES: dict[str, _LineHandler] = {"FAIT": _done_line, "ANNULER_FAIT": _undone_line,
                                   "REPORTER": _postponed_line}


def _handle(request: Request, detected: Detected) -> list[Answer]:
    commands = action_commands(detected)
    plans = PlanRepository.of(request)
    if len(commands) == 1:
        return _LINES[detected.name or ""](request, plans, detected).answers
    done = [(command, _LINES[command.name or ""](request, plans, command))
            for command in commands]
    return [_line_by_line(request, done)]


def _line_by_line(request: Request, done: list[tuple[Detected, _Line]]) -> Answer:
    """One answer for a mail of several command lines: each line as written,
    then what was done with it."""
    ok = sum(1 for _, line in done if line.ok)
    head = (f"Votre message contient {len(done)} lignes de suivi ; chacune a été traitée "
            "à part :" if ok == len(done) else
            f"Votre message contient {len(done)} lignes de suivi, traitées chacune à part : "
            f"{ok} enregistrée{'s' if ok > 1 else ''}, {len(done) - ok} non.")
    lines = [f"Bonjour {request.sender.name},", "", head, ""]
    for command, line in done:
        where = f"Ligne {command.line}" if command.line is not None else "Objet"
        lines += [f"{where} : « {command.text} »", f"   {line.brief}", ""]
    if ok < len(done):
        lines.append("Les lignes non enregistrées peuvent être corrigées et renvoyées seules ; "
                     "celles qui l'ont été ne sont pas à renvoyer.")
    plans = {line.plan.ref: line.plan for _, line in done if line.plan is not None}
    words = sorted({DISPLAY[c.name] for c, _ in done if c.name})
    subject = f"{', '.join(words)} : {ok} ligne{'s' if ok > 1 else ''} sur {len(done)}"
    if len(plans) == 1:
        subject = f"[{next(iter(plans))}] {subject}"
    # Named after the plan when there is one, so that a reply finds it.
    tag = "lignes"
    if len(plans) == 1:
        (plan,) = plans.values()
        tag = f"{plan.ref}.lignes.{plan.version}"
    return Answer(subject=french(subject),
                  text=french("\n".join(lines).rstrip() + "\n"), message_id_tag=tag,
                  refused=ok == 0)


def action_done(request: Request, detected: Detected) -> list[Answer]:
    return _handle(request, detected)


def action_undone(request: Request, detected: Detected) -> list[Answer]:
    """``ANNULER FAIT 3``: a FAIT sent by mistake (see ``_undone_line``)."""
    return _handle(request, detected)


def action_postponed(request: Request, detected: Detected) -> list[Answer]:
    return _handle(request, detected)

