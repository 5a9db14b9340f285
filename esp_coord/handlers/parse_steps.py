"""What ``esp-coord parse`` reports of each command, beyond its name: one step
per command, bound to it in ``esp_coord.handlers.registry``.

A step reads the mail as its handler does (the same grammar, the same
reference and action-number helpers), with no database, and fills the report
(``esp_coord.interpret.REPORT_KEYS``) through a ``Context``. Steps of the
commands about one plan start with ``Context.plan_ref()``: the plan's
reference, or an error saying it is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time
from typing import Any, TypeVar

from esp_coord import access
from esp_coord.config import Config
from esp_coord.intake import IncomingMail
from esp_coord.references import agenda_lines, plan_ref_of, referenced_meeting
from esp_coord.roster import people_of
from esp_coord.scheduling.times import first_actable_day
from plans.absences import parse_absence
from plans.commands import (
    DISPLAY,
    Detected,
    action_commands,
    action_comment,
    closest_commands,
    postponed_date_text,
    split_action_number,
)
from plans.dates import parse_new_due
from plans.drafts import ActionDraft, LineError, LineWarning, Parsed, PlanDraft, PlanUpdate
from plans.errors import FieldError
from plans.grammar import parse_new_plan, parse_update
from plans.meeting_grammar import (
    Cancellation,
    Report,
    parse_cancel,
    parse_new_meeting,
    parse_report,
)
from plans.people import Person
from plans.rhythm import When

from .common import library

Step = Callable[["Context"], None]


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _hh_mm(value: time | None) -> str | None:
    return value.isoformat("minutes") if value else None


def _line_error(e: LineError) -> dict[str, Any]:
    return {"line": e.line, "field": e.field, "text": e.text, "message": e.message}


def _warning(w: LineWarning) -> dict[str, Any]:
    return {"line": w.line, "text": w.text, "message": w.message}


def error_entry(field: str, message: str, *, text: str = "", line: int | None = None
           ) -> dict[str, Any]:
    return {"line": line, "field": field, "text": text, "message": message}


def first_due(when: When, today: date) -> date | None:
    """The first due date the plan will show (``Plan._add_action``'s rule):
    the date asked, or the rhythm's first occurrence from it (else from today)."""
    if when.rhythm is None:
        return when.due
    return next(when.rhythm.occurrences(when.due or today, until=when.until), None)


def _action(draft: ActionDraft, today: date) -> dict[str, Any]:
    when = draft.when
    return {"assignee": draft.assignee, "what": draft.what,
            "due": _iso(first_due(when, today)),
            "rhythm": when.rhythm.to_rrule() if when.rhythm else None,
            "until": _iso(when.until),
            "time": _hh_mm(when.time_of_day),
            "protocol": draft.protocol, "profession": draft.profession, "line": draft.line}


class Context:
    """One mail being read: what steps read (mail, config, detected command,
    the mail's day, the roster) and the report they fill."""

    def __init__(self, mail: IncomingMail, config: Config, detected: Detected, today: date,
                 report: dict[str, Any]) -> None:
        self.mail, self.config, self.detected = mail, config, detected
        self.today, self.report = today, report
        self.people: list[Person] = people_of(config)
        self.sender = next(p for p in self.people if p.email == mail.from_address)

    @property
    def earliest(self) -> date:
        """The first day a new rhythm may start on, as the service will find
        it if it gets the mail when it was written (``first_actable_day``)."""
        settings = self.config.reminders
        return first_actable_day(self.mail.date or datetime.now(UTC), self.config.timezone,
                                 settings.hour, settings.days_off)

    def plan_ref(self) -> str | None:
        """The plan the mail is about (as ``references.plan_ref_of`` finds
        it for the service), reported; an error when there is none."""
        ref = self.report["plan_ref"] = plan_ref_of(self.mail, self.config, self.detected)
        if ref is None:
            self.error("plan_ref", "plan non précisé : écrire sa référence avec la commande "
                       "(PPS-2026-0001) ou répondre à un message du service au sujet du plan",
                       text=self.detected.text)
        return ref

    def error(self, field: str, message: str, *, text: str = "") -> None:
        self.report["errors"].append(error_entry(field, message, text=text))

    def grammar_result(self, errors: Sequence[LineError], warnings: Sequence[LineWarning]
                       ) -> None:
        self.report["errors"] += [_line_error(e) for e in errors]
        self.report["warnings"] += [_warning(w) for w in warnings]

    def plan_fields(self, draft: PlanDraft | PlanUpdate) -> None:
        """What a new plan and an update have in common."""
        r = self.report
        r["referent"] = draft.referent
        r["team"] = list(draft.team)
        r["actions"] = [_action(a, self.today) for a in draft.actions]
        r["protocols"] = list(draft.protocols)
        r["themes"] = list(draft.themes)
        r["review_date"] = _iso(draft.review_date)
        for key in ("problems", "objectives", "preferences", "alerts", "notes"):
            r[key] = list(getattr(draft, key))


def new_plan(ctx: Context) -> None:
    parsed = parse_new_plan(ctx.detected.lines, today=ctx.today, sender=ctx.sender,
                            roster=ctx.people, library=library(), earliest=ctx.earliest,
                            themes=ctx.config.themes)
    ctx.grammar_result(parsed.errors, parsed.warnings)
    draft = parsed.value
    if not parsed.ok or draft is None:
        return
    ctx.report["patient"] = draft.patient.to_dict()
    ctx.report["consent"] = draft.consent
    ctx.plan_fields(draft)


def update_plan(ctx: Context) -> None:
    ctx.plan_ref()
    # Without the plan, its team is unknown: people are resolved on the roster.
    parsed = parse_update(ctx.detected.lines, today=ctx.today, sender=ctx.sender, team=[],
                          roster=ctx.people, library=library(), earliest=ctx.earliest,
                          themes=ctx.config.themes)
    ctx.grammar_result(parsed.errors, parsed.warnings)
    update = parsed.value
    if not parsed.ok or update is None:
        return
    member = ctx.config.member(ctx.mail.from_address)
    if update.referent and not access.may_change_referent(member, None):
        # The service also accepts it from the plan's referent, whom only the
        # database knows.
        ctx.report["warnings"].append(_warning(LineWarning(
            None, "Référent", "seuls le référent du plan et la coordination peuvent changer "
            "de référent : refusé si l'expéditeur n'est pas le référent actuel")))
    ctx.plan_fields(update)


def close_plan(ctx: Context) -> None:
    ctx.plan_ref()
    ctx.report["comment"] = " ".join(t for _, t in ctx.detected.lines if t.strip())[:500] or None


def _action_number(ctx: Context, command: str) -> str | None:
    number, rest = split_action_number(ctx.detected.raw_args)
    if number is None:
        ctx.error("action_number", f"numéro d'action absent après {command} ; exemple : "
                  f"{command} 2 PPS-2026-0001", text=ctx.detected.text)
        return None
    ctx.report["action_number"] = number
    return rest


def plan_status(ctx: Context) -> None:
    ctx.plan_ref()


def send_document(ctx: Context) -> None:
    """``DOCUMENT 2``: the plan and the document's number (whether it exists
    only the database knows)."""
    ctx.plan_ref()
    number, _ = split_action_number(ctx.detected.raw_args)
    if number is None:
        ctx.error("document_number", "numéro du document absent après DOCUMENT ; exemple : "
                  "DOCUMENT 1 PPS-2026-0001", text=ctx.detected.text)
        return
    ctx.report["document_number"] = number


def nothing_more(ctx: Context) -> None:
    """``LISTE``, ``AIDE``: the command's name says it all."""


def _more_lines(ctx: Context) -> Detected:
    """The first of the mail's action lines (``action_commands``); the others
    are reported under ``more_lines``, as the service handles each."""
    first, *others = action_commands(ctx.detected)
    if others:
        ctx.report["more_lines"] = [{"command": DISPLAY[o.name or ""], "ref": o.ref,
                                     "args": o.raw_args, "line": o.line} for o in others]
    return first


def action_done(ctx: Context) -> None:
    first = _more_lines(ctx)
    ctx.plan_ref()
    if _action_number(ctx, "FAIT") is not None:
        ctx.report["comment"] = action_comment(first, ctx.people) or None


def action_undone(ctx: Context) -> None:
    """``ANNULER FAIT 3``: the plan and the action number, nothing else."""
    _more_lines(ctx)
    ctx.plan_ref()
    _action_number(ctx, "ANNULER FAIT")


def action_postponed(ctx: Context) -> None:
    _more_lines(ctx)
    ctx.plan_ref()
    rest = _action_number(ctx, "REPORTER")
    if rest is None:
        return
    when = postponed_date_text(rest)
    try:
        day, at = parse_new_due(when, today=ctx.today)
    except FieldError as e:
        ctx.report["errors"].append(error_entry(
            "date", f"{e.problem} ; attendu : {e.expected} ; exemple : REPORTER "
            f"{ctx.report['action_number']} au {e.example}", text=ctx.detected.text,
            line=ctx.detected.line))
        return
    ctx.report["date"] = day.isoformat()
    # A one-off action takes the time; one occurrence of a recurring one keeps it in a note.
    ctx.report["time"] = _hh_mm(at)


def unknown(ctx: Context) -> None:
    suggestions = [DISPLAY[n] for n in closest_commands(ctx.detected.text)]
    hint = f" ; commandes proches : {', '.join(suggestions)}" if suggestions else ""
    ctx.error("command", "aucune commande reconnue dans l'objet ni sur la première ligne"
              + hint, text=ctx.detected.text)


def _meeting_ref(ctx: Context) -> str | None:
    return referenced_meeting(ctx.mail, ctx.config, ctx.detected)


def new_meeting(ctx: Context) -> None:
    parsed = parse_new_meeting(ctx.detected.lines, today=ctx.today, tz=ctx.config.timezone,
                               sender=ctx.sender, roster=ctx.people, now=ctx.mail.date)
    ctx.grammar_result(parsed.errors, parsed.warnings)
    if parsed.ok and parsed.value is not None:
        ctx.report["meeting"] = parsed.value.to_json()
        ctx.report["notes"] = list(parsed.value.notes)


def _targeted_meeting(ctx: Context) -> bool:
    ctx.report["meeting_ref"] = _meeting_ref(ctx)
    if ctx.report["meeting_ref"] is None:
        ctx.error("meeting_ref", "réunion non précisée : écrire sa référence avec la commande "
                  "(RCP-2026-001) ou répondre à un message du service au sujet de la réunion",
                  text=ctx.detected.text)
    return ctx.report["meeting_ref"] is not None


def list_meetings(ctx: Context) -> None:
    """``RCP`` alone lists meetings; about one meeting and with lines, it puts
    plans on its agenda (read as ``handlers.meetings.add_to_agenda`` does)."""
    ctx.report["meeting_ref"] = _meeting_ref(ctx)
    reading = agenda_lines(ctx.mail, ctx.config, ctx.detected)
    if reading is None:
        return
    ctx.report["agenda_plans"] = reading.refs
    missing, ignored = reading.missing(), reading.ignored()
    if missing is not None:
        ctx.report["errors"].append(_line_error(missing))
    elif ignored is not None:
        ctx.report["warnings"].append(_warning(ignored))


_OnDay = TypeVar("_OnDay", Cancellation, Report)


def _about_a_meeting_day(ctx: Context, parse: Callable[..., Parsed[_OnDay]]) -> _OnDay | None:
    """``ANNULER`` and ``COMPTE-RENDU``: the meeting, then the day and lines."""
    _targeted_meeting(ctx)
    parsed = parse(ctx.detected.args, ctx.detected.lines, today=ctx.today)
    ctx.grammar_result(parsed.errors, parsed.warnings)
    if not parsed.ok or parsed.value is None:
        return None
    ctx.report["date"] = _iso(parsed.value.day)
    return parsed.value


def cancel_meeting(ctx: Context) -> None:
    cancellation = _about_a_meeting_day(ctx, parse_cancel)
    if cancellation is not None:
        ctx.report["comment"] = cancellation.reason or None


def meeting_report(ctx: Context) -> None:
    report = _about_a_meeting_day(ctx, parse_report)
    if report is not None:
        ctx.report["decisions"] = [{"line": line, "plan_ref": ref, "text": text}
                                   for line, ref, text in report.decisions]
        ctx.report["notes"] = list(report.notes)


def declare_absence(ctx: Context) -> None:
    """``ABSENCE du … au …``: the period and the substitute, as the service reads them."""
    try:
        asked = parse_absence(ctx.detected.raw_args, ctx.detected.lines, today=ctx.today,
                              sender=ctx.sender, roster=ctx.people)
    except FieldError as e:
        ctx.report["errors"].append(error_entry(
            "absence", f"{e.problem} ; attendu : {e.expected} ; exemple : {e.example}",
            text=ctx.detected.text, line=ctx.detected.line))
        return
    ctx.report["absence"] = {"start": asked.start.isoformat(), "end": asked.end.isoformat(),
                             "substitute": asked.substitute.email if asked.substitute else None}
