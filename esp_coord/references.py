"""What a mail refers to: its plan, its meeting, the service's own mail it
answers, the plans an ``RCP`` puts on an agenda. Pure: no database.

The handlers, their ``esp-coord parse`` steps (``handlers.parse_steps``) and
``esp_coord.interpret`` all read a mail through these functions, so that
``parse`` and the service never disagree on what a mail is about.

The service's acknowledgements carry Message-IDs that start with the plan's
or the meeting's reference (``<PPS-2026-0001.ack.1@domain>``,
``<RCP-2026-001.ack@domain>``): a reply to one of them finds its plan or
meeting from In-Reply-To or References alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from esp_coord.config import Config
from esp_coord.intake import CALENDAR_TYPES, IncomingMail
from plans.commands import Detected
from plans.drafts import LineError, LineWarning
from plans.meeting_grammar import parse_plan_refs

__all__ = ["AgendaLines", "agenda_lines", "answers_service", "calendar_reply", "plan_ref_of",
           "referenced_meeting"]

_OWN_PLAN = re.compile(r"^<(PPS-\d{4}-\d{4})\.[^@>]*@(.+)>$")
_OWN_MEETING = re.compile(r"^<(RCP-\d{4}-\d{3})\.[^@>]*@(.+)>$")


def _own_ref(mail: IncomingMail, config: Config, pattern: re.Pattern[str]) -> str | None:
    """The reference in the Message-ID of the service's own mail that ``mail``
    answers, nearest first (In-Reply-To, then References from the last)."""
    domain = config.message_id_domain
    for mid in (*mail.in_reply_to, *reversed(mail.references)):
        m = pattern.match(mid)
        if m and m.group(2).lower() == domain:
            return m.group(1)
    return None


def plan_ref_of(mail: IncomingMail, config: Config, detected: Detected) -> str | None:
    """The plan a mail is about: written reference, then the service's own mail
    it answers, then the subject tag."""
    if detected.ref and detected.ref.startswith("PPS-"):
        return detected.ref
    return _own_ref(mail, config, _OWN_PLAN) or detected.subject_tag_ref


def referenced_meeting(mail: IncomingMail, config: Config, detected: Detected) -> str | None:
    """The meeting a mail is about: written reference, else the service's own
    mail about a meeting that it answers (their Message-IDs start with the ref)."""
    if detected.ref and detected.ref.startswith("RCP-"):
        return detected.ref
    return _own_ref(mail, config, _OWN_MEETING)


def answers_service(mail: IncomingMail, config: Config) -> bool:
    """Whether the mail replies to one of the service's own mails: its subject
    is then the service's, and a command in its body wins (``detect_command``)."""
    domain = "@" + config.message_id_domain + ">"
    return any(mid.lower().endswith(domain) for mid in (*mail.in_reply_to, *mail.references))


def calendar_reply(mail: IncomingMail, detected: Detected) -> bool:
    """A calendar client's answer to an invitation (accepted, declined): not a
    command, never answered (that would start a mail loop with the client);
    recorded by ``esp_coord.calendar_answers``."""
    return detected.name is None and any(
        a.content_type.lower() in CALENDAR_TYPES for a in mail.attachments)


@dataclass(frozen=True)
class AgendaLines:
    """The plans an ``RCP RCP-…`` mail puts on the meeting's agenda, as written."""

    line: int | None  # the first written line
    text: str  # the lines joined, without their « Patients : » keys
    refs: list[str]
    rest: list[str]  # words that are not plan references

    def missing(self) -> LineError | None:
        if self.refs:
            return None
        return LineError(self.line, self.text, "aucune référence de plan n'est donnée",
                         "une ligne « Patients : » suivie de références de plans",
                         "Patients : PPS-2026-0001", "patients")

    def ignored(self) -> LineWarning | None:
        if not self.rest:
            return None
        return LineWarning(self.line, self.text, f"« {' '.join(self.rest)[:60]} » ignoré : "
                           "ce n'est pas une référence de plan")


def agenda_lines(mail: IncomingMail, config: Config, detected: Detected) -> AgendaLines | None:
    """``RCP`` about one meeting and with lines puts plans on its agenda; None
    when the mail lists meetings."""
    lines = [(n, t) for n, t in detected.lines if t.strip()]
    if referenced_meeting(mail, config, detected) is None or not lines:
        return None
    text = " ".join(t.split(":", 1)[-1] for _, t in lines)
    refs, rest = parse_plan_refs(text)
    return AgendaLines(lines[0][0], text, refs, rest)
