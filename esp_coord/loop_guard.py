"""Why a mail loop cannot form, even with a robot nobody recognises.

Robots that follow RFC 3834 or the de-facto headers are never answered
(``intake.automatic``). This module holds the structural guard for the others:
an auto-responder or a forward rule that sends no such header and turns our
answer back at us with a reply subject (``RE: [PPS-2026-0001] Statut`` is a
STATUT command again). It looks only at what the service itself recorded of
the sender's recent mails, so it needs no knowledge of the robot:

- an *echo* (a reply or forward that adds nothing of its own: every line
  quoted, or nothing at all) is answered once ("echo-answered"), not twice in
  a row in one thread ("echo");
- an answer budget: more than ``THREAD_BUDGET`` answers in one thread (one
  sender, one subject without its reply prefixes) or ``SENDER_BUDGET`` to one
  sender within ``WINDOW`` pause that thread or sender.

A mail left unanswered this way is recorded with its reason and reported in
the coordinators' daily notice (``scheduling.quarantine_notice``, the reasons
of ``store.mail.SILENCED_REASONS``): a member is never silenced without
someone being told. Only the first mail of a pause is
reported ("loop-paused"); the others of the same pause are "loop-held".
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import datetime, timedelta

from esp_coord.intake import IncomingMail
from esp_coord.store.records import RecentMail

__all__ = ["SENDER_BUDGET", "THREAD_BUDGET", "WINDOW", "hold_reason", "is_echo",
           "thread_key"]

WINDOW = timedelta(minutes=10)
# A person answering in one thread five times in ten minutes is rare; a loop
# does it in seconds. The sender budget catches loops that change the subject.
THREAD_BUDGET = 5
SENDER_BUDGET = 20
_HELD = frozenset({"loop-paused", "loop-held"})

# Reply and forward prefixes of the usual clients, in French and English,
# repeated or bracketed: "RE: TR: Fwd:", "Réf. :", "AW:", "[EXT] RE :".
_PREFIX = re.compile(
    r"(?:\s*(?:\[[^\]\s]{1,20}\]\s*)?"
    r"(?:re|r[ée]f|tr|fw|fwd|aw|wg|sv|vs|antw|réponse|transf[ée]r[ée]?)\s?(?:\[\d{1,4}\])?\s?:)+",
    re.I)


def base_subject(subject: str) -> str:
    """The subject without its reply and forward prefixes, spaces folded."""
    found = _PREFIX.match(subject)
    rest = subject[found.end():] if found else subject
    return " ".join(rest.split()).lower()


def thread_key(mail: IncomingMail) -> str:
    """One sender's conversation on one subject: what a loop keeps."""
    digest = hashlib.sha256(f"{mail.from_address}\0{base_subject(mail.subject)}".encode())
    return digest.hexdigest()[:32]


def is_echo(mail: IncomingMail) -> bool:
    """A reply or forward with nothing of the sender's own in it."""
    replying = bool(mail.in_reply_to) or bool(_PREFIX.match(mail.subject))
    return replying and not mail.body.strip()


def hold_reason(mail: IncomingMail, thread: str, recent: Sequence[RecentMail],
                now: datetime) -> str | None:
    """Why the mail must not be answered ("echo", "loop-paused",
    "loop-held"), or None. ``recent``: the sender's mails recorded within
    ``WINDOW`` before ``now``, any order."""
    since = now - WINDOW
    window = [r for r in recent if r.at >= since]
    in_thread = sorted((r for r in window if r.thread == thread), key=lambda r: r.at)
    answered = [r for r in in_thread if r.outcome == "answered"]
    sender_answered = sum(1 for r in window if r.outcome == "answered")
    if len(answered) >= THREAD_BUDGET or sender_answered >= SENDER_BUDGET:
        held = any(r.reason in _HELD for r in (in_thread if len(answered) >= THREAD_BUDGET
                                                 else window))
        return "loop-held" if held else "loop-paused"
    if is_echo(mail) and in_thread and in_thread[-1].reason == "echo-answered":
        return "echo"
    return None
