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
MDN (``acknowledge``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from esp_coord.answers import Answer
from esp_coord.xdm import XdmDocument
from plans.dates import format_date
from plans.identity import format_ins
from plans.model import Plan
from plans.people import profession_name
from plans.protocols import ProtocolDef
from plans.typography import french

__all__ = ["attached_notice", "describe", "not_attached_notice", "pending_notice",
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


def describe(doc: XdmDocument, sender: str) -> list[str]:
    """The lines that say what arrived and from whom (no patient data)."""
    what = doc.title or "Document"
    code = doc.type_code
    if code is not None and code.display and code.display != what:
        what = f"{what} ({code.display})"
    lines = [f"  {what}"]
    origin = ", ".join(p for p in (doc.author, doc.institution) if p)
    dated = f"du {format_date(doc.day)}" if doc.day else "non daté"
    lines.append(f"  {dated}" + (f", de {origin}" if origin else ""))
    lines.append(f"  envoyé par {sender}")
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


def attached_notice(doc: XdmDocument, *, plan: Plan, number: int, sender: str,
                    recipients: Sequence[str], protocol: ProtocolDef | None) -> Answer:
    lines = [f"Un document est arrivé pour {plan.patient.display_name} (plan {plan.ref}) :",
             *describe(doc, sender), "",
             f"Il est enregistré comme document n° {number} du plan.", ""]
    if doc.is_discharge and protocol is not None:
        lines += _protocol_lines(protocol, plan)
    lines += [f"Pour le recevoir, répondez à ce message en écrivant : DOCUMENT {number}",
              f"STATUT {plan.ref} liste les documents du plan."]
    return Answer(subject=f"[{plan.ref}] Document reçu : {doc.title or 'document'}"[:200],
                  text=french("Bonjour,\n\n" + "\n".join(lines) + "\n"), to=tuple(recipients),
                  message_id_tag=f"{plan.ref}.doc.{number}.{doc.cda.version or 1}",
                  stable_id=True, auto_submitted="auto-generated")


def replaced_notice(doc: XdmDocument, *, plan: Plan, number: int, sender: str,
                    recipients: Sequence[str]) -> Answer:
    lines = [f"Une nouvelle version du document n° {number} du plan {plan.ref} "
             f"({plan.patient.display_name}) est arrivée ; elle remplace la précédente :",
             *describe(doc, sender), "",
             f"Pour la recevoir, répondez à ce message en écrivant : DOCUMENT {number}"]
    return Answer(subject=f"[{plan.ref}] Document remplacé : {doc.title or 'document'}"[:200],
                  text=french("Bonjour,\n\n" + "\n".join(lines) + "\n"), to=tuple(recipients),
                  message_id_tag=f"{plan.ref}.doc.{number}.{doc.cda.version or 0}",
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
             "actif dans l'équipe :", *describe(doc, sender), "",
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
    return Answer(subject="Document reçu pour une personne sans plan",
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
    return Answer(subject=f"{tag}Document non rattaché (erreur {code})",
                  text=french("Bonjour,\n\n" + "\n".join(lines) + "\n"), to=tuple(recipients),
                  auto_submitted="auto-generated")
