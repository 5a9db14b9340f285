"""The answers the plan and meeting handlers share: acknowledgements that a
reply can find their plan or meeting from, refusals, « Rien n'a été fait ».

A refusal is the same whether the plan or meeting does not exist or is not
the sender's: it never says which (the audit trail keeps it).
"""

from __future__ import annotations

import re

from esp_coord.answers import Answer, reply_subject
from esp_coord.outgoing import OutAttachment
from esp_coord.processing import Request
from plans.meetings import Meeting, MeetingError
from plans.model import Plan
from plans.render import Rendered
from plans.typography import french

__all__ = ["closed_answer", "meeting_problem", "meeting_refusal", "meeting_reply",
           "missing_meeting_ref", "missing_ref", "not_allowed", "plan_answer", "refusal",
           "say"]

_TAGGED = re.compile(r"^\[(RCP-\d{4}-\d{3})\]")


def say(request: Request, subject: str, body: str, *, refused: bool = False) -> list[Answer]:
    """« Bonjour <name>, <body> » in reply to the mail (``refused``: see ``Answer``)."""
    text = french(f"Bonjour {request.sender.name},\n\n{body}\n")
    return [Answer(subject=reply_subject(request.mail.subject, subject), text=text,
                   refused=refused)]


# --- plans -------------------------------------------------------------------------


def plan_answer(request: Request, rendered: Rendered, *, plan: Plan | None = None,
                kind: str = "ans", refused: bool = False) -> Answer:
    # Acknowledgements get a Message-ID naming the plan and version, so that a
    # reply to them finds the plan from In-Reply-To alone.
    if plan is not None:
        # A status can be asked many times at one version: a stable id would
        # collide in the outbox and the later answers be dropped. The unique id
        # still starts with the reference, so a reply finds the plan all the same.
        return Answer(subject=rendered.subject, text=rendered.text,
                      message_id_tag=f"{plan.ref}.{kind}.{plan.version}",
                      stable_id=kind != "status", refused=refused)
    return Answer(subject=reply_subject(request.mail.subject, rendered.subject),
                  text=rendered.text, refused=refused)


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
    return [Answer(subject=reply_subject(request.mail.subject, "Plan introuvable"), text=text,
                   refused=True)]


def missing_ref(request: Request, command: str) -> list[Answer]:
    text = french(
        f"Bonjour {request.sender.name},\n\n"
        f"Pour {command}, indiquez le plan concerné : écrivez sa référence avec la commande "
        f"(par exemple « {command} PPS-2026-0001 ») ou répondez à un message du service "
        "au sujet de ce plan. Rien n'a été fait.\n")
    return [Answer(subject=reply_subject(request.mail.subject, "Plan non précisé"), text=text,
                   refused=True)]


def closed_answer(request: Request, plan: Plan) -> Answer:
    text = french(f"Bonjour {request.sender.name},\n\nLe plan {plan.ref} est clos : il ne "
                  "peut plus être modifié. Rien n'a été fait. Pour reprendre le suivi, "
                  "créez un nouveau plan (NOUVEAU PPS).\n")
    return Answer(subject=reply_subject(request.mail.subject, f"[{plan.ref}] Plan clos"),
                  text=text, refused=True)


# --- meetings ----------------------------------------------------------------------


def meeting_reply(request: Request, rendered: Rendered, *,
                  attachments: tuple[OutAttachment, ...] = (), refused: bool = False) -> Answer:
    # Acknowledgements carry the meeting's tag in the subject and their
    # Message-ID starts with its reference: a reply to them finds the meeting.
    tagged = _TAGGED.match(rendered.subject)
    if tagged is None:
        return Answer(subject=reply_subject(request.mail.subject, rendered.subject),
                      text=rendered.text, attachments=attachments, refused=refused)
    return Answer(subject=rendered.subject, text=rendered.text, attachments=attachments,
                  message_id_tag=f"{tagged.group(1)}.ack", refused=refused)


def meeting_refusal(request: Request, ref: str | None) -> list[Answer]:
    """Identical whether the meeting does not exist or is not the sender's."""
    what = f"la réunion {ref}" if ref else "la réunion visée"
    return say(request, "Réunion introuvable",
               f"Je ne trouve pas {what} parmi vos réunions de concertation. Rien n'a été "
               "fait.\n\nVérifiez la référence (par exemple RCP-2026-001) ; RCP vous renvoie "
               "vos prochaines réunions.", refused=True)


def missing_meeting_ref(request: Request, command: str) -> list[Answer]:
    return say(request, "Réunion non précisée",
               f"Pour {command}, indiquez la réunion : écrivez sa référence avec la commande, "
               f"par exemple « {command} RCP-2026-001 ». Rien n'a été fait.", refused=True)


def not_allowed(request: Request, meeting: Meeting, what: str) -> list[Answer]:
    return say(request, f"[{meeting.ref}] {what.capitalize()}",
               f"Seuls l'organisateur de la réunion {meeting.ref}, la coordination et les "
               f"référents de l'équipe peuvent {what}. Rien n'a été fait.", refused=True)


def meeting_problem(request: Request, error: MeetingError) -> list[Answer]:
    day = f"le {error.day:%d/%m/%Y}" if error.day else ""
    reasons = {
        "cancelled": f"la réunion {error.ref} est annulée",
        "no_occurrence": f"la réunion {error.ref} n'a pas lieu {day}",
        "occurrence_cancelled": f"la réunion {error.ref} du {error.day:%d/%m/%Y} est déjà "
                                "annulée" if error.day else "cette date est déjà annulée",
        "not_yet": f"la réunion {error.ref} n'a pas encore eu lieu",
        "past": f"la réunion {error.ref} du {error.day:%d/%m/%Y} est déjà passée"
                if error.day else "cette réunion est déjà passée",
        "already_held": f"le compte-rendu de la réunion {error.ref} du "
                        f"{error.day:%d/%m/%Y} est déjà enregistré" if error.day else "",
    }
    return say(request, f"[{error.ref}] Rien n'a été fait",
               f"Rien n'a été fait : {reasons.get(error.code, 'demande impossible')}. "
               "RCP vous renvoie vos prochaines réunions et leurs dates.", refused=True)
