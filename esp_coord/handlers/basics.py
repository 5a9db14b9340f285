"""AIDE, and the answers to what was not understood or is not available yet:
never a silent drop."""

from __future__ import annotations

from esp_coord.answers import Answer, reply_subject
from esp_coord.processing import Request
from plans.commands import DISPLAY, Detected, closest_commands
from plans.render import render_help, render_not_understood
from plans.typography import french


def help_handler(available: frozenset[str]):  # type: ignore[no-untyped-def]
    def help_answer(request: Request, detected: Detected) -> list[Answer]:
        rendered = render_help(request.sender.name, available=available)
        return [Answer(subject=reply_subject(request.mail.subject, rendered.subject),
                       text=rendered.text)]

    return help_answer


def not_understood_answer(request: Request, detected: Detected) -> list[Answer]:
    rendered = render_not_understood(detected.text, closest_commands(detected.text),
                                     request.sender.name)
    return [Answer(subject=reply_subject(request.mail.subject, rendered.subject),
                   text=rendered.text)]


def not_available_answer(request: Request, detected: Detected) -> list[Answer]:
    """A command we recognise but do not handle yet: say so, never pretend."""
    name = DISPLAY.get(detected.name or "", detected.name or "")
    text = french(
        f"Bonjour {request.sender.name},\n\n"
        f"J'ai bien reconnu la commande {name}, mais elle n'est pas encore disponible "
        "dans cette version du service. Rien n'a été enregistré.\n\n"
        "En attendant, organisez-la directement avec la coordination de l'équipe. "
        "Écrivez AIDE pour la liste des commandes disponibles.\n")
    return [Answer(subject=reply_subject(request.mail.subject, f"{name} : pas encore disponible"),
                   text=text)]
