"""AIDE, and the answer to what was not understood: never a silent drop."""

from __future__ import annotations

from collections.abc import Sequence

from esp_coord.answers import Answer, reply_subject
from esp_coord.processing import Request
from plans.commands import Detected, Syntax, closest_commands
from plans.render import render_help, render_not_understood


def help_answer(request: Request, detected: Detected,
                      commands: Sequence[Syntax]) -> list[Answer]:
    """AIDE: an example of each of ``commands`` (the registry's, in its order)."""
    rendered = render_help(request.sender.name, commands)
    return [Answer(subject=reply_subject(request.mail.subject, rendered.subject),
                   text=rendered.text)]


def not_understood_answer(request: Request, detected: Detected) -> list[Answer]:
    rendered = render_not_understood(detected.text, closest_commands(detected.text),
                                     request.sender.name)
    return [Answer(subject=reply_subject(request.mail.subject, rendered.subject),
                   text=rendered.text, refused=True)]
