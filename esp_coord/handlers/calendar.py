"""A member's calendar answer to a meeting's invitation: recorded, never answered.

When a participant clicks « Accepter », « Refuser » or « Provisoire » in
Outlook, Thunderbird, Apple Calendar or Gmail, the client mails an iTIP
REPLY to the invitation's organiser, the service. The participant expects
nothing back (their client already says « réponse envoyée »), and an answer
to a client's automatic mail could start a loop: the service records the
answer on the meeting (``plans.attendance``) and on the audit trail, and
sends nothing.

Only an answer it can trust is recorded: the UID is one of the team's
meetings, the ATTENDEE who answers is the mail's sender (a roster member:
the processor only hands over members' mails), for the meeting or for one of
its days. Anything else (unreadable, a counter-proposal, someone else's
answer, an unknown meeting) is not lost either: it is on the audit trail with
its reason, and the coordinators' morning notice lists it
(``calendar-unmatched``), as for every member's mail left unanswered.
"""

from __future__ import annotations

from datetime import date
from typing import NoReturn

from esp_coord.intake import calendar_part
from esp_coord.itip_reply import (
    AUDIT_RECORDED,
    AUDIT_REFUSED,
    MAX_CALENDAR_BYTES,
    ItipReply,
    meeting_ref_of_uid,
    read_reply,
)
from esp_coord.meeting_repo import MeetingRepository
from esp_coord.processing import Request, Unanswered
from plans.attendance import CalendarReply

__all__ = ["RECORDED", "UNMATCHED", "answer_detail", "record_calendar_reply"]

# The reasons recorded with the mail (``processed_mail.reason``).
RECORDED, UNMATCHED = "calendar-reply", "calendar-unmatched"


def answer_detail(status: str, day: date | None) -> str:
    """« accepted 2026-12-03 », « declined all » (the whole meeting): the
    detail of an answer's audit record."""
    return f"{status} {day.isoformat() if day is not None else 'all'}"


def _refused(request: Request, problem: str) -> NoReturn:
    request.tx.audit(request.sender.email, AUDIT_REFUSED, None, request.mail.message_id,
                     problem, request.now)
    raise Unanswered(UNMATCHED)


def record_calendar_reply(request: Request) -> NoReturn:
    """Record the answer in the mail (or why it cannot be), then leave the
    mail unanswered: raises ``Unanswered`` in every case."""
    found = calendar_part(request.raw, max_bytes=MAX_CALENDAR_BYTES)
    reply: ItipReply | str = "unreadable" if found is None else read_reply(
        found[0], found[1], sender=request.sender.email, tz=request.config.timezone)
    if isinstance(reply, str):
        _refused(request, reply)
    ref = meeting_ref_of_uid(reply.uid, request.config.message_id_domain)
    meetings = MeetingRepository.of(request)
    loaded = meetings.get(ref) if ref is not None else None
    if loaded is None:
        _refused(request, "unknown-meeting")
    meeting, _ = loaded
    recorded = [a for a in reply.answers if a.day is None or meeting.is_scheduled(a.day)]
    if not recorded:
        _refused(request, "unknown-day")
    for answer in recorded:
        meeting.record_reply(CalendarReply(request.sender.email, answer.status, answer.day,
                                           request.now, reply.sequence,
                                           request.mail.message_id))
    meetings.save(meeting, summary="réponse à l'invitation")
    # Audited last (lock order, see store/audit.py), one record per answer so
    # that the report's figures can be recounted from the trail alone.
    for answer in recorded:
        request.tx.audit(request.sender.email, AUDIT_RECORDED, meeting.ref,
                         request.mail.message_id, answer_detail(answer.status, answer.day),
                         request.now)
    raise Unanswered(RECORDED)
