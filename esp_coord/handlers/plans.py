"""Plan commands: NOUVEAU PPS, MAJ, CLORE, STATUT, LISTE (the actions' FAIT,
ANNULER FAIT and REPORTER are in ``actions``).

Plans are loaded and saved through ``plan_repo.PlanRepository``; who may do
what is ``esp_coord.access``'s. A refusal never reveals whether a plan
exists: the same answer for "unknown" and "not yours". The one exception is a
NOUVEAU PPS for a patient who already has a plan: it cannot be created twice,
so the answer says that a plan exists, and nothing more to someone outside
its care team (the coordination is told instead).

After saving a plan, a handler calls ``plan_changed``: the plan's reminder
rows are reconciled when its follow-ups changed.
"""

from __future__ import annotations

from esp_coord import absence_repo, access
from esp_coord.absence_repo import absence_words
from esp_coord.agenda import describe_next, next_meeting
from esp_coord.answers import Answer, reply_subject
from esp_coord.meeting_repo import MeetingRepository
from esp_coord.plan_repo import PlanRepository
from esp_coord.processing import Request
from esp_coord.received.handler import attach_pending
from esp_coord.roster import coordination, people_of
from esp_coord.scheduling.plan_reminders import earliest_start, plan_changed
from plans.commands import Detected
from plans.drafts import LineError
from plans.grammar import parse_new_plan, parse_update
from plans.model import Plan
from plans.render import (
    render_closed,
    render_created,
    render_errors,
    render_list,
    render_status,
    render_updated,
)
from plans.typography import french

from .common import library, plan_for, sender_of, today_of
from .documents import document_lines
from .replies import closed_answer, plan_answer
from .trail import record

__all__ = ["close_plan", "new_plan", "plan_list", "plan_status", "update_plan"]


def new_plan(request: Request, detected: Detected) -> list[Answer]:
    tx, people = request.tx, people_of(request.config)
    plans = PlanRepository.of(request)
    parsed = parse_new_plan(detected.lines, today=today_of(request),
                            sender=sender_of(request, people), roster=people,
                            library=library(),
                            earliest=earliest_start(request.config, request.now),
                            themes=request.config.themes)
    if not parsed.ok:
        return [plan_answer(request, render_errors(parsed.errors, parsed.warnings,
                                                   command="NOUVEAU_PPS"), refused=True)]
    draft = parsed.value
    assert draft is not None
    existing = plans.active_with_ins(draft.patient.ins)
    if existing is not None:
        return _duplicate(request, existing)
    namesakes = plans.refs_with_identity(draft.patient)
    year = today_of(request).year
    ref = f"PPS-{year}-{tx.next_number('PPS', year):04d}"
    plan = Plan.create(draft, ref=ref, author=request.sender.email, at=request.now,
                       source_message_id=request.mail.message_id, protocols=library())
    plans.add(plan, summary="création")
    plan_changed(tx, plan, request.config, request.now, previous=None)
    # Documents received for this INS before the plan existed (esp_coord.received).
    waiting, left = attach_pending(tx, plan, now=request.now, author=request.sender.email,
                                   source_message_id=request.mail.message_id)
    record(request, "create", ref, f"version 1, {len(plan.actions)} actions")
    answers = [plan_answer(request, render_created(plan, people=people,
                                                   warnings=parsed.warnings,
                                                   tz=request.config.timezone),
                           plan=plan, kind="ack"), *waiting]
    if left:
        answers.append(documents_left_aside(request, ref, len(left)))
    if namesakes:
        answers.append(identity_flag(request, ref, namesakes))
        record(request, "identity-flag", ref,
               f"same name and birth date as {', '.join(namesakes)}"[:200])
    return answers


def _duplicate(request: Request, existing: Plan) -> list[Answer]:
    """A NOUVEAU PPS for a patient who already has an active plan: nothing is
    created. Only those who may read the plan learn its reference; anyone
    else learns that a plan exists (it cannot be created twice), not which
    one nor anything in it, and the coordination is told, so that it adds
    them to the plan's care team if they take part in the care."""
    ref = existing.ref
    if access.may_read(request.sender, existing):
        record(request, "duplicate", ref, "active plan exists, nothing created")
        text = french(
            f"Bonjour {request.sender.name},\n\nCette patiente ou ce patient a déjà un plan "
            f"actif : {ref}. Rien n'a été créé.\n\n"
            f"Pour le compléter, écrivez « MAJ {ref} » en objet, ou répondez à un message "
            "du service au sujet de ce plan.\n")
        return [Answer(subject=reply_subject(request.mail.subject, f"[{ref}] Plan existant"),
                       text=text, refused=True)]
    record(request, "duplicate", ref,
           "active plan exists, sender not on its care team: nothing created, "
           "coordination told")
    # Neither the subject nor the Message-ID tag names the plan: a reply to
    # this answer must not find it either.
    text = french(
        f"Bonjour {request.sender.name},\n\nCette patiente ou ce patient a déjà un plan "
        "en cours, suivi par une équipe de soins dont vous ne faites pas partie. Rien "
        "n'a été créé.\n\n"
        "La coordination de l'équipe en a été informée : si vous participez à la prise "
        "en charge, elle peut vous ajouter à l'équipe de soins de ce plan. Une fois dans "
        "l'équipe, vous le retrouverez avec LISTE.\n")
    return [Answer(subject=reply_subject(request.mail.subject, "Plan existant"), text=text,
                   refused=True),
            _access_notice(request, ref)]


def _access_notice(request: Request, ref: str) -> Answer:
    """To the coordination: who asked for a plan they are not on. Its
    Message-ID names the plan, so that the coordination's MAJ in reply
    finds it."""
    sender = request.sender
    text = french(
        "Bonjour,\n\n"
        f"{sender.name} ({sender.email}) a envoyé un NOUVEAU PPS pour une patiente ou un "
        f"patient qui a déjà le plan {ref}, sans faire partie de son équipe de soins. "
        "Rien n'a été créé, et ni la référence ni le contenu du plan ne lui ont été "
        "communiqués : sa réponse dit seulement qu'un plan existe et que la coordination "
        "est informée.\n\n"
        "Si cette personne participe à la prise en charge, ajoutez-la à l'équipe du plan : "
        f"répondez à ce message en écrivant MAJ en première ligne, puis « Équipe : "
        f"{sender.name} ».\n")
    return Answer(subject=f"[{ref}] Demande d'accès de {sender.name}", text=text,
                  to=coordination(request.config),
                  message_id_tag=f"{ref}.access", auto_submitted="auto-generated")


def documents_left_aside(request: Request, ref: str, count: int) -> Answer:
    """Documents kept for this INS whose traits differ from the new plan's:
    never attached, a human decides."""
    text = french(
        "Bonjour,\n\n"
        f"Le plan {ref} vient d'être créé avec l'INS de {count} document(s) reçu(s) avant "
        "lui, mais leurs traits d'identité (nom de naissance, premier prénom, date de "
        "naissance ou sexe) diffèrent de ceux du plan : ils n'y ont pas été rattachés. "
        "Vérifiez l'identité de la patiente ou du patient ; le document reste conservé "
        "jusqu'à la date annoncée à son arrivée.\n")
    return Answer(subject=f"[{ref}] Documents en attente non rattachés", text=text,
                  to=coordination(request.config), auto_submitted="auto-generated")


def identity_flag(request: Request, ref: str, namesakes: list[str]) -> Answer:
    """Same name and birth date, another INS: never merged, a human decides."""
    text = french(
        "Bonjour,\n\n"
        f"Le plan {ref} vient d'être créé avec le même nom et la même date de naissance "
        f"que {', '.join(namesakes)}, mais un INS différent. Les plans n'ont pas été "
        "fusionnés : vérifiez l'identité de la patiente ou du patient auprès de "
        "l'équipe.\n")
    return Answer(subject=f"[{ref}] Identité à vérifier", text=text,
                  to=coordination(request.config),
                  auto_submitted="auto-generated")


def update_plan(request: Request, detected: Detected) -> list[Answer]:
    plans = PlanRepository.of(request)
    loaded, refused = plan_for(request, plans, detected, "MAJ")
    if loaded is None:
        return refused
    plan, people = loaded.plan, people_of(request.config)
    if not plan.is_active:
        return [closed_answer(request, plan)]
    team = [p for p in people if p.email in plan.team]
    parsed = parse_update(detected.lines, today=today_of(request),
                          sender=sender_of(request, people), team=team, roster=people,
                          library=library(), patient=plan.patient,
                          applied_protocols=[p.name for p in plan.protocols],
                          earliest=earliest_start(request.config, request.now),
                          themes=request.config.themes)
    if (parsed.ok and parsed.value is not None and parsed.value.referent
            and not access.may_change_referent(request.sender, plan)):
        parsed.errors.append(LineError(
            line=None, text="Référent", problem="seuls le référent du plan et la coordination "
            "peuvent changer de référent", expected="une demande du référent ou de la "
            "coordination", example="Référent : Dr Claire DURAND", field="referent"))
    if not parsed.ok:
        return [plan_answer(request, render_errors(parsed.errors, parsed.warnings,
                                                   command="MAJ", ref=plan.ref), refused=True)]
    assert parsed.value is not None
    changes = plan.apply(parsed.value, author=request.sender.email, at=request.now,
                         source_message_id=request.mail.message_id, protocols=library())
    plans.save(plan, summary="mise à jour")
    plan_changed(request.tx, plan, request.config, request.now, loaded.original())
    record(request, "update", plan.ref, f"version {plan.version}")
    return [plan_answer(request, render_updated(plan, changes, people=people,
                                                warnings=parsed.warnings,
                                                tz=request.config.timezone),
                        plan=plan, kind="ack")]


def close_plan(request: Request, detected: Detected) -> list[Answer]:
    plans = PlanRepository.of(request)
    loaded, refused = plan_for(request, plans, detected, "CLORE")
    if loaded is None:
        return refused
    plan = loaded.plan
    if not access.may_close(request.sender, plan):
        text = french(f"Bonjour {request.sender.name},\n\nSeuls le référent du plan "
                      f"{plan.ref} et la coordination peuvent le clore. Rien n'a été fait.\n")
        record(request, "refused", plan.ref, "CLORE: neither referent nor coordinator")
        return [Answer(subject=reply_subject(request.mail.subject, f"[{plan.ref}] Clôture"),
                       text=text, refused=True)]
    if not plan.is_active:
        return [closed_answer(request, plan)]
    reason = " ".join(text for _, text in detected.lines if text.strip())[:500]
    plan.close(by=request.sender.email, at=request.now,
               source_message_id=request.mail.message_id, reason=reason)
    plans.save(plan, summary="clôture")
    plan_changed(request.tx, plan, request.config, request.now, loaded.original())
    record(request, "close", plan.ref, f"version {plan.version}")
    return [plan_answer(request, render_closed(plan, people=people_of(request.config),
                                               tz=request.config.timezone),
                        plan=plan, kind="closed")]


def plan_status(request: Request, detected: Detected) -> list[Answer]:
    loaded, refused = plan_for(request, PlanRepository.of(request), detected, "STATUT")
    if loaded is None:
        return refused
    plan, config = loaded.plan, request.config
    # The plan loaded above is the one the agenda is checked for: not loaded again.
    found = next_meeting(plan, MeetingRepository(request.tx).active(), request.now,
                         request.now.astimezone(config.timezone).date(),
                         late_after=config.reminders.overdue_days) if plan.is_active else None
    absences, _ = absence_repo.load(request.tx)
    team = {plan.referent, *plan.team}
    away = [absence_words(a, config) for a in absences.current_and_coming(today_of(request))
            if a.member in team]
    rendered = render_status(plan, people=people_of(config), today=today_of(request),
                             next_meeting=describe_next(found), tz=config.timezone,
                             documents=document_lines(request, plan.ref), absences=away)
    record(request, "status", plan.ref, f"version {plan.version}")
    return [plan_answer(request, rendered, plan=plan, kind="status")]


def plan_list(request: Request, detected: Detected) -> list[Answer]:
    plans = PlanRepository(request.tx).listed(access.listed_member(request.sender))
    rendered = render_list(plans, people=people_of(request.config), today=today_of(request))
    record(request, "list", None, f"{len(plans)} active plans")
    return [plan_answer(request, rendered)]
