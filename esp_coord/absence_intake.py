"""A member's out-of-office reply: its dates become an absence; it is never answered.

(A member's automatic mail that carries a calendar part is not an absence but
a calendar answer sent by a server-side calendar: ``from_automatic`` hands it
to ``calendar_answers``, which records it, never answered either.)

Two ways in, both after the intake has recognised an automatic mail
(``intake.automatic``, which this module never changes):

- a strong sign (RFC 3834 ``Auto-Submitted``, a vendor's autoresponder
  header...): triage ignores the mail without reading its body; the
  processor calls ``from_automatic`` with the raw mail, which reads the body
  only when the sender is a roster member in a trusted domain (the same
  trust as for any member's mail: a stranger's or a bounce's body is still
  never read);
- a weak sign (the subject of an auto-reply, « Absence du 20/12 au 04/01 »,
  with no command, or such a subject in answer to one of the service's own
  mails): the dispatcher calls ``from_reply`` before leaving it unanswered.

The dates are read by ``absence_dates.read_period`` from the subject and
what the member wrote (``IncomingMail.body``: the quoted mail it answers is
left out, so a « jusqu'au » of ours is never taken for theirs). An absence
read so gives way to one the member declared, and lasts ``MAX_AUTO_DAYS``
at most (longer is more likely a misreading). A reply that says the same as
the absence already known changes nothing (no new version).
"""

from __future__ import annotations

import logging
from datetime import datetime

from esp_coord import absence_repo, calendar_answers
from esp_coord.absence_dates import read_period
from esp_coord.config import Config, domain_is_trusted
from esp_coord.intake import IncomingMail, read_body
from esp_coord.ports import UnitOfWork
from esp_coord.scheduling.times import local_day
from plans.absences import AUTO_REPLY, MAX_AUTO_DAYS, Absence

__all__ = ["from_automatic", "from_reply"]

log = logging.getLogger(__name__)


def from_automatic(tx: UnitOfWork, mail: IncomingMail, raw: bytes, config: Config,
                   now: datetime) -> bool:
    """An automatic mail (triage: ignored): if a member's, its absence. Returns
    whether an absence was recorded or changed."""
    member = config.member(mail.from_address)
    if member is None or not domain_is_trusted(mail.from_address, config.trusted_domains):
        return False
    read = read_body(raw, mail, max_attachment_bytes=config.limits.max_attachment_bytes)
    if calendar_answers.carries_calendar(read):
        return calendar_answers.record(tx, read, raw, member, config, now) \
            == calendar_answers.RECORDED
    return from_reply(tx, read, config, now)


def from_reply(tx: UnitOfWork, mail: IncomingMail, config: Config, now: datetime) -> bool:
    """A member's mail with its body read, known to be an out-of-office reply."""
    member = config.member(mail.from_address)
    if member is None:
        return False
    received = local_day(mail.date or now, config.timezone)
    period = read_period(mail.subject, mail.body, received=received)
    if period is None or (period.end - period.start).days >= MAX_AUTO_DAYS:
        return False
    today = local_day(now, config.timezone)
    absences, doc = absence_repo.load(tx)
    known = absences.on(member.email, max(period.start, today))
    if known is not None and (known.source != AUTO_REPLY or (
            known.start <= period.start and known.end == period.end)):
        return False  # declared by the member, or already known as it is
    absence = Absence(member.email, max(period.start, today), period.end, None, AUTO_REPLY, now)
    absences.declare(absence, today)
    absence_repo.save(tx, absences, doc, author=member.email, at=now,
                      message_id=mail.message_id,
                      summary="absence lue dans une réponse automatique")
    absence_repo.reconcile_all(tx, config, now)
    tx.audit(member.email, "absence-auto", None, mail.message_id,
             f"{member.email} du {absence.start.isoformat()} au {absence.end.isoformat()}", now)
    # Ids only: the dates are the member's, not the patients', but stay out of logs.
    log.info("mail %s: out-of-office reply of a member, absence recorded",
             mail.message_id or mail.dedup_key)
    return True
