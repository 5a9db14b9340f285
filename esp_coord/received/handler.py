"""A document mail, from its archive to the patient's plan, in the mail's transaction.

``handle_document`` is the processor's ``DocumentHandler``:

1. the ``IHE_XDM.ZIP`` attachment is decoded (bounded by
   ``max_attachment_bytes``) and read by ``esp_coord.xdm`` (zip limits,
   defusedxml, the CDA header only); a refusal is code 906, the mail goes to
   the quarantine folder and the coordination is told;
2. the patient is established from the document alone (its INS, checked
   against its traits; codes 903, 904, 905);
3. a replacement (``[Annule et remplace]`` in the subject, or the CDA's
   ``relatedDocument`` RPLC) takes the place of the stored document with the
   replaced id (else of the same set id): refused when it comes from another
   organisation (901: another mail domain than the original's sender) or is
   not a later version (900), or when its patient is another (904);
4. else the active plan with that INS (the blind index, never a name) takes
   the document if its traits agree with the plan's (else 904, nothing kept,
   the coordination told): stored encrypted, numbered, the referent and care
   team told; a discharge letter proposes the team's discharge protocol;
5. no plan: the document is kept ``keep_unmatched_days`` (code 902), the
   coordination and the referent physicians are told with a pre-filled
   ``NOUVEAU PPS``; ``attach_pending`` attaches it when that plan is created.

A document already received (the same CDA id, under another Message-ID) is
acknowledged as integrated and nothing more.

Logs and audit details carry references, codes and rule names, never a
patient's name, INS or the document's content.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from esp_coord.answers import Answer
from esp_coord.config import Config
from esp_coord.intake import attachment
from esp_coord.plan_repo import KIND, PlanRepository
from esp_coord.ports import StorePort, UnitOfWork
from esp_coord.processing import DocumentRequest, DocumentResult
from esp_coord.roster import coordination
from esp_coord.store.received import ReceivedDocument
from esp_coord.xdm import OTHER_ERROR, XdmDocument, XdmError, read_xdm
from esp_coord.xdm.identity import INS_MISMATCH, Identity, plan_mismatches
from esp_coord.xdm.model import Traits
from plans.model import Patient, Plan
from plans.protocols import load_library

from .acknowledge import receipt_text
from .convention import XDM_ATTACHMENT, is_replacement
from .notices import (
    DISCHARGE_PROTOCOL,
    DocumentInfo,
    attached_notice,
    not_attached_notice,
    pending_notice,
    replaced_notice,
)

__all__ = ["EXPIRY_EVERY", "UNKNOWN_PATIENT", "attach_pending", "document_meta",
           "expire_documents", "handle_document"]

log = logging.getLogger(__name__)

UNKNOWN_PATIENT = 902
VERSION_ERROR, AUTHOR_ERROR = 900, 901


def document_meta(doc: XdmDocument, *, sender: str) -> dict[str, Any]:
    """What is kept (encrypted) beside the archive: enough to list, notify and
    pre-fill a plan without opening the archive again."""
    identity = doc.identity
    assert identity is not None
    traits = identity.traits
    code = doc.type_code
    return {
        "title": doc.title, "type_code": code.code if code else "",
        "type_display": code.display if code else "",
        "date": doc.day.isoformat() if doc.day else None, "author": doc.author,
        "institution": doc.institution, "sender": sender, "discharge": doc.is_discharge,
        "document_id": doc.cda.doc_id, "set_id": doc.cda.set_id,
        "patient": {"ins": identity.ins, "oid": identity.oid,
                    "birth_name": traits.birth_name, "used_name": traits.used_name,
                    "first_given": traits.first_given,
                    "birth_date": traits.birth_date.isoformat() if traits.birth_date else None,
                    "sex": traits.sex},
    }


def _referents(config: Config) -> tuple[str, ...]:
    return tuple(m.email for m in config.members if m.is_referent)


def _team_of(plan: Plan) -> tuple[str, ...]:
    return tuple(dict.fromkeys([plan.referent, *sorted(plan.team)]))


def _audit(request: DocumentRequest, action: str, ref: str | None, detail: str) -> None:
    request.tx.audit(request.mail.from_address, action, ref, request.mail.message_id,
                     detail[:200], request.now)


def _result(request: DocumentRequest, error: int | None, answers: list[Answer], *,
            kept_until: date | None = None, quarantine: bool = False) -> DocumentResult:
    return DocumentResult(answers=answers, error=error,
                          receipt_text=receipt_text(request.mail, request.config, error,
                                                    kept_until=kept_until),
                          quarantine=quarantine,
                          reason=f"document-{error}" if error else "document")


def _refused(request: DocumentRequest, code: int, why: str, *, day: date | None = None,
             ref: str | None = None, detail: str = "") -> DocumentResult:
    """Nothing kept; the coordination told (sender, reason, code)."""
    log.info("document mail %s from %s refused: %d (%s)", request.mail.message_id,
             request.mail.from_address, code, why)
    _audit(request, "document-refused", ref, f"code {code}: {why}")
    notice = not_attached_notice(code, sender=request.mail.from_address, subject_day=day,
                                 recipients=coordination(request.config), ref=ref,
                                 detail=detail)
    return _result(request, code, [notice], quarantine=code == OTHER_ERROR)


def _read(request: DocumentRequest) -> tuple[XdmDocument, bytes] | DocumentResult:
    mail, limits = request.mail, request.config.limits
    if mail.too_large:
        return _refused(request, OTHER_ERROR, "mail or attachment over the size limits")
    data = attachment(request.raw, XDM_ATTACHMENT, max_bytes=limits.max_attachment_bytes)
    if data is None:
        return _refused(request, OTHER_ERROR, "the IHE_XDM.ZIP attachment cannot be decoded")
    try:
        return read_xdm(data, accept_test_ins=request.config.documents.accept_test_ins), data
    except XdmError as e:
        return _refused(request, e.code, e.reason)


def handle_document(request: DocumentRequest) -> DocumentResult:
    tx = request.tx
    tx.expire_received(request.now)
    read = _read(request)
    if isinstance(read, DocumentResult):
        return read
    doc, data = read
    if doc.identity is None:
        assert doc.error is not None
        return _refused(request, doc.error.code, doc.error.reason, day=doc.day)
    if doc.cda.doc_id and not doc.replaces and tx.find_received(doc_id=doc.cda.doc_id):
        # The same document again (a platform sending twice, under another
        # Message-ID): already integrated; acknowledged, nothing new told.
        _audit(request, "document-again", None, "a document already received")
        return _result(request, None, [])
    if is_replacement(request.mail) or doc.replaces:
        previous = tx.find_received(doc_id=doc.replaces or None, set_id=doc.cda.set_id or None)
        if previous is not None:
            return _replace(request, doc, previous, data)
    plans = PlanRepository(tx)
    plan = plans.active_with_ins(doc.identity.ins)
    if plan is None:
        return _keep_pending(request, doc, data, plans)
    differ = plan_mismatches(doc.identity, plan.patient)
    if differ:
        return _refused(request, INS_MISMATCH, "traits differ from the plan's", day=doc.day,
                        ref=plan.ref, detail=f"Traits différents de ceux du plan {plan.ref} : "
                        f"{', '.join(differ)}. Le document n'a pas été fusionné : vérifiez "
                        "l'identité auprès de l'équipe.")
    return _attach_new(request, doc, data, plan)


def _new_ref(tx: UnitOfWork, year: int) -> str:
    return f"DOC-{year}-{tx.next_number('DOC', year):04d}"


def _protocol() -> Any:
    return load_library().get(DISCHARGE_PROTOCOL)


def _attach_new(request: DocumentRequest, doc: XdmDocument, data: bytes,
                plan: Plan) -> DocumentResult:
    tx, sender = request.tx, request.mail.from_address
    assert doc.identity is not None
    number = tx.next_received_number(plan.ref)
    ref = _new_ref(tx, request.now.year)
    tx.add_received(ref=ref, status="attached", plan_ref=plan.ref, number=number, sender=sender,
                    ins=doc.identity.ins, doc_id=doc.cda.doc_id or None,
                    set_id=doc.cda.set_id or None, version=doc.cda.version,
                    meta=document_meta(doc, sender=sender), archive=data, at=request.now,
                    expires_at=None, source_message_id=request.mail.message_id)
    _audit(request, "document-attached", plan.ref, f"{ref}, document {number}")
    log.info("document mail %s: %s attached to %s as document %d", request.mail.message_id,
             ref, plan.ref, number)
    notice = attached_notice(DocumentInfo.of(doc, sender), plan=plan, number=number,
                             recipients=_team_of(plan), protocol=_protocol())
    return _result(request, None, [notice])


def _keep_pending(request: DocumentRequest, doc: XdmDocument, data: bytes,
                  plans: PlanRepository) -> DocumentResult:
    tx, sender, config = request.tx, request.mail.from_address, request.config
    identity = doc.identity
    assert identity is not None
    until = request.now + timedelta(days=config.documents.keep_unmatched_days)
    ref = _new_ref(tx, request.now.year)
    tx.add_received(ref=ref, status="pending", plan_ref=None, number=None, sender=sender,
                    ins=identity.ins, doc_id=doc.cda.doc_id or None,
                    set_id=doc.cda.set_id or None, version=doc.cda.version,
                    meta=document_meta(doc, sender=sender), archive=data, at=request.now,
                    expires_at=until, source_message_id=request.mail.message_id)
    traits = identity.traits
    namesakes: list[str] = []
    if traits.birth_date is not None:
        # Same name and birth date, another INS: never merged, but said.
        same_ins = {d.ref for d in tx.find_documents(KIND, blind=("ins", identity.ins))}
        namesakes = [ref for ref in plans.refs_with_identity(Patient(
            traits.birth_name, traits.first_given, traits.birth_date, traits.sex, identity.ins))
            if ref not in same_ins]
    _audit(request, "document-pending", None, f"{ref}, kept until {until.date().isoformat()}")
    log.info("document mail %s: %s kept, no plan has its INS", request.mail.message_id, ref)
    local_until = until.astimezone(config.timezone).date()
    recipients = tuple(dict.fromkeys([*coordination(config), *_referents(config)]))
    notice = pending_notice(doc, sender=sender, recipients=recipients, until=local_until,
                            namesakes=namesakes)
    return _result(request, UNKNOWN_PATIENT, [notice], kept_until=local_until)


def _domain(address: str) -> str:
    return address.rpartition("@")[2].lower()


def _replace(request: DocumentRequest, doc: XdmDocument, previous: ReceivedDocument,
             data: bytes) -> DocumentResult:
    tx, sender = request.tx, request.mail.from_address
    identity = doc.identity
    assert identity is not None
    if _domain(previous.sender) != _domain(sender):
        return _refused(request, AUTHOR_ERROR, "replacement from another organisation",
                        day=doc.day, ref=previous.plan_ref)
    if previous.version is not None and doc.cda.version is not None \
            and doc.cda.version <= previous.version:
        return _refused(request, VERSION_ERROR, "replacement not a later version",
                        day=doc.day, ref=previous.plan_ref)
    if previous.meta.get("patient", {}).get("ins") != identity.ins:
        return _refused(request, INS_MISMATCH, "replacement about another patient",
                        day=doc.day, ref=previous.plan_ref)
    plan = None
    if previous.plan_ref is not None:
        loaded = PlanRepository(tx).get(previous.plan_ref)
        plan = loaded.plan if loaded is not None else None
        if plan is not None and plan_mismatches(identity, plan.patient):
            return _refused(request, INS_MISMATCH, "replacement traits differ from the plan's",
                            day=doc.day, ref=plan.ref)
    tx.replace_received(previous.ref, sender=sender, doc_id=doc.cda.doc_id or None,
                        set_id=doc.cda.set_id or None, version=doc.cda.version,
                        meta=document_meta(doc, sender=sender), archive=data, at=request.now,
                        source_message_id=request.mail.message_id)
    _audit(request, "document-replaced", previous.plan_ref,
           f"{previous.ref}, version {doc.cda.version}")
    log.info("document mail %s: replaces %s", request.mail.message_id, previous.ref)
    if plan is None or previous.number is None:
        # Still pending: the coordination's notice stands; the new version is
        # what will be attached.
        kept = previous.expires_at.astimezone(request.config.timezone).date() \
            if previous.expires_at else None
        return _result(request, UNKNOWN_PATIENT, [], kept_until=kept)
    notice = replaced_notice(DocumentInfo.of(doc, sender), plan=plan, number=previous.number,
                             recipients=_team_of(plan))
    return _result(request, None, [notice])


def attach_pending(tx: UnitOfWork, plan: Plan, *, now: datetime, author: str,
                   source_message_id: str | None) -> tuple[list[Answer], list[str]]:
    """Attach to a plan just created the documents kept for its INS, when
    their traits agree with the plan's: (the notices to its team, the
    references of those left aside because their traits differ). Called in
    the creating mail's transaction."""
    tx.expire_received(now)
    answers: list[Answer] = []
    left: list[str] = []
    attached: list[tuple[str, int]] = []
    for doc in tx.received_pending(plan.patient.ins, now):
        identity = _identity_of(doc.meta)
        if identity is None or plan_mismatches(identity, plan.patient):
            left.append(doc.ref)
            continue
        number = tx.next_received_number(plan.ref)
        if not tx.attach_received(doc.ref, plan_ref=plan.ref, number=number, at=now):
            continue
        attached.append((doc.ref, number))
        answers.append(attached_notice(DocumentInfo.from_meta(doc.meta, doc.version),
                                       plan=plan, number=number, recipients=_team_of(plan),
                                       protocol=_protocol(), waited=True))
    # The audit last, after every other write (store/audit.py: lock order).
    for ref, number in attached:
        tx.audit(author, "document-attached", plan.ref, source_message_id,
                 f"{ref}, document {number}, kept since its arrival", now)
    return answers, left


def _identity_of(meta: Mapping[str, Any]) -> Identity | None:
    patient = meta.get("patient")
    if not isinstance(patient, Mapping) or not patient.get("ins"):
        return None
    born = patient.get("birth_date")
    traits = Traits(str(patient.get("birth_name") or ""), str(patient.get("first_given") or ""),
                    date.fromisoformat(born) if isinstance(born, str) else None,
                    str(patient.get("sex") or ""), str(patient.get("used_name") or ""))
    return Identity(str(patient["ins"]), str(patient.get("oid") or ""), traits)


# How often the mailroom's idle passes erase the documents whose time is up
# (a document or a new plan also does it first, in its own transaction).
EXPIRY_EVERY = timedelta(hours=1)


async def expire_documents(store: StorePort, now: datetime) -> int:
    """Erase the pending documents whose time is up, in one transaction of
    their own; returns how many. Never raises: the next pass tries again."""
    try:
        return await store.run(lambda tx: tx.expire_received(now))
    except Exception as e:
        log.warning("expiry of received documents failed (%s): tried again later",
                    type(e).__name__)
        return 0
