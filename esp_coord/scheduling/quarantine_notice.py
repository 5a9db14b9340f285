"""The coordinators' daily notice of quarantined mail, and of members' mail left unanswered.

A mail the service leaves aside (sender not on the roster, untrusted domain,
forged copy of our own answers, no sender, handler failure) gets no answer
and goes to the quarantine folder. So that a new colleague not yet on the
roster is not ignored for weeks, each coordinator receives, at the team's
reminder hour, one mail listing the mails quarantined since the last notice:
when, from which address, why, and what to do. Never the subject nor the
body: they may hold patient data and their sender is not trusted.

The same notice lists the team members' mails the service chose not to
answer (``store.mail.SILENCED_REASONS``: a probable auto-responder or mail
loop, see ``loop_guard``): a member is never silenced without someone being
told.

Rows are made on demand: ``schedule`` runs in the transaction that records a
quarantined mail and adds, for each coordinator, the row of the next notice
(one key per coordinator and reminder-hour instant, so a second mail adds
nothing). No quarantined mail, no row, no mail. ``ensure_scheduled`` (engine
start) covers mails left unreported (recorded before this feature, or while
the team had no coordinator).

Exactly once per mail: the first notice composed for a reminder-hour instant
claims every unreported quarantined mail recorded before that instant minus
``SETTLE`` (``claim_quarantined``, in the same transaction as the enqueued
mail and the row's marking; a crash before the commit undoes all three), and
every coordinator's notice of that instant lists the mails claimed for it.
``SETTLE`` is longer than any mail transaction lasts (a batch commits within
a second): a mail stamped just before the hour but committed after the
notice was composed is neither missed nor lost, since a mail recorded within
``SETTLE`` of the hour is scheduled for, and claimed by, the next day's notice.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from esp_coord.answers import Answer
from esp_coord.config import Config
from esp_coord.ports import UnitOfWork
from esp_coord.scheduling.registry import Registered
from esp_coord.scheduling.times import local_day, local_instant
from esp_coord.store.mail import QuarantinedMail
from esp_coord.store.reminders import Reminder, ReminderSpec
from plans.dates import format_date, format_time
from plans.typography import french

__all__ = ["KIND", "SETTLE", "SOURCE", "ensure_scheduled", "notice_instant", "schedule"]

KIND = "quarantine_notice"
SOURCE = "quarantine"
SETTLE = timedelta(minutes=5)
_LISTED_MAX = 100  # a first notice after months may have many; the folder has them all

REASONS = {
    "not-on-roster": "expéditeur absent de l'annuaire de l'équipe",
    "untrusted-domain": "adresse de l'annuaire, mais domaine non reconnu "
                        "(absent des domaines de confiance)",
    "forged-copy": "message se présentant comme une copie d'une réponse du service, "
                   "sans en porter la preuve (probable usurpation)",
    "no-sender": "adresse d'expéditeur absente ou illisible",
}
SILENCED = {
    "auto-subject": "son objet ressemble à celui d'une réponse automatique (absence, accusé "
                    "de réception…) et il ne contient aucune commande : sans doute un "
                    "répondeur, auquel le service ne répond pas",
    "echo": "il ne fait que renvoyer une réponse du service, sans rien y ajouter, pour la "
            "deuxième fois de suite : sans doute un répondeur ou une règle de transfert",
    "loop-paused": "le service lui a déjà beaucoup répondu en quelques minutes (probable "
                   "boucle avec un répondeur ou une règle de transfert) : ses réponses à ce "
                   "membre sont suspendues une dizaine de minutes",
    "calendar-unmatched": "c'est une réponse d'agenda à une invitation, mais elle n'a pas pu "
                          "être enregistrée (illisible, proposition d'un autre horaire, réunion "
                          "inconnue ou réponse au nom d'une autre adresse) : demandez à la "
                          "personne si elle vient",
}
_FAILED = "le service n'a pas pu traiter ce message (erreur interne)"
_UNKNOWN = "motif non enregistré (message reçu avant la mise à jour du service)"


def notice_instant(now: datetime, config: Config) -> datetime:
    """The latest reminder-hour instant at or before ``now``: the cut-off of
    the notices sent now, the same for every coordinator."""
    day = local_day(now, config.timezone)
    at = local_instant(day, config.reminders.hour, config.timezone)
    if at > now:
        at = local_instant(day - timedelta(days=1), config.reminders.hour, config.timezone)
    return at


def _next_instant(after: datetime, config: Config) -> datetime:
    day = local_day(after, config.timezone)
    while (at := local_instant(day, config.reminders.hour, config.timezone)) <= after:
        day += timedelta(days=1)
    return at


def _specs(due_at: datetime, config: Config) -> list[ReminderSpec]:
    stamp = due_at.astimezone(config.timezone).strftime("%Y%m%dT%H%M")
    specs = []
    for member in config.members:
        if not member.is_coordinator:
            continue
        address = member.email.strip().lower()
        key = f"{SOURCE}:{stamp}:{address}:{KIND}"
        if len(key) > 255:
            key = f"{SOURCE}:{stamp}:#{hashlib.sha256(address.encode()).hexdigest()}:{KIND}"
        specs.append(ReminderSpec(key=key, kind=KIND, source_ref=SOURCE, recipient=address,
                                  due_at=due_at))
    return specs


def schedule(tx: UnitOfWork, config: Config, now: datetime) -> None:
    """A mail is being quarantined at ``now``: make sure the notice that will
    report it is planned (idempotent: existing rows are left as they are)."""
    tx.add_reminders(_specs(_next_instant(now + SETTLE, config), config), now)


def ensure_scheduled(tx: UnitOfWork, config: Config, now: datetime) -> None:
    """Unreported quarantined mails and a coordinator with no pending notice:
    plan one at the next reminder hour."""
    if not tx.unreported_quarantine():
        return
    planned = {row.recipient for row in tx.reminders_of(SOURCE, status="pending")}
    missing = [spec for spec in _specs(_next_instant(now, config), config)
               if spec.recipient not in planned]
    tx.add_reminders(missing, now)


def compose_notice(tx: UnitOfWork, reminder: Reminder, now: datetime,
                         config: Config) -> list[Answer]:
    member = config.member(reminder.recipient)
    if member is None or not member.is_coordinator:
        return []
    cutoff = notice_instant(now, config)
    tx.claim_quarantined(before=cutoff - SETTLE, notice_at=cutoff)
    mails = tx.quarantined_in_notice(cutoff)
    if not mails:
        return []
    return [notice_answer(config, member.name, reminder.recipient, mails)]


def _reason(mail: QuarantinedMail) -> str:
    if mail.outcome == "failed":
        return _FAILED
    if mail.outcome == "ignored":
        return SILENCED.get(mail.reason or "", _UNKNOWN)
    return REASONS.get(mail.reason or "", _UNKNOWN)


def _address(sender: str) -> str:
    # The address as received, but on one line: its sender is not trusted.
    shown = "".join(c for c in sender if c.isprintable() and not c.isspace())[:254]
    return shown or "(aucune adresse)"


def _listed(config: Config, mails: list[QuarantinedMail]) -> list[str]:
    lines = []
    for number, mail in enumerate(mails[:_LISTED_MAX], 1):
        local = mail.at.astimezone(config.timezone)
        lines += [f"{number}. Le {format_date(local.date())} à {format_time(local.time())}, "
                  f"de {_address(mail.sender)}",
                  f"   Motif : {_reason(mail)}."]
    rest = len(mails) - _LISTED_MAX
    if rest > 0:
        plural = "s" if rest > 1 else ""
        lines.append(f"… et {rest} autre{plural} message{plural}.")
    return lines


def notice_answer(config: Config, name: str, recipient: str,
                  mails: list[QuarantinedMail]) -> Answer:
    quarantined = [m for m in mails if m.outcome != "ignored"]
    silenced = [m for m in mails if m.outcome == "ignored"]
    lines = [f"Bonjour {name},", ""]
    if quarantined:
        lines += _quarantined_part(config, quarantined)
    if silenced:
        lines += _silenced_part(config, silenced)
    lines += ["Par prudence, cet avis ne reprend ni l'objet ni le contenu des messages : "
              "ils peuvent contenir des données de patients et leur expéditeur n'est pas "
              "toujours vérifié."]
    if quarantined:
        subject = f"Messages en quarantaine : {len(quarantined)} depuis le dernier avis"
        if silenced:
            subject += f", et {len(silenced)} sans réponse"
    else:
        subject = f"Messages de l'équipe restés sans réponse : {len(silenced)}"
    return Answer(subject=french(subject), text=french("\n".join(lines) + "\n"),
                  to=(recipient,), message_id_tag="quarantaine",
                  auto_submitted="auto-generated")


def _quarantined_part(config: Config, mails: list[QuarantinedMail]) -> list[str]:
    n = len(mails)
    plural = "s" if n > 1 else ""
    return [f"{n} message{plural} reçu{plural} par le service {'ont' if n > 1 else 'a'} "
            f"été mis en quarantaine depuis le dernier avis, sans réponse à l'expéditeur :",
            "", *_listed(config, mails), "",
            "Que faire :",
            "- si l'expéditeur fait partie de l'équipe (par exemple une nouvelle ou un "
            "nouveau collègue), ajoutez son adresse à l'annuaire de l'équipe dans la "
            "configuration du service ([[team.members]]) et redémarrez le service, puis "
            "demandez-lui de renvoyer son message : celui-ci n'a pas été traité ;",
            "- si le domaine n'est pas reconnu, vérifiez l'adresse ; un domaine de "
            "messagerie sécurisée de santé s'ajoute aux domaines de confiance "
            "(trusted_domains) de la configuration ;",
            "- un message inconnu ou suspect n'appelle aucune réponse ; n'ouvrez pas ses "
            "pièces jointes ;",
            "- une erreur interne est à signaler à la personne qui administre le service.",
            "",
            f"Les messages sont conservés dans le dossier « {config.folders.quarantine} » de "
            "la boîte du service.", ""]


def _silenced_part(config: Config, mails: list[QuarantinedMail]) -> list[str]:
    n = len(mails)
    plural = "s" if n > 1 else ""
    return [f"{n} message{plural} de membres de l'équipe {'sont' if n > 1 else 'est'} "
            f"resté{plural} sans réponse, pour ne pas entretenir une boucle de messages "
            "automatiques :",
            "", *_listed(config, mails), "",
            "Que faire : vérifiez avec la personne concernée son répondeur d'absence ou ses "
            "règles de transfert. Si le message était bien écrit par elle, elle peut le "
            "renvoyer avec sa commande (par exemple STATUT PPS-2026-0001) dans le texte.",
            "",
            f"Ces messages sont conservés dans le dossier « {config.folders.processed} » de "
            "la boîte du service.", ""]


KINDS = {KIND: Registered(compose_notice, rebuild=ensure_scheduled)}
