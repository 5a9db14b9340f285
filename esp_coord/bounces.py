"""Bounces of the service's own mails: a delivery report (DSN, RFC 3464) about
an answer, an MDN, a reminder or a notice is recorded on its outbox row, and
the coordination is told once per failing address.

A DSN is an automatic mail: it is never answered (``intake/automatic.py``) and
the processor hands it here (``record_report``) inside the mail's
transaction, so a report processed again changes nothing. It is trusted only
as far as the outbox vouches for it: an id of the report must be the
Message-ID of a mail the service sent (``Outbox.record_bounce`` looks it up),
and the failed recipient one of that mail's recipients. A report about
anything else, or a forged one naming other addresses, records nothing and
stays an ignored automatic mail, as before.

The coordination is told when the address's record says so
(``Bounce.notify``: its first bounce, or the last notice about it is older
than ``RENOTIFY_AFTER``): one notice per failing address, whatever the number
of answers that bounce meanwhile, across restarts (the record is in the
store). The notice names the address (and the member), the status with its
meaning (RFC 3463) and what the server said, cut to ``MAX_DIAGNOSTIC``
printable characters with every word of the bounced mail's subject taken
out; it never quotes the bounced mail's subject or body, which hold patient
data (plan subjects name the patient). The full diagnostic stays on the
outbox row, encrypted.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from datetime import datetime, timedelta

from esp_coord.answers import Answer
from esp_coord.config import Config
from esp_coord.intake import parse_head
from esp_coord.intake.dsn import DeliveryReport, FailedRecipient
from esp_coord.ports import UnitOfWork
from esp_coord.roster import coordination
from esp_coord.store.records import Bounce
from plans.typography import french

__all__ = ["RENOTIFY_AFTER", "bounce_notice", "record_report", "redacted"]

log = logging.getLogger(__name__)

# An address still failing a month after its notice is worth another one.
RENOTIFY_AFTER = timedelta(days=30)
_WORD = re.compile(r"[^\W_]{3,}")
# RFC 3463: the subject (second digit) of the status, and a few details.
_SUBJECTS = {
    "1": "problème d'adresse",
    "2": "problème de boîte aux lettres",
    "3": "problème du serveur de messagerie",
    "4": "problème de réseau ou d'acheminement",
    "5": "problème de protocole",
    "6": "problème de contenu du message",
    "7": "refus par la politique de sécurité du serveur",
}
_DETAILS = {
    "1.1": "adresse inconnue : la boîte n'existe pas",
    "1.2": "domaine du destinataire inconnu",
    "1.6": "la boîte a changé d'adresse",
    "1.10": "adresse inconnue",
    "2.1": "boîte désactivée",
    "2.2": "boîte pleine",
    "2.3": "message trop volumineux pour la boîte",
    "3.4": "message trop volumineux pour le serveur",
    "4.7": "délai de remise dépassé",
}


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in text if not unicodedata.combining(c))


def redacted(diagnostic: str, subject: str) -> str:
    """``diagnostic`` without any word (three letters or more) of ``subject``:
    a server that quotes the bounced mail's subject must not carry its
    patient's name into a notice."""
    words = {_fold(w) for w in _WORD.findall(subject)}
    if not words:
        return diagnostic
    return _WORD.sub(lambda m: "…" if _fold(m.group()) in words else m.group(), diagnostic)


def status_meaning(status: str) -> str:
    """What an RFC 3463 status says, in French."""
    klass, _, rest = status.partition(".")
    detail = _DETAILS.get(rest)
    subject = _SUBJECTS.get(rest.partition(".")[0], "raison non précisée")
    reason = detail or subject
    return reason + (", échec temporaire devenu définitif" if klass == "4" else "")


def bounce_notice(config: Config, bounce: Bounce, failed: FailedRecipient,
                  subject: str) -> Answer:
    """The coordination's notice of a failing address (``subject``: the
    bounced mail's, only to take its words out of the server's text)."""
    member = config.member(bounce.recipient)
    who = f"{member.name} ({bounce.recipient})" if member else bounce.recipient
    diagnostic = redacted(failed.diagnostic, subject)
    said = f"\nRéponse du serveur : « {diagnostic} »\n" if diagnostic else ""
    days = RENOTIFY_AFTER.days
    text = french(
        "Bonjour,\n\n"
        f"Un message du service n'a pas pu être remis à {who} : le serveur de "
        f"messagerie a répondu {bounce.status} ({status_meaning(bounce.status)}).\n"
        f"{said}\n"
        "Tant que cette adresse échoue, elle ne reçoit ni les réponses ni les rappels du "
        "service. Vérifiez-la auprès de la personne ou dans l'Annuaire santé et, s'il le "
        "faut, corrigez-la dans la configuration de l'équipe.\n\n"
        f"Le service ne vous préviendra plus pour cette adresse pendant {days} jours, même "
        "si d'autres messages ne lui parviennent pas.\n")
    recipients = tuple(a for a in coordination(config) if a != bounce.recipient)
    return Answer(subject=f"Adresse en échec : {bounce.recipient}", text=text,
                  to=recipients or (config.bot_address,), message_id_tag="bounce",
                  auto_submitted="auto-generated")


def _ours(report: DeliveryReport, config: Config) -> list[str]:
    domain = "@" + config.message_id_domain.lower() + ">"
    return [i for i in report.message_ids if i.lower().endswith(domain)]


def _record(tx: UnitOfWork, ids: list[str], failed: FailedRecipient, now: datetime
            ) -> Bounce | None:
    for message_id in ids:
        for address in failed.addresses:
            bounce = tx.record_bounce(message_id=message_id, recipient=address,
                                      status=failed.status, diagnostic=failed.diagnostic,
                                      at=now, renotify_after=RENOTIFY_AFTER)
            if bounce is not None:
                return bounce
    return None


def record_report(tx: UnitOfWork, report: DeliveryReport | None, *, config: Config,
                  now: datetime) -> tuple[int, list[Answer]]:
    """Record what ``report`` says of our mails: (how many bounces were
    recorded, the notices to queue for the coordination)."""
    if report is None:
        return 0, []
    ids = _ours(report, config)
    if not ids:
        return 0, []
    recorded = 0
    notices: list[Answer] = []
    for failed in report.failed:
        bounce = _record(tx, ids, failed, now)
        if bounce is None:
            continue
        recorded += 1
        log.warning("outbox %s: bounced for %s (%s)", bounce.message_id, bounce.recipient,
                    bounce.status)
        if bounce.notify:
            item = tx.outbox_item(bounce.item_id)
            subject = parse_head(item.raw).subject if item is not None else ""
            notices.append(bounce_notice(config, bounce, failed, subject))
    return recorded, notices
