"""AIDE, and the answer to what was not understood: never a silent drop."""

from __future__ import annotations

from collections.abc import Sequence

from esp_coord.answers import Answer, reply_subject
from esp_coord.processing import Request
from plans.commands import SYNTAXES, Detected, Syntax, closest_commands
from plans.render import render_help, render_not_understood


def help_answer(request: Request, detected: Detected,
                      commands: Sequence[Syntax]) -> list[Answer]:
    """AIDE: an example of each of ``commands`` (the registry's, in its order)."""
    rendered = render_help(request.sender.name, visible(request, commands))
    return [Answer(subject=reply_subject(request.mail.subject, rendered.subject),
                   text=rendered.text)]


def visible(request: Request, commands: Sequence[Syntax] = SYNTAXES) -> list[Syntax]:
    """The commands ``request``'s sender may use: the coordination's own ones
    do not exist for anyone else."""
    return [c for c in commands if not c.coordination_only or request.sender.is_coordinator]


def not_understood_answer(request: Request, detected: Detected) -> list[Answer]:
    rendered = render_not_understood(detected.text,
                                     closest_commands(detected.text, among=visible(request)),
                                     request.sender.name)
    return [Answer(subject=reply_subject(request.mail.subject, rendered.subject),
                   text=rendered.text, refused=True)]
