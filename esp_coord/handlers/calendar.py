"""A member's calendar answer to an invitation (``esp_coord.calendar_answers``):
recorded, and never answered, whatever it holds.

The mail is left unanswered with its reason recorded: ``calendar-reply``
when the answer is on the meeting, ``calendar-unmatched`` when it could not
be recorded, which the coordinators' morning notice lists, as for every
member's mail left unanswered (``store.mail.SILENCED_REASONS``).
"""

from __future__ import annotations

from typing import NoReturn

from esp_coord import calendar_answers
from esp_coord.processing import Request, Unanswered

__all__ = ["record_calendar_reply"]


def record_calendar_reply(request: Request) -> NoReturn:
    """Record the answer in the mail (or why it cannot be), then leave the
    mail unanswered: raises ``Unanswered`` in every case."""
    raise Unanswered(calendar_answers.record(request.tx, request.mail, request.raw,
                                             request.sender, request.config, request.now))
