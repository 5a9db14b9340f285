"""Participants' answers to a meeting's invitation (iTIP REPLY), kept on the meeting.

A calendar client answers the invitation the service sent (``ACCEPTED``,
``DECLINED``, ``TENTATIVE``) for the whole meeting, or for one of its days
(``RECURRENCE-ID``). Each answer is a ``CalendarReply``; a meeting keeps the
latest per participant and per day (``None``: every day), and what counts for
a day is that participant's latest word, about that day or about the whole
series (``answer_on``): « j'accepte la série » then « je ne viens pas le
3 décembre » means absent on the 3rd and present on the other days.

An answer is an intention (« présence annoncée »), never a proof that the
person came: the minutes' « Présents : » line says who actually did.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from plans.errors import FieldError
from plans.normalize import fold
from plans.people import Person, parse_people

__all__ = ["ACCEPTED", "DECLINED", "DELEGATED", "STATUSES", "STATUS_LABELS", "TENTATIVE",
           "CalendarReply", "answer_on", "answers_on", "attendance_key", "named_present",
           "with_reply"]

ACCEPTED, DECLINED, TENTATIVE, DELEGATED = "accepted", "declined", "tentative", "delegated"
# RFC 5545 PARTSTAT of a VEVENT, as an answer (NEEDS-ACTION is no answer).
STATUSES = (ACCEPTED, DECLINED, TENTATIVE, DELEGATED)
# How the figures and answers name them.
STATUS_LABELS = {ACCEPTED: "acceptées", TENTATIVE: "provisoires", DECLINED: "refusées",
                 DELEGATED: "déléguées"}


@dataclass(frozen=True)
class CalendarReply:
    attendee: str  # lower-case address: the mail's sender, also the REPLY's ATTENDEE
    status: str  # one of STATUSES
    day: date | None  # the occurrence answered (RECURRENCE-ID), None: the whole meeting
    at: datetime  # when the service received it
    sequence: int = 0  # the invitation's SEQUENCE the answer names
    source_message_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"attendee": self.attendee, "status": self.status,
                "day": self.day.isoformat() if self.day else None, "at": self.at.isoformat(),
                "sequence": self.sequence, "source_message_id": self.source_message_id}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CalendarReply:
        return cls(d["attendee"], d["status"],
                   date.fromisoformat(d["day"]) if d.get("day") else None,
                   datetime.fromisoformat(d["at"]), int(d.get("sequence", 0)),
                   d.get("source_message_id"))


def with_reply(replies: Sequence[CalendarReply], reply: CalendarReply) -> list[CalendarReply]:
    """``replies`` with ``reply`` in place of the earlier answer of the same
    person about the same day (or the whole meeting): one per pair, so that a
    weekly meeting answered for years stays one entry per person and day."""
    kept = [r for r in replies if (r.attendee, r.day) != (reply.attendee, reply.day)]
    earlier = [r for r in replies if (r.attendee, r.day) == (reply.attendee, reply.day)]
    if any(r.at > reply.at for r in earlier):
        return list(replies)  # a later answer is already there (mails out of order)
    return [*kept, reply]


def answer_on(replies: Iterable[CalendarReply], attendee: str, day: date
              ) -> CalendarReply | None:
    """What ``attendee`` said last about ``day``: about that day or about the
    whole meeting, the latest received (the day's own answer at equal time,
    as a client sends the series and its exceptions in one mail)."""
    found = [r for r in replies if r.attendee == attendee and r.day in (None, day)]
    return max(found, key=lambda r: (r.at, r.day is not None), default=None)


def answers_on(replies: Sequence[CalendarReply], day: date) -> dict[str, str]:
    """Each participant who answered for ``day``: their status that day."""
    people = dict.fromkeys(r.attendee for r in replies if r.day in (None, day))
    found = {a: answer_on(replies, a, day) for a in people}
    return {a: r.status for a, r in found.items() if r is not None}


def attendance_key(key: str) -> str | None:
    """« Présents », « excusés », « Absent » -> "present", "excuse", "absent";
    None for any other key of a minutes' line."""
    folded = fold(key).strip().removesuffix("s")
    return folded if folded in ("present", "excuse", "absent") else None


def named_present(notes: Sequence[str], *, participants: Sequence[str],
                  roster: Sequence[Person]) -> tuple[list[Person], list[FieldError]] | None:
    """Who the minutes' « Présents : » line names, as people are named in any
    other line (« Dr DURAND, IDE MARIE, kiné BENALI », addresses, « tous »:
    every participant), and a problem for each name that designates nobody or
    several (not counted); None without such a line."""
    for note in notes:
        key, _, value = note.partition(":")
        if attendance_key(key) == "present":
            invited = set(participants)
            return parse_people(value, roster=roster,
                                team=[p for p in roster if p.email in invited])
    return None
