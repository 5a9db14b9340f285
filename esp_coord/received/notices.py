"""What the team is told of a received document, in French.

Who reads what (the rule of ``docs/security.md``: patient data never to
anyone outside the patient's care team):

- a document attached to a plan: the plan's referent and care team, with the
  plan's reference and patient name (they already read them in STATUT), what
  arrived, from whom, its number for ``DOCUMENT n``; for a discharge letter,
  the team's ``sortie-hospitalisation`` follow-ups and the one line that
  applies them;
- a document whose patient has no plan: the coordination and the roster's
  referent physicians (who create plans), with only what they need to act:
  the document's type, sender and date, how long it is kept, and a
  ``NOUVEAU PPS`` pre-filled from the CDA (name, birth date, sex, INS) whose
  subject names nobody;
- a document that could not be attached (no INS, traits that differ, an
  archive refused): the coordination, with the sender, the date and the
  reason, never the traits or the content.

The sender (a correspondent) is told nothing here: its acknowledgement is the
MDN (``acknowledge``). No subject starts with a command word (« Document »
would read as DOCUMENT in a reply).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from esp_coord.answers import Answer
from esp_coord.xdm import XdmDocument
from plans.dates import format_date
from plans.identity import format_ins
from plans.model import Plan
from plans.people import profession_name
from plans.protocols import ProtocolDef
from plans.typography import french

__all__ = ["DocumentInfo", "attached_notice", "describe", "not_attached_notice", "pending_notice",
           "replaced_notice"]

DISCHARGE_PROTOCOL = "sortie-hospitalisation"
_REASONS = {
    900: "il se présente comme une nouvelle version d'un document déjà reçu, mais sa "
         "version n'est pas plus récente",
    901: "il se présente comme le remplaçant d'un document reçu d'un autre établissement",
    903: "le document ne porte pas d'INS (identifiant national de santé) qualifié",
    904: "l'identité du document ne concorde pas (INS et traits d'identité différents "
         "entre eux, ou différents de ceux du plan)",
    905: "le document porte un INS sans tous ses traits d'identité (nom de naissance, "
         "premier prénom, date de naissance, sexe)",
    906: "l'archive jointe n'a pas pu être lue : elle ne respecte pas le format IHE XDM "
         "ou les limites de sécurité du service",
}


@dataclass(frozen=True)
class DocumentInfo:
    """What the notices say of a document: no patient data."""

    title: str
    type_display: str
    day: date | None
    author: str
    institution: str
    sender: str
    discharge: bool
    version: int | None = None

    @classmethod
    def of(cls, doc: XdmDocument, sender: str) -> DocumentInfo:
        code = doc.type_code
        return cls(doc.title, code.display if code else "", doc.day, doc.author,
                   doc.institution, sender, doc.is_discharge, doc.cda.version)

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any], version: int | None = None) -> DocumentInfo:
        """From what the store keeps beside the archive (``handler.document_meta``)."""
        day = meta.get("date")
        return cls(str(meta.get("title") or ""), str(meta.get("type_display") or ""),
                   date.fromisoformat(day) if isinstance(day, str) else None,
                   str(meta.get("author") or ""), str(meta.get("institution") or ""),
                   str(meta.get("sender") or ""), bool(meta.get("discharge")), version)


def describe(info: DocumentInfo) -> list[str]:
    """The lines that say what arrived and from whom (no patient data)."""
    what = info.title or "Document"
    if info.type_display and info.type_display != what:
        what = f"{what} ({info.type_display})"
    lines = [f"  {what}"]
    origin = ", ".join(p for p in (info.author, info.institution) if p)
    dated = f"du {format_date(info.day)}" if info.day else "non daté"
    lines.append(f"  {dated}" + (f", de {origin}" if origin else ""))
    lines.append(f"  envoyé par {info.sender}")
    return lines


def _protocol_lines(protocol: ProtocolDef, plan: Plan) -> list[str]:
    if protocol.name in {p.name for p in plan.protocols}:
        return [f"Le protocole « {protocol.title} » est déjà appliqué à ce plan.", ""]
    lines = ["C'est une lettre de sortie d'hospitalisation. Le protocole de l'équipe "
             f"« {protocol.title} » prévoit :"]
    lines += [f"  - {profession_name(f.profession)} : {f.what} ({f.when})"
              for f in protocol.follow_ups]
    lines += ["", "Pour appliquer ces suivis au plan, répondez à ce message avec cette seule "
              "ligne :", f"MAJ Protocole : {protocol.name}", ""]
    return lines


def attached_notice(info: DocumentInfo, *, plan: Plan, number: int,
                    recipients: Sequence[str], protocol: ProtocolDef | None,
                    waited: bool = False) -> Answer:
    """``waited``: the document arrived before the plan and was kept for it."""
    opening = (f"Un document reçu avant la création du plan {plan.ref} "
               f"({plan.patient.display_name}) vient d'y être rattaché :" if waited else
               f"Un document est arrivé pour {plan.patient.display_name} (plan {plan.ref}) :")
    lines = [opening, *describe(info), "",
             f"Il est enregistré comme document n° {number} du plan.", ""]
    if info.discharge and protocol is not None:
        lines += _protocol_lines(protocol, plan)
    lines += [f"Pour recevoir le document, répondez à ce message en écrivant : "
              f"DOCUMENT {number}", f"STATUT {plan.ref} liste les documents du plan."]
    return Answer(subject=f"[{plan.ref}] Nouveau document : {info.title or 'document'}"[:200],
                  text=french("Bonjour,\n\n" + "\n".join(lines) + "\n"), to=tuple(recipients),
                  message_id_tag=f"{plan.ref}.doc.{number}.{info.version or 1}",
                  stable_id=True, auto_submitted="auto-generated")


def replaced_notice(info: DocumentInfo, *, plan: Plan, number: int,
                    recipients: Sequence[str]) -> Answer:
    lines = [f"Une nouvelle version du document n° {number} du plan {plan.ref} "
             f"({plan.patient.display_name}) est arrivée ; elle remplace la précédente :",
             *describe(info), "",
             f"Pour recevoir cette version, répondez à ce message en écrivant : "
             f"DOCUMENT {number}"]
    title = info.title or "document"
    return Answer(subject=f"[{plan.ref}] Nouvelle version d'un document : {title}"[:200],
                  text=french("Bonjour,\n\n" + "\n".join(lines) + "\n"), to=tuple(recipients),
                  message_id_tag=f"{plan.ref}.doc.{number}.{info.version or 0}",
                  stable_id=True, auto_submitted="auto-generated")


def _prefill(doc: XdmDocument) -> list[str]:
    identity = doc.identity
    assert identity is not None
    traits = identity.traits
    female = traits.sex == "F"
    born = format_date(traits.birth_date) if traits.birth_date else ""
    return [f"Nom : {traits.birth_name}",
            f"Prénom : {traits.first_given.title()}",
            f"{'Née' if female else 'Né'} le : {born}",
            f"Sexe : {traits.sex}",
            f"INS : {format_ins(identity.ins)}",
            "Consentement : ",
            "Problème : ",
            "Action : "]


def pending_notice(doc: XdmDocument, *, sender: str, recipients: Sequence[str],
                   until: date, namesakes: Sequence[str]) -> Answer:
    lines = ["Un document est arrivé pour une patiente ou un patient qui n'a pas de plan "
             "actif dans l'équipe :", *describe(DocumentInfo.of(doc, sender)), "",
             f"Il est conservé jusqu'au {format_date(until)} : si un plan est créé d'ici là "
             "avec le même INS, le document y sera rattaché automatiquement et son équipe de "
             "soins prévenue.", ""]
    if namesakes:
        lines += [f"Attention : {', '.join(namesakes)} porte le même nom et la même date de "
                  "naissance, mais un autre INS. Le document n'y a pas été rattaché : "
                  "vérifiez l'identité avant toute chose.", ""]
    lines += ["Pour créer le plan, recopiez les lignes ci-dessous dans un message dont l'objet "
              "est NOUVEAU PPS, complétez-les (le consentement de la personne, ses problèmes, "
              "les actions), puis envoyez-le :", "", *_prefill(doc), "",
              "L'expéditeur a reçu un accusé de traitement « patient inconnu » (erreur 902)."]
    return Answer(subject="Nouveau document pour une personne sans plan",
                  text=french("Bonjour,\n\n" + "\n".join(lines) + "\n"), to=tuple(recipients),
                  auto_submitted="auto-generated")


def not_attached_notice(code: int, *, sender: str, subject_day: date | None,
                        recipients: Sequence[str], ref: str | None = None,
                        detail: str = "") -> Answer:
    """The coordination told of a document that could not be attached:
    the sender, the reason and the ANS code only. ``ref``: the plan when the
    refusal concerns one (traits that differ from the plan's)."""
    reason = _REASONS.get(code, _REASONS[906])
    dated = f" le {format_date(subject_day)}" if subject_day else ""
    lines = [f"Un document envoyé par {sender}{dated} n'a pas pu être rattaché : {reason}."]
    if detail:
        lines.append(detail)
    lines += ["", f"L'expéditeur a reçu un accusé d'erreur (code {code}). Rien n'a été "
              "enregistré ; le message reste dans la boîte de l'équipe"
              + (" (dossier Quarantaine)." if code == 906 else "."),
              "Si ce document concerne une patiente ou un patient suivi par l'équipe, "
              "demandez à l'expéditeur de le renvoyer corrigé."]
    tag = f"[{ref}] " if ref else ""
    return Answer(subject=f"{tag}Échec du rattachement d'un document (erreur {code})",
                  text=french("Bonjour,\n\n" + "\n".join(lines) + "\n"), to=tuple(recipients),
                  auto_submitted="auto-generated")
