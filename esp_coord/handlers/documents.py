"""DOCUMENT n: a document received for a plan, sent back as the original archive.

Only to someone who may read the plan (``access.may_read``: its care team,
the coordination, the roster's referents); the refusal is the same whether
the plan does not exist or is someone else's (``common.plan_for``). The
archive goes as it came (``IHE_XDM.ZIP``): the member's secure mail client,
or their practice software, opens it. The documents themselves are received
by ``esp_coord.received``.
"""

from __future__ import annotations

from esp_coord.answers import Answer, reply_subject
from esp_coord.outgoing import OutAttachment
from esp_coord.plan_repo import PlanRepository
from esp_coord.processing import Request
from esp_coord.received.convention import XDM_ATTACHMENT
from esp_coord.received.notices import DocumentInfo, describe
from plans.commands import Detected, split_action_number
from plans.render import DocumentLine
from plans.typography import french

from .common import plan_for
from .replies import say
from .trail import record

__all__ = ["document_lines", "send_document"]


def document_lines(request: Request, plan_ref: str) -> list[DocumentLine]:
    """The plan's documents as STATUT lists them."""
    found = []
    for doc in request.tx.received_for_plan(plan_ref):
        info = DocumentInfo.from_meta(doc.meta)
        origin = ", ".join(p for p in (info.author, info.institution) if p) or info.sender
        found.append(DocumentLine(doc.number or 0, info.title, info.day, origin))
    return found


def send_document(request: Request, detected: Detected) -> list[Answer]:
    loaded, refused = plan_for(request, PlanRepository.of(request), detected, "DOCUMENT")
    if loaded is None:
        return refused
    plan = loaded.plan
    number, _ = split_action_number(detected.raw_args)
    documents = {d.number: d for d in request.tx.received_for_plan(plan.ref)}
    if number is None or number not in documents:
        record(request, "refused", plan.ref, f"DOCUMENT: no document {number}")
        have = (f"Le plan a {len(documents)} document(s), numérotés de 1 à {len(documents)} : "
                f"STATUT {plan.ref} les liste." if documents
                else "Le plan n'a encore aucun document reçu.")
        what = f"de document n° {number}" if number is not None else "le numéro du document"
        return say(request, f"[{plan.ref}] Document",
                   f"Je ne trouve pas {what} dans le plan {plan.ref}. {have} Écrivez par "
                   f"exemple « DOCUMENT 1 {plan.ref} ». Rien n'a été envoyé.", refused=True)
    doc = documents[number]
    archive = request.tx.received_archive(doc.ref)
    if archive is None:
        return say(request, f"[{plan.ref}] Document",
                   f"Le document n° {number} du plan {plan.ref} n'est plus disponible. "
                   "Rien n'a été envoyé.", refused=True)
    info = DocumentInfo.from_meta(doc.meta)
    text = french(f"Bonjour {request.sender.name},\n\nVoici le document n° {number} du plan "
                  f"{plan.ref} ({plan.patient.display_name}), tel qu'il a été reçu :\n"
                  + "\n".join(describe(info)) + "\n\n"
                  f"L'archive jointe ({XDM_ATTACHMENT}) s'ouvre avec votre logiciel de "
                  "messagerie sécurisée ou votre logiciel métier.\n")
    record(request, "document", plan.ref, f"document {number} sent")
    return [Answer(subject=reply_subject(request.mail.subject,
                                         f"[{plan.ref}] Document n° {number}"),
                   text=text, message_id_tag=f"{plan.ref}.docsent.{number}",
                   attachments=(OutAttachment(XDM_ATTACHMENT, "application/zip", archive),))]
