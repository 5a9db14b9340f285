"""Command handlers: one mail in, the answers out, inside the mail's transaction.

``make_handler(config)`` returns the dispatcher the processor calls for every
mail of a trusted team member: it finds the mail's command and calls its
handler from ``registry.REGISTRY`` (one entry per command). Each handler gets
a ``Request`` and returns the answers to send; state changes go through
``request.tx`` so that they commit with the answers, or not at all.
"""

from __future__ import annotations

from esp_coord.answers import Answer
from esp_coord.config import Config
from esp_coord.intake.automatic import automatic_subject
from esp_coord.processing import Handler, Request, Unanswered
from esp_coord.references import answers_service, calendar_reply
from plans.commands import detect_command

from .basics import not_understood_answer
from .registry import REGISTRY, CommandHandler

__all__ = ["REGISTRY", "CommandHandler", "make_handler"]


def make_handler(config: Config) -> Handler:
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
        # Every command detect_command knows has an entry (registry.build).
        return REGISTRY[detected.name].handler(request, detected)

    return dispatch
