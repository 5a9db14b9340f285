"""Command handlers: one mail in, the answers out, inside the mail's transaction.

``make_handler(config)`` returns the dispatcher the processor calls for every
mail of a trusted team member: it finds the mail's command and calls its
handler from ``registry.REGISTRY`` (one entry per command). Each handler gets
a ``Request`` and returns the answers to send; state changes go through
``request.tx`` so that they commit with the answers, or not at all.
"""

from __future__ import annotations

from esp_coord import absence_intake
from esp_coord.answers import Answer
from esp_coord.config import Config
from esp_coord.intake.automatic import automatic_subject
from esp_coord.processing import Handler, Request, Unanswered
from esp_coord.references import answers_service, calendar_reply
from esp_coord.roster import people_of
from plans.commands import Detected, detect_command
from plans.normalize import fold
from plans.signature import SignOff, is_greeting

from .basics import not_understood_answer
from .calendar import record_calendar_reply
from .registry import REGISTRY, CommandHandler

__all__ = ["REGISTRY", "CommandHandler", "make_handler"]


def make_handler(config: Config) -> Handler:
    def dispatch(request: Request) -> list[Answer]:
        detected = detect_command(request.mail.subject, request.mail.body,
                                  replying=answers_service(request.mail, config))
        if calendar_reply(request.mail, detected):
            # "Accepted"/"declined" from a calendar: recorded, never answered.
            record_calendar_reply(request)
        auto = automatic_subject(request.mail.subject)
        if auto and (detected.name is None or (
                detected.name == "ABSENCE" and _out_of_office(request, detected))):
            # No command and the subject of an auto-reply: most likely a
            # robot without RFC 3834 headers; the coordinators are told. So
            # is « Absence du 20/12 au 04/01 » that answers one of our mails
            # or says more than a substitute: an out-of-office reply, whose
            # dates are kept, never a command to answer (no loop).
            absence_intake.from_reply(request.tx, request.mail, config, request.now)
            raise Unanswered("auto-subject")
        if detected.name is None:
            return not_understood_answer(request, detected)
        # Every command detect_command knows has an entry (registry.build).
        return REGISTRY[detected.name].handler(request, detected)

    return dispatch


_ABSENCE_KEYS = ("remplacant", "remplacante", "suppleant", "suppleante", "pour", "membre")


def _out_of_office(request: Request, detected: Detected) -> bool:
    """An ABSENCE subject that an auto-responder, not a person, wrote: it
    answers one of our mails, or its body has text of its own (« Je suis
    absente, je lirai vos messages à mon retour. ») beyond greetings,
    signature and the command's own lines."""
    if detected.source != "subject" or answers_service(request.mail, request.config):
        return detected.source == "subject"
    signed = SignOff(people_of(request.config))
    for _, line in detected.lines:
        text = line.strip()
        key = fold(text.partition(":")[0]).strip(" -*•")
        if text and not is_greeting(text) and not signed(text) and not (
                ":" in text and key in _ABSENCE_KEYS):
            return True
    return False
