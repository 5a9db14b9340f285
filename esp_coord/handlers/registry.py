"""The service's commands: one entry each, binding a command as users write it
(its ``plans.commands.Syntax``) to what the service does with it.

An entry gives the handler (one mail in, the answers out, inside the mail's
transaction), the name ``esp-coord parse`` reports the command under, and the
``parse`` step that reports what the mail says (``parse_steps``). The
dispatcher (``make_handler``), AIDE and ``esp_coord.interpret`` read
``REGISTRY`` and nothing else, so adding a command is its ``Syntax``, its
entry here, its handler and its step.

``build`` refuses, at import, a registry that misses a syntax, binds one
twice, or reuses a report name: a command users can write is always handled,
and ``parse`` never confuses two.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from esp_coord.answers import Answer
from esp_coord.processing import Request
from plans.commands import SYNTAX, SYNTAXES, Detected, Syntax

from . import absences, actions, documents, meetings, parse_steps, plans, report
from .basics import help_answer
from .parse_steps import Step

CommandHandler = Callable[[Request, Detected], list[Answer]]

UNKNOWN = "unknown"
"""The report name of a mail without a command we know."""


@dataclass(frozen=True)
class Command:
    syntax: Syntax
    handler: CommandHandler
    report: str
    """The ``command`` of ``esp-coord parse``'s report ("done", "undo_done")."""
    parse_step: Step
    """Fills the rest of that report (``parse_steps``)."""

    @property
    def name(self) -> str:
        return self.syntax.name


def _help(request: Request, detected: Detected) -> list[Answer]:
    return help_answer(request, detected, [c.syntax for c in REGISTRY.values()])


def build(commands: Iterable[Command], syntaxes: Sequence[Syntax] = SYNTAXES
          ) -> Mapping[str, Command]:
    """The commands by canonical name, in the order of ``syntaxes`` (AIDE's);
    ValueError unless each syntax has exactly one entry and report names are
    unique."""
    by_name: dict[str, Command] = {}
    reports: dict[str, str] = {UNKNOWN: "(no command)"}
    for command in commands:
        if command.name in by_name:
            raise ValueError(f"command {command.name} registered twice")
        if command.syntax not in syntaxes:
            raise ValueError(f"command {command.name}: its syntax is not in SYNTAXES")
        if command.report in reports:
            raise ValueError(f"report name {command.report!r} of both {reports[command.report]} "
                             f"and {command.name}")
        by_name[command.name] = command
        reports[command.report] = command.name
    missing = [s.name for s in syntaxes if s.name not in by_name]
    if missing:
        raise ValueError(f"commands without a registry entry: {', '.join(missing)}")
    return MappingProxyType({s.name: by_name[s.name] for s in syntaxes})


REGISTRY: Mapping[str, Command] = build([
    Command(SYNTAX["NOUVEAU_PPS"], plans.new_plan, "create_plan", parse_steps.new_plan),
    Command(SYNTAX["MAJ"], plans.update_plan, "update_plan", parse_steps.update_plan),
    Command(SYNTAX["STATUT"], plans.plan_status, "status", parse_steps.plan_status),
    Command(SYNTAX["LISTE"], plans.plan_list, "list", parse_steps.nothing_more),
    Command(SYNTAX["FAIT"], actions.action_done, "done", parse_steps.action_done),
    Command(SYNTAX["ANNULER_FAIT"], actions.action_undone, "undo_done", parse_steps.action_undone),
    Command(SYNTAX["REPORTER"], actions.action_postponed, "postpone", parse_steps.action_postponed),
    Command(SYNTAX["DOCUMENT"], documents.send_document, "send_document",
            parse_steps.send_document),
    Command(SYNTAX["CLORE"], plans.close_plan, "close_plan", parse_steps.close_plan),
    Command(SYNTAX["RCP_NOUVELLE"], meetings.new_meeting, "schedule_meeting",
            parse_steps.new_meeting),
    Command(SYNTAX["RCP"], meetings.list_meetings, "list_meetings", parse_steps.list_meetings),
    Command(SYNTAX["ANNULER_RCP"], meetings.cancel_meeting, "cancel_meeting",
            parse_steps.cancel_meeting),
    Command(SYNTAX["COMPTE_RENDU"], meetings.meeting_report, "meeting_report",
            parse_steps.meeting_report),
    Command(SYNTAX["ABSENCE"], absences.declare_absence, "absence",
            parse_steps.declare_absence),
    Command(SYNTAX["ANNULER_ABSENCE"], absences.cancel_absence, "cancel_absence",
            parse_steps.nothing_more),
    Command(SYNTAX["ABSENCES"], absences.list_absences, "list_absences",
            parse_steps.nothing_more),
    Command(SYNTAX["INDICATEURS"], report.indicators, "indicators", parse_steps.nothing_more),
    Command(SYNTAX["AIDE"], _help, "help", parse_steps.nothing_more),
])
