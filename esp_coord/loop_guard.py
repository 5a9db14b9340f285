"""Why a mail loop cannot form, even with a robot nobody recognises.

Robots that follow RFC 3834 or the de-facto headers are never answered
(``intake.automatic``). This module holds the structural guard for the others:
an auto-responder or a forward rule that sends no such header and turns our
answer back at us with a reply subject (``RE: [PPS-2026-0001] Statut`` is a
STATUT command again). It looks only at what the service itself recorded of
the sender's recent mails, so it needs no knowledge of the robot. What a
robot does, and a person does not, is say the same thing again and again: the
*repeat* of a mail is its sender, its subject without reply prefixes and the
text of its own (``thread_key``), and

- an *echo* (a reply or forward that adds nothing of its own: every line
  quoted, or nothing at all) is answered once ("echo-answered"), not twice in
  a row ("echo");
- more than ``REPEAT_BUDGET`` answers to the same repeat, or
  ``SENDER_BUDGET`` answers to one sender's replies, within ``WINDOW`` pause
  the answers ("loop-paused" for the first mail of the pause, "loop-held"
  after).

Only replies and forwards (``is_reply``: threaded, or a reply or forward
prefix in the subject) are counted and paused: a loop is made of answers to
our answers, while a backlog of fresh mails, however many, is not one.

A person replying five times in a thread with five different FAIT lines
repeats nothing and is answered each time. The first mail of a pause gets a
short notice saying so (one per pause: its echo is held), and every mail left
unanswered is recorded with its reason and reported in the coordinators'
daily notice (``scheduling.quarantine_notice``, the reasons of
``store.mail.SILENCED_REASONS``): a member is never silenced without someone
being told.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import datetime, timedelta

from esp_coord.intake import IncomingMail
from esp_coord.store.records import RecentMail

__all__ = ["REPEAT_BUDGET", "SENDER_BUDGET", "WINDOW", "answered_reason", "hold_reason",
           "is_echo", "is_reply", "thread_key"]

WINDOW = timedelta(minutes=10)
# A person sending the same reply five times in ten minutes is retrying; a
# loop does it in seconds. The sender budget is the last resort against
# robots whose text varies (a time in it): a hundred answers to one person's
# replies in ten minutes, one every six seconds, is more than a backlog of a
# day holds.
REPEAT_BUDGET = 5
SENDER_BUDGET = 100
_HELD = frozenset({"loop-paused", "loop-held"})
_REPLY_REASONS = frozenset({"reply", "echo-answered"})

# Reply and forward prefixes of the usual clients, in French and English,
# repeated or bracketed: "RE: TR: Fwd:", "Réf. :", "AW:", "[EXT] RE :".
_PREFIX = re.compile(
    r"(?:\s*(?:\[[^\]\s]{1,20}\]\s*)?"
    r"(?:re|r[ée]f\.?|tr|fw|fwd|aw|wg|sv|vs|antw|réponse|transf[ée]r[ée]?)\s?(?:\[\d{1,4}\])?\s?:)+",
    re.I)
_SPACES = re.compile(r"\s+")


def base_subject(subject: str) -> str:
    """The subject without its reply and forward prefixes, spaces folded."""
    found = _PREFIX.match(subject)
    rest = subject[found.end():] if found else subject
    return " ".join(rest.split()).lower()


def thread_key(mail: IncomingMail) -> str:
    """The same sender saying the same thing on the same subject: what a loop repeats."""
    text = _SPACES.sub(" ", mail.body).strip()
    digest = hashlib.sha256(
        f"{mail.from_address}\0{base_subject(mail.subject)}\0{text}".encode(
            "utf-8", "surrogateescape"))
    return digest.hexdigest()[:32]


def is_reply(mail: IncomingMail) -> bool:
    """Threaded under another mail, or a reply or forward by its subject."""
    return bool(mail.in_reply_to or mail.references or _PREFIX.match(mail.subject))


def is_echo(mail: IncomingMail) -> bool:
    """A reply or forward with nothing of the sender's own in it."""
    return is_reply(mail) and not mail.body.strip()


def answered_reason(mail: IncomingMail) -> str | None:
    """What to record with the answer to a member's mail, for the guard to count."""
    if is_echo(mail):
        return "echo-answered"
    return "reply" if is_reply(mail) else None


def hold_reason(mail: IncomingMail, thread: str, recent: Sequence[RecentMail],
                now: datetime) -> str | None:
    """Why the mail must not be answered ("echo", "loop-paused",
    "loop-held"), or None. ``recent``: the sender's mails recorded within
    ``WINDOW`` before ``now``, any order."""
    if not is_reply(mail):
        return None
    since = now - WINDOW
    window = [r for r in recent if r.at >= since]
    in_thread = sorted((r for r in window if r.thread == thread), key=lambda r: r.at)
    answered = [r for r in in_thread if r.outcome == "answered"]
    sender_answered = sum(1 for r in window
                          if r.outcome == "answered" and r.reason in _REPLY_REASONS)
    if len(answered) >= REPEAT_BUDGET or sender_answered >= SENDER_BUDGET:
        held = any(r.reason in _HELD for r in (in_thread if len(answered) >= REPEAT_BUDGET
                                                 else window))
        return "loop-held" if held else "loop-paused"
    if is_echo(mail) and in_thread and in_thread[-1].reason == "echo-answered":
        return "echo"
    return None
