"""Plan commands: NOUVEAU PPS, MAJ, CLORE, STATUT, LISTE, FAIT, ANNULER FAIT, REPORTER.

Plans are stored as encrypted documents; the patient's INS and identity are
only kept as blind indexes, the care team's addresses in clear (they are not
patient data) so that access checks need no decryption. A refusal never
reveals whether a plan exists: the same answer for "unknown" and "not yours".
The one exception is a NOUVEAU PPS for a patient who already has a plan: it
cannot be created twice, so the answer says that a plan exists, and nothing
more to someone outside its care team (the coordination is told instead).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import date
from functools import cache

from esp_coord.answers import Answer, reply_subject
from esp_coord.config import Config, Member
from esp_coord.intake import IncomingMail
from esp_coord.ports import UnitOfWork
from esp_coord.processing import Request
from esp_coord.store.records import Document
from plans.commands import Detected, action_comment, postponed_date_text, split_action_number
from plans.dates import format_date, format_time, parse_new_due
from plans.errors import FieldError
from plans.grammar import parse_new_plan, parse_update
from plans.model import Note, Plan, PlanError
from plans.people import Person
from plans.protocols import ProtocolDef, load_library
from plans.render import (
    Rendered,
    render_closed,
    render_created,
    render_done,
    render_errors,
    render_list,
    render_postponed,
    render_status,
    render_undone,
    render_updated,
)
from plans.typography import french

from .trail import record

KIND = "plan"
_OWN_REF = re.compile(r"^<(PPS-\d{4}-\d{4})\.[^@>]*@(.+)>$")


@cache
def library() -> dict[str, ProtocolDef]:
    return load_library()


def people_of(config: Config) -> list[Person]:
    return [Person(name=m.name, email=m.email, profession=m.profession, roles=m.roles)
            for m in config.members]


def today_of(request: Request) -> date:
    """Relative dates ("demain", "J+10") count from the mail's own date."""
    moment = request.mail.date or request.now
    return moment.astimezone(request.config.timezone).date()


def _answer(request: Request, rendered: Rendered, *, plan: Plan | None = None,
            kind: str = "ans") -> Answer:
    # Acknowledgements get a Message-ID naming the plan and version, so that a
    # reply to them finds the plan from In-Reply-To alone.
    if plan is not None:
        # A status can be asked many times at one version: a stable id would
        # collide in the outbox and the later answers be dropped. The unique id
        # still starts with the reference, so a reply finds the plan all the same.
        return Answer(subject=rendered.subject, text=rendered.text,
                      message_id_tag=f"{plan.ref}.{kind}.{plan.version}",
                      stable_id=kind != "status")
    return Answer(subject=reply_subject(request.mail.subject, rendered.subject),
                  text=rendered.text)


def referenced_plan(request: Request, detected: Detected) -> str | None:
    return plan_ref_of(request.mail, request.config, detected)


def plan_ref_of(mail: IncomingMail, config: Config, detected: Detected) -> str | None:
    """The plan a mail is about: written reference, then the service's own mail
    it answers, then the subject tag. No database: ``esp-coord parse`` uses it too."""
    if detected.ref and detected.ref.startswith("PPS-"):
        return detected.ref
    domain = config.message_id_domain
    for mid in (*mail.in_reply_to, *reversed(mail.references)):
        m = _OWN_REF.match(mid)
        if m and m.group(2).lower() == domain:
            return m.group(1)
    return detected.subject_tag_ref


def answers_service(mail: IncomingMail, config: Config) -> bool:
    """Whether the mail replies to one of the service's own mails: its subject
    is then the service's, and a command in its body wins (``detect_command``)."""
    domain = "@" + config.message_id_domain + ">"
    return any(mid.lower().endswith(domain) for mid in (*mail.in_reply_to, *mail.references))


def may_read(member: Member, plan: Plan) -> bool:
    return (member.is_coordinator or member.is_referent or member.email == plan.referent
            or member.email in plan.team)


@dataclass
class Loaded:
    plan: Plan
    version: int
    doc: Document | None = None  # as stored: lets save_plan skip unchanged indexes


def load_plan(tx: UnitOfWork, ref: str) -> Loaded | None:
    doc = tx.load_document(KIND, ref)
    if doc is None:
        return None
    return Loaded(Plan.from_dict(doc.data), doc.version, doc)


def save_plan(tx: UnitOfWork, plan: Plan, *, expected: int | None, request: Request,
                    summary: str, previous: Document | None = None) -> int:
    patient = plan.patient
    version = tx.save_document(
        kind=KIND, ref=plan.ref, data=plan.to_dict(), status=plan.status,
        expected_version=expected,
        blind={"ins": patient.ins,
               "identity": f"{patient.family_name.upper()}|{patient.given_name.upper()}|"
                           f"{patient.birth_date.isoformat()}"},
        members={plan.referent, *plan.team}, at=request.now, previous=previous)
    tx.add_history(kind=KIND, ref=plan.ref, version=version, author=request.sender.email,
                         source_message_id=request.mail.message_id, at=request.now,
                         change={"summary": summary})
    # Follow-up reminders follow every change of the plan, in this transaction.
    from esp_coord.scheduling.plan_reminders import schedule_plan

    schedule_plan(tx, plan, request.config, request.now)
    return version


def refusal(request: Request, ref: str | None) -> list[Answer]:
    """Identical whether the plan does not exist or is someone else's."""
    what = f"le plan {ref}" if ref else "le plan visé"
    text = french(
        f"Bonjour {request.sender.name},\n\n"
        f"Je ne trouve pas {what} parmi les plans auxquels vous avez accès. "
        "Rien n'a été fait.\n\n"
        "Vérifiez la référence (par exemple PPS-2026-0001), ou répondez directement "
        "à un message du service au sujet de ce plan. LISTE vous renvoie les plans "
        "de vos patients.\n")
    return [Answer(subject=reply_subject(request.mail.subject, "Plan introuvable"), text=text)]


def missing_ref(request: Request, command: str) -> list[Answer]:
    text = french(
        f"Bonjour {request.sender.name},\n\n"
        f"Pour {command}, indiquez le plan concerné : écrivez sa référence avec la commande "
        f"(par exemple « {command} PPS-2026-0001 ») ou répondez à un message du service "
        "au sujet de ce plan. Rien n'a été fait.\n")
    return [Answer(subject=reply_subject(request.mail.subject, "Plan non précisé"), text=text)]


def new_plan(request: Request, detected: Detected) -> list[Answer]:
    tx, people = request.tx, people_of(request.config)
    sender = next(p for p in people if p.email == request.sender.email)
    parsed = parse_new_plan(detected.lines, today=today_of(request), sender=sender,
                            roster=people, library=library())
    if not parsed.ok:
        return [_answer(request, render_errors(parsed.errors, parsed.warnings,
                                               command="NOUVEAU_PPS"))]
    draft = parsed.value
    assert draft is not None
    existing = tx.find_documents(KIND, blind=("ins", draft.patient.ins), status="active")
    if existing:
        return _duplicate(request, existing[0])
    identity = (f"{draft.patient.family_name.upper()}|{draft.patient.given_name.upper()}|"
                f"{draft.patient.birth_date.isoformat()}")
    namesakes = [d.ref for d in tx.find_documents(KIND, blind=("identity", identity))]
    year = today_of(request).year
    ref = f"PPS-{year}-{tx.next_number('PPS', year):04d}"
    plan = Plan.create(draft, ref=ref, author=request.sender.email, at=request.now,
                       source_message_id=request.mail.message_id, protocols=library())
    save_plan(tx, plan, expected=None, request=request, summary="création")
    record(request, "create", ref, f"version 1, {len(plan.actions)} actions")
    answers = [_answer(request, render_created(plan, people=people, warnings=parsed.warnings,
                                               tz=request.config.timezone),
                       plan=plan, kind="ack")]
    if namesakes:
        answers.append(identity_flag(request, ref, namesakes))
        record(request, "identity-flag", ref,
                     f"same name and birth date as {', '.join(namesakes)}"[:200])
    return answers


def _duplicate(request: Request, doc: Document) -> list[Answer]:
    """A NOUVEAU PPS for a patient who already has an active plan: nothing is
    created. Only those who may read the plan learn its reference; anyone
    else learns that a plan exists (it cannot be created twice), not which
    one nor anything in it, and the coordination is told, so that it adds
    them to the plan's care team if they take part in the care."""
    ref = doc.ref
    if may_read(request.sender, Plan.from_dict(doc.data)):
        record(request, "duplicate", ref, "active plan exists, nothing created")
        text = french(
            f"Bonjour {request.sender.name},\n\nCette patiente ou ce patient a déjà un plan "
            f"actif : {ref}. Rien n'a été créé.\n\n"
            f"Pour le compléter, écrivez « MAJ {ref} » en objet, ou répondez à un message "
            "du service au sujet de ce plan.\n")
        return [Answer(subject=reply_subject(request.mail.subject, f"[{ref}] Plan existant"),
                       text=text)]
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
    return [Answer(subject=reply_subject(request.mail.subject, "Plan existant"), text=text),
            _access_notice(request, ref)]


def _coordination(request: Request) -> tuple[str, ...]:
    """The coordinators' addresses; the service's own mailbox when the roster
    names none, so that the notice is kept (in its sent folder) rather than lost."""
    return tuple(m.email for m in request.config.members if m.is_coordinator) or (
        request.config.bot_address,)


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
                  to=_coordination(request),
                  message_id_tag=f"{ref}.access", auto_submitted="auto-generated")


def identity_flag(request: Request, ref: str, namesakes: list[str]) -> Answer:
    """Same name and birth date, another INS: never merged, a human decides."""
    text = french(
        "Bonjour,\n\n"
        f"Le plan {ref} vient d'être créé avec le même nom et la même date de naissance "
        f"que {', '.join(namesakes)}, mais un INS différent. Les plans n'ont pas été "
        "fusionnés : vérifiez l'identité de la patiente ou du patient auprès de "
        "l'équipe.\n")
    return Answer(subject=f"[{ref}] Identité à vérifier", text=text,
                  to=_coordination(request),
                  auto_submitted="auto-generated")


def _plan_for(request: Request, detected: Detected, command: str
                    ) -> tuple[Loaded | None, list[Answer]]:
    ref = referenced_plan(request, detected)
    if ref is None:
        return None, missing_ref(request, command)
    loaded = load_plan(request.tx, ref)
    if loaded is None or not may_read(request.sender, loaded.plan):
        # The answer is the same either way; the audit keeps which it was.
        why = "no such plan" if loaded is None else "not on the care team"
        record(request, "refused", ref, f"{command}: {why}")
        return None, refusal(request, ref)
    return loaded, []


def update_plan(request: Request, detected: Detected) -> list[Answer]:
    loaded, refused = _plan_for(request, detected, "MAJ")
    if loaded is None:
        return refused
    plan, people = loaded.plan, people_of(request.config)
    if not plan.is_active:
        return [_closed_answer(request, plan)]
    sender = next(p for p in people if p.email == request.sender.email)
    team = [p for p in people if p.email in plan.team]
    parsed = parse_update(detected.lines, today=today_of(request), sender=sender, team=team,
                          roster=people, library=library(), patient=plan.patient,
                          applied_protocols=[p.name for p in plan.protocols])
    if parsed.ok and parsed.value is not None and parsed.value.referent and not (
            request.sender.is_coordinator or request.sender.email == plan.referent):
        from plans.drafts import LineError

        parsed.errors.append(LineError(
            line=None, text="Référent", problem="seuls le référent du plan et la coordination "
            "peuvent changer de référent", expected="une demande du référent ou de la "
            "coordination", example="Référent : Dr Claire DURAND", field="referent"))
    if not parsed.ok:
        return [_answer(request, render_errors(parsed.errors, parsed.warnings, command="MAJ",
                                               ref=plan.ref))]
    assert parsed.value is not None
    changes = plan.apply(parsed.value, author=request.sender.email, at=request.now,
                         source_message_id=request.mail.message_id, protocols=library())
    save_plan(request.tx, plan, expected=loaded.version, previous=loaded.doc, request=request,
                    summary="mise à jour")
    record(request, "update", plan.ref, f"version {plan.version}")
    return [_answer(request, render_updated(plan, changes, people=people,
                                            warnings=parsed.warnings,
                                            tz=request.config.timezone), plan=plan, kind="ack")]


def _closed_answer(request: Request, plan: Plan) -> Answer:
    text = french(f"Bonjour {request.sender.name},\n\nLe plan {plan.ref} est clos : il ne "
                  "peut plus être modifié. Rien n'a été fait. Pour reprendre le suivi, "
                  "créez un nouveau plan (NOUVEAU PPS).\n")
    return Answer(subject=reply_subject(request.mail.subject, f"[{plan.ref}] Plan clos"),
                  text=text)


def close_plan(request: Request, detected: Detected) -> list[Answer]:
    loaded, refused = _plan_for(request, detected, "CLORE")
    if loaded is None:
        return refused
    plan = loaded.plan
    # Issue 4: the roster's referent and coordinators may close any plan of the team.
    if not (request.sender.is_coordinator or request.sender.is_referent
            or request.sender.email == plan.referent):
        text = french(f"Bonjour {request.sender.name},\n\nSeuls le référent du plan "
                      f"{plan.ref} et la coordination peuvent le clore. Rien n'a été fait.\n")
        record(request, "refused", plan.ref, "CLORE: neither referent nor coordinator")
        return [Answer(subject=reply_subject(request.mail.subject, f"[{plan.ref}] Clôture"),
                       text=text)]
    if not plan.is_active:
        return [_closed_answer(request, plan)]
    reason = " ".join(text for _, text in detected.lines if text.strip())[:500]
    plan.close(by=request.sender.email, at=request.now,
               source_message_id=request.mail.message_id, reason=reason)
    save_plan(request.tx, plan, expected=loaded.version, previous=loaded.doc, request=request,
                    summary="clôture")
    record(request, "close", plan.ref, f"version {plan.version}")
    return [_answer(request, render_closed(plan, people=people_of(request.config),
                                           tz=request.config.timezone), plan=plan, kind="closed")]


def plan_status(request: Request, detected: Detected) -> list[Answer]:
    loaded, refused = _plan_for(request, detected, "STATUT")
    if loaded is None:
        return refused
    from .meetings import next_meeting_for  # meetings import this module

    nxt = next_meeting_for(request.tx, loaded.plan.ref, request.now, request.config)
    rendered = render_status(loaded.plan, people=people_of(request.config),
                             today=today_of(request), next_meeting=nxt,
                             tz=request.config.timezone)
    record(request, "status", loaded.plan.ref, f"version {loaded.plan.version}")
    return [_answer(request, rendered, plan=loaded.plan, kind="status")]


def plan_list(request: Request, detected: Detected) -> list[Answer]:
    member = request.sender
    everyone = member.is_coordinator or member.is_referent
    docs = request.tx.find_documents(KIND, status="active",
                                           member=None if everyone else member.email)
    plans = [Plan.from_dict(d.data) for d in docs]
    rendered = render_list(plans, people=people_of(request.config), today=today_of(request))
    record(request, "list", None, f"{len(plans)} active plans")
    return [_answer(request, rendered)]


def _action_number(request: Request, detected: Detected, command: str
                   ) -> tuple[int | None, str, list[Answer]]:
    number, rest = split_action_number(detected.raw_args)
    if number is not None:
        return number, rest, []
    text = french(f"Bonjour {request.sender.name},\n\nIndiquez le numéro de l'action après "
                  f"{command}, par exemple « {command} 2 PPS-2026-0001 » : les numéros "
                  "figurent dans l'accusé de réception et dans STATUT. Rien n'a été fait.\n")
    return None, "", [Answer(subject=reply_subject(request.mail.subject, "Numéro d'action"),
                             text=text)]


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
                   text=text)]


def _action_target(request: Request, detected: Detected, command: str
                         ) -> tuple[int, str, Loaded | None, list[Answer]]:
    """The action number, the rest of the command line and the plan, or the answer
    that says what is missing."""
    number, rest, problem = _action_number(request, detected, command)
    if number is None:
        return 0, "", None, problem
    loaded, refused = _plan_for(request, detected, command)
    return number, rest, loaded, refused


def action_done(request: Request, detected: Detected) -> list[Answer]:
    number, _, loaded, answers = _action_target(request, detected, "FAIT")
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
    save_plan(request.tx, plan, expected=loaded.version, previous=loaded.doc, request=request,
                    summary=f"action {number} faite")
    record(request, "done", plan.ref, f"action {number}, version {plan.version}")
    return [_answer(request, render_done(plan, action, people=people_of(request.config)),
                    plan=plan, kind="done")]


def action_undone(request: Request, detected: Detected) -> list[Answer]:
    """``ANNULER FAIT 3``: a FAIT sent by mistake; the action is to do again.
    The same access as FAIT: whoever may read the plan."""
    number, _, loaded, answers = _action_target(request, detected, "ANNULER FAIT")
    if loaded is None:
        return answers
    plan = loaded.plan
    try:
        undone = plan.undo_done(number, by=request.sender.email, at=request.now,
                                source_message_id=request.mail.message_id)
    except PlanError as e:
        return _action_problem(request, plan, e)
    save_plan(request.tx, plan, expected=loaded.version, previous=loaded.doc, request=request,
                    summary=f"action {number} remise à faire")
    record(request, "undo-done", plan.ref, f"action {number}, version {plan.version}")
    rendered = render_undone(plan, plan.action(number), undone, people=people_of(request.config))
    return [_answer(request, rendered, plan=plan, kind="undone")]


def action_postponed(request: Request, detected: Detected) -> list[Answer]:
    number, rest, loaded, answers = _action_target(request, detected, "REPORTER")
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
                               source_message_id=request.mail.message_id)
    except PlanError as e:
        return _action_problem(request, plan, e)
    if not action.recurring:
        # A one-off action's time goes with its date: the new one, or none.
        action.when = dataclasses.replace(action.when, time_of_day=at)
    if at is not None:
        plan.versions[-1].summary += f" à {format_time(at)}"
        if action.recurring:
            # The time of this occurrence only: the rhythm keeps its own, and this
            # one is kept in a note so that it is not lost.
            plan.notes.append(Note(f"Action {number} ({action.what}) : reportée au "
                                   f"{format_date(new_date)} à {format_time(at)}.",
                                   request.sender.email, request.now))
    save_plan(request.tx, plan, expected=loaded.version, previous=loaded.doc, request=request,
                    summary=f"action {number} reportée")
    record(request, "postpone", plan.ref, f"action {number}, version {plan.version}")
    rendered = render_postponed(plan, action, people=people_of(request.config))
    if at is not None:
        said = (f"L'heure indiquée ({format_time(at)}) vaut pour cette fois : elle est gardée "
                "dans les notes du plan et son historique (STATUT) ; les fois suivantes "
                "gardent l'heure du rythme." if action.recurring else
                f"Heure : {format_time(at)} ; le rappel part le jour prévu, à l'heure "
                "habituelle des rappels.")
        rendered = dataclasses.replace(rendered, text=rendered.text + french(f"\n{said}\n"))
    return [_answer(request, rendered, plan=plan, kind="postponed")]


def _date_refused(request: Request, detected: Detected, plan: Plan, number: int,
                  error: FieldError) -> Answer:
    """The new date cannot be used: where, what, what was expected, an example."""
    where = f"Ligne {detected.line}" if detected.line is not None else "Objet"
    text = french(
        f"Bonjour {request.sender.name},\n\nRien n'a été fait : la nouvelle date de l'action "
        f"{number} n'est pas acceptée.\n\n{where} : « {detected.text} »\n"
        f"   Problème : {error.problem}\n   Attendu : {error.expected}\n"
        f"   Exemple : REPORTER {number} au {error.example} {plan.ref}\n")
    return Answer(subject=reply_subject(request.mail.subject, f"[{plan.ref}] Date"), text=text)

