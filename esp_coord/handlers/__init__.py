"""Command handlers: one mail in, the answers out, inside the mail's transaction.

``make_handler(config)`` returns the dispatcher the processor calls for every
mail of a trusted team member. Each handler gets a ``Request`` and returns the
answers to send; state changes go through ``request.tx`` so that they commit
with the answers, or not at all.
"""

from __future__ import annotations

from collections.abc import Callable

from esp_coord.answers import Answer
from esp_coord.config import Config
from esp_coord.intake.automatic import automatic_subject
from esp_coord.processing import Handler, Request, Unanswered
from plans.commands import Detected, detect_command

from .basics import help_handler, not_available_answer, not_understood_answer
from .meetings import HANDLERS as MEETING_HANDLERS
from .meetings import calendar_reply
from .plans import HANDLERS as PLAN_HANDLERS
from .plans import answers_service

CommandHandler = Callable[[Request, Detected], list[Answer]]


def make_handler(config: Config) -> Handler:
    handlers: dict[str, CommandHandler] = dict(PLAN_HANDLERS)
    handlers.update(MEETING_HANDLERS)
    handlers["AIDE"] = help_handler(frozenset(handlers) | {"AIDE"})

    def dispatch(request: Request) -> list[Answer]:
        detected = detect_command(request.mail.subject, request.mail.body,
                                  replying=answers_service(request.mail, config))
        if calendar_reply(request.mail, detected):
            return []  # "accepted"/"declined" from a calendar: never answered
        if detected.name is None:
            if automatic_subject(request.mail.subject):
                # No command and the subject of an auto-reply: most likely a
                # robot without RFC 3834 headers; the coordinators are told.
                raise Unanswered("auto-subject")
            return not_understood_answer(request, detected)
        handler = handlers.get(detected.name)
        if handler is None:
            return not_available_answer(request, detected)
        return handler(request, detected)

    return dispatch
