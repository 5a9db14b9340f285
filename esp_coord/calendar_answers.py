"""A member's calendar answer to a meeting's invitation: recorded, never answered.

When a participant clicks « Accepter », « Refuser » or « Provisoire » in
Outlook, Thunderbird, Apple Calendar or Gmail, the client mails an iTIP
REPLY to the invitation's organiser, the service. The participant expects
nothing back (their client already says « réponse envoyée »), and an answer
to a client's automatic mail could start a loop: the service records the
answer on the meeting (``plans.attendance``) and on the audit trail, and
sends nothing.

Only an answer it can trust is recorded: the UID is one of the team's
meetings, the ATTENDEE who answers is the mail's sender (a roster member),
for the meeting or for one of its days. Anything else (unreadable, a
counter-proposal, someone else's answer, an unknown meeting) is not lost
either: it is on the audit trail with its problem code
(``itip_reply.PROBLEMS``), and the caller has the mail reported
(``handlers.calendar``: the coordinators' morning notice).

Two ways in: a member's mail (``handlers``' dispatcher), and a member's mail
that carries an automatic sign, as a server-side calendar may send it
(``absence_intake.from_automatic``).
"""

from __future__ import annotations

from datetime import date, datetime

from esp_coord.config import Config, Member
from esp_coord.intake import CALENDAR_TYPES, IncomingMail, calendar_part
from esp_coord.itip_reply import (
    AUDIT_RECORDED,
    AUDIT_REFUSED,
    MAX_CALENDAR_BYTES,
    ItipReply,
    meeting_ref_of_uid,
    read_reply,
)
from esp_coord.meeting_repo import MeetingRepository
from esp_coord.ports import UnitOfWork
from plans.attendance import CalendarReply

__all__ = ["RECORDED", "UNMATCHED", "answer_detail", "carries_calendar", "record"]

# The reasons recorded with the mail (``processed_mail.reason``).
RECORDED, UNMATCHED = "calendar-reply", "calendar-unmatched"


def carries_calendar(mail: IncomingMail) -> bool:
    """The mail (its body read) has a calendar part."""
    return any(a.content_type.lower() in CALENDAR_TYPES for a in mail.attachments)


def answer_detail(status: str, day: date | None) -> str:
    """« accepted 2026-12-03 », « declined all » (the whole meeting): the
    detail of an answer's audit record, which ``report.verify`` reads back."""
    return f"{status} {day.isoformat() if day is not None else 'all'}"


def record(tx: UnitOfWork, mail: IncomingMail, raw: bytes, member: Member, config: Config,
           now: datetime) -> str:
    """Record the answer in the mail, or why it cannot be: returns ``RECORDED``
    or ``UNMATCHED``."""
    found = calendar_part(raw, max_bytes=MAX_CALENDAR_BYTES)
    reply: ItipReply | str = "unreadable" if found is None else read_reply(
        found[0], found[1], sender=member.email, tz=config.timezone)
    problem = reply if isinstance(reply, str) else _keep(tx, reply, mail, member, config, now)
    if problem is None:
        return RECORDED
    tx.audit(member.email, AUDIT_REFUSED, None, mail.message_id, problem, now)
    return UNMATCHED


def _keep(tx: UnitOfWork, reply: ItipReply, mail: IncomingMail, member: Member,
          config: Config, now: datetime) -> str | None:
    """Keep the answer on its meeting: None when kept, else the problem."""
    ref = meeting_ref_of_uid(reply.uid, config.message_id_domain)
    meetings = MeetingRepository(tx, author=member.email, message_id=mail.message_id, at=now)
    loaded = meetings.get(ref) if ref is not None else None
    if loaded is None:
        return "unknown-meeting"
    meeting, _ = loaded
    kept = [a for a in reply.answers if a.day is None or meeting.is_scheduled(a.day)]
    if not kept:
        return "unknown-day"
    for answer in kept:
        meeting.record_reply(CalendarReply(member.email, answer.status, answer.day, now,
                                           reply.sequence, mail.message_id))
    meetings.save(meeting, summary="réponse à l'invitation")
    # Audited last (lock order, see store/audit.py), one record per answer:
    # the report's figures are recounted from them alone (``report.verify``).
    for answer in kept:
        tx.audit(member.email, AUDIT_RECORDED, meeting.ref, mail.message_id,
                 answer_detail(answer.status, answer.day), now)
    return None
