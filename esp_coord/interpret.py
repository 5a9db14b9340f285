"""What the service understands of one mail, without a database nor sending anything.

``interpret(raw, config)`` returns the report that ``esp-coord parse`` prints:
a JSON-safe dict (keys documented in ``REPORT_KEYS``). It goes through the
code the service runs: ``parse_mail`` (intake), ``detect_command``, the plan
grammar, the handlers' own reference and action-number helpers, so that
``parse`` and the service never disagree on what a mail says.

What needs the database is left out: a plan's current team (people in a
``MAJ`` are resolved against the roster, so a profession shared by several
roster members is ambiguous here while the service may find one on the plan's
team), whether a patient already has a plan, access rights. A reference that
only the database could give stays null, but the service's acknowledgements
carry stable Message-IDs (``<PPS-2026-0001.ack.1@domain>``,
``<RCP-2026-001.…@domain>``), so a reply to one of them gives its plan or
meeting. "Now" is the mail's Date: a meeting date is checked against it.

For a ``MAJ``, ``team`` lists who joins the plan (the sender at least, unless
already on its team: only the database knows).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, time
from typing import Any, TypeVar

from esp_coord.config import Config
from esp_coord.handlers.meetings import agenda_lines, calendar_reply, referenced_meeting
from esp_coord.handlers.plans import answers_service, library, people_of, plan_ref_of
from esp_coord.intake import IncomingMail, parse_mail
from esp_coord.triage import triage
from plans.commands import (
    DISPLAY,
    Detected,
    action_comment,
    closest_commands,
    detect_command,
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

__all__ = ["COMMAND_NAMES", "REPORT_KEYS", "exit_code", "ignored_reason", "interpret"]

COMMAND_NAMES: dict[str | None, str] = {
    "NOUVEAU_PPS": "create_plan",
    "MAJ": "update_plan",
    "CLORE": "close_plan",
    "STATUT": "status",
    "LISTE": "list",
    "FAIT": "done",
    "REPORTER": "postpone",
    "RCP_NOUVELLE": "schedule_meeting",
    "RCP": "list_meetings",
    "ANNULER_RCP": "cancel_meeting",
    "COMPTE_RENDU": "meeting_report",
    "AIDE": "help",
    None: "unknown",
}
_NEEDS_PLAN = {"MAJ", "CLORE", "STATUT", "FAIT", "REPORTER"}

REPORT_KEYS = (
    "command", "ignored_reason", "sender", "message_id", "plan_ref", "meeting_ref",
    "patient", "consent", "referent", "team", "problems", "objectives", "preferences",
    "alerts", "notes", "actions", "protocols", "review_date", "action_number", "date",
    "comment", "time", "meeting", "agenda_plans", "decisions", "mail_date", "errors", "warnings",
)

# Exit codes of ``esp-coord parse``.
VALID, HAS_ERRORS, IGNORED = 0, 1, 3


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _hh_mm(value: time | None) -> str | None:
    return value.isoformat("minutes") if value else None


def _empty(mail: IncomingMail) -> dict[str, Any]:
    report: dict[str, Any] = dict.fromkeys(REPORT_KEYS)
    for key in ("team", "problems", "objectives", "preferences", "alerts", "notes", "actions",
                "protocols", "agenda_plans", "decisions", "errors", "warnings"):
        report[key] = []
    report["sender"] = mail.from_address or None
    report["message_id"] = mail.message_id
    return report


def ignored_reason(mail: IncomingMail, config: Config) -> str | None:
    """Why the service would not process the mail at all (English): the
    processor's own sorting (``esp_coord.triage``)."""
    return triage(mail, config, None).reason


def _line_error(e: LineError) -> dict[str, Any]:
    return {"line": e.line, "field": e.field, "text": e.text, "message": e.message}


def _warning(w: LineWarning) -> dict[str, Any]:
    return {"line": w.line, "text": w.text, "message": w.message}


def _error(field: str, message: str, *, text: str = "", line: int | None = None
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


class _Context:
    def __init__(self, mail: IncomingMail, config: Config, detected: Detected, today: date,
                 report: dict[str, Any]) -> None:
        self.mail, self.config, self.detected = mail, config, detected
        self.today, self.report = today, report
        self.people: list[Person] = people_of(config)
        self.sender = next(p for p in self.people if p.email == mail.from_address)

    def error(self, field: str, message: str, *, text: str = "") -> None:
        self.report["errors"].append(_error(field, message, text=text))

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
        r["review_date"] = _iso(draft.review_date)
        for key in ("problems", "objectives", "preferences", "alerts", "notes"):
            r[key] = list(getattr(draft, key))


def _new_plan(ctx: _Context) -> None:
    parsed = parse_new_plan(ctx.detected.lines, today=ctx.today, sender=ctx.sender,
                            roster=ctx.people, library=library())
    ctx.grammar_result(parsed.errors, parsed.warnings)
    draft = parsed.value
    if not parsed.ok or draft is None:
        return
    ctx.report["patient"] = draft.patient.to_dict()
    ctx.report["consent"] = draft.consent
    ctx.plan_fields(draft)


def _update(ctx: _Context) -> None:
    # Without the plan, its team is unknown: people are resolved on the roster.
    parsed = parse_update(ctx.detected.lines, today=ctx.today, sender=ctx.sender, team=[],
                          roster=ctx.people, library=library())
    ctx.grammar_result(parsed.errors, parsed.warnings)
    update = parsed.value
    if not parsed.ok or update is None:
        return
    member = ctx.config.member(ctx.mail.from_address)
    if update.referent and not (member is not None and member.is_coordinator):
        # The service also accepts it from the plan's referent, whom only the
        # database knows.
        ctx.report["warnings"].append(_warning(LineWarning(
            None, "Référent", "seuls le référent du plan et la coordination peuvent changer "
            "de référent : refusé si l'expéditeur n'est pas le référent actuel")))
    ctx.plan_fields(update)


def _close(ctx: _Context) -> None:
    ctx.report["comment"] = " ".join(t for _, t in ctx.detected.lines if t.strip())[:500] or None


def _action_number(ctx: _Context, command: str) -> str | None:
    number, rest = split_action_number(ctx.detected.raw_args)
    if number is None:
        ctx.error("action_number", f"numéro d'action absent après {command} ; exemple : "
                  f"{command} 2 PPS-2026-0001", text=ctx.detected.text)
        return None
    ctx.report["action_number"] = number
    return rest


def _done(ctx: _Context) -> None:
    if _action_number(ctx, "FAIT") is not None:
        ctx.report["comment"] = action_comment(ctx.detected, ctx.people) or None


def _postpone(ctx: _Context) -> None:
    rest = _action_number(ctx, "REPORTER")
    if rest is None:
        return
    when = postponed_date_text(rest)
    try:
        day, at = parse_new_due(when, today=ctx.today)
    except FieldError as e:
        ctx.report["errors"].append(_error(
            "date", f"{e.problem} ; attendu : {e.expected} ; exemple : REPORTER "
            f"{ctx.report['action_number']} au {e.example}", text=ctx.detected.text,
            line=ctx.detected.line))
        return
    ctx.report["date"] = day.isoformat()
    # A one-off action takes the time; one occurrence of a recurring one keeps it in a note.
    ctx.report["time"] = _hh_mm(at)


def _unknown(ctx: _Context) -> None:
    suggestions = [DISPLAY[n] for n in closest_commands(ctx.detected.text)]
    hint = f" ; commandes proches : {', '.join(suggestions)}" if suggestions else ""
    ctx.error("command", "aucune commande reconnue dans l'objet ni sur la première ligne"
              + hint, text=ctx.detected.text)


def _meeting_ref(ctx: _Context) -> str | None:
    return referenced_meeting(ctx.mail, ctx.config, ctx.detected)


def _new_meeting(ctx: _Context) -> None:
    parsed = parse_new_meeting(ctx.detected.lines, today=ctx.today, tz=ctx.config.timezone,
                               sender=ctx.sender, roster=ctx.people, now=ctx.mail.date)
    ctx.grammar_result(parsed.errors, parsed.warnings)
    if parsed.ok and parsed.value is not None:
        ctx.report["meeting"] = parsed.value.to_json()
        ctx.report["notes"] = list(parsed.value.notes)


def _targeted_meeting(ctx: _Context) -> bool:
    ctx.report["meeting_ref"] = _meeting_ref(ctx)
    if ctx.report["meeting_ref"] is None:
        ctx.error("meeting_ref", "réunion non précisée : écrire sa référence avec la commande "
                  "(RCP-2026-001) ou répondre à un message du service au sujet de la réunion",
                  text=ctx.detected.text)
    return ctx.report["meeting_ref"] is not None


def _list_meetings(ctx: _Context) -> None:
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


def _about_a_meeting_day(ctx: _Context, parse: Callable[..., Parsed[_OnDay]]) -> _OnDay | None:
    """``ANNULER`` and ``COMPTE-RENDU``: the meeting, then the day and lines."""
    _targeted_meeting(ctx)
    parsed = parse(ctx.detected.args, ctx.detected.lines, today=ctx.today)
    ctx.grammar_result(parsed.errors, parsed.warnings)
    if not parsed.ok or parsed.value is None:
        return None
    ctx.report["date"] = _iso(parsed.value.day)
    return parsed.value


def _cancel_meeting(ctx: _Context) -> None:
    cancellation = _about_a_meeting_day(ctx, parse_cancel)
    if cancellation is not None:
        ctx.report["comment"] = cancellation.reason or None


def _meeting_report(ctx: _Context) -> None:
    report = _about_a_meeting_day(ctx, parse_report)
    if report is not None:
        ctx.report["decisions"] = [{"line": line, "plan_ref": ref, "text": text}
                                   for line, ref, text in report.decisions]
        ctx.report["notes"] = list(report.notes)


_STEPS: dict[str | None, Callable[[_Context], None]] = {
    "NOUVEAU_PPS": _new_plan, "MAJ": _update, "CLORE": _close, "FAIT": _done,
    "REPORTER": _postpone, None: _unknown, "RCP_NOUVELLE": _new_meeting,
    "ANNULER_RCP": _cancel_meeting, "COMPTE_RENDU": _meeting_report, "RCP": _list_meetings,
}


def interpret(raw: bytes, config: Config, *, now: datetime | None = None) -> dict[str, Any]:
    """The report of what the service would understand of ``raw`` (see module
    docstring). Relative dates count from the mail's Date header (else ``now``,
    else the current time)."""
    mail = parse_mail(raw, max_message_bytes=config.limits.max_message_bytes,
                      max_attachment_bytes=config.limits.max_attachment_bytes)
    report = _empty(mail)
    reason = ignored_reason(mail, config)
    if reason is not None:
        report["command"], report["ignored_reason"] = "ignored", reason
        return report
    detected = detect_command(mail.subject, mail.body, replying=answers_service(mail, config))
    if calendar_reply(mail, detected):
        report["command"] = "ignored"
        report["ignored_reason"] = "calendar answer to an invitation: never answered"
        return report
    report["command"] = COMMAND_NAMES.get(detected.name, "unknown")
    if mail.too_large:
        report["errors"].append(_error("message", mail.too_large))
        return report
    moment = mail.date or now or datetime.now(config.timezone)
    today = moment.astimezone(config.timezone).date()
    report["mail_date"] = today.isoformat()
    ctx = _Context(mail, config, detected, today, report)
    if detected.name in _NEEDS_PLAN:
        report["plan_ref"] = plan_ref_of(mail, config, detected)
        if report["plan_ref"] is None:
            ctx.error("plan_ref", "plan non précisé : écrire sa référence avec la commande "
                      "(PPS-2026-0001) ou répondre à un message du service au sujet du plan",
                      text=detected.text)
    step = _STEPS.get(detected.name)
    if step is not None:
        step(ctx)
    return report


def exit_code(report: dict[str, Any]) -> int:
    """0: the service would act on the mail; 1: it would answer with the
    errors; 3: it would not process it (ignored or quarantined)."""
    if report["command"] == "ignored":
        return IGNORED
    return HAS_ERRORS if report["errors"] else VALID
