"""What the service understands of one mail, without a database nor sending anything.

``interpret(raw, config)`` returns the report that ``esp-coord parse`` prints:
a JSON-safe dict (keys documented in ``REPORT_KEYS``). It goes through the
code the service runs: ``parse_mail`` (intake), ``detect_command``, the plan
grammar, the reference helpers the handlers use (``esp_coord.references``), so that
``parse`` and the service never disagree on what a mail says.

What needs the database is left out: a plan's current team (people in a
``MAJ`` are resolved against the roster, so a profession shared by several
roster members is ambiguous here while the service may find one on the plan's
team), whether a patient already has a plan, access rights. A reference that
only the database could give stays null, but the service's acknowledgements
carry stable Message-IDs (``<PPS-2026-0001.ack.1@domain>``,
``<RCP-2026-001.…@domain>``), so a reply to one of them gives its plan or
meeting. "Now" is the mail's Date: a meeting date is checked against it.

A document mail (an ``IHE_XDM.ZIP`` from the trust space, ``triage``) is
reported as ``"command": "document"`` with ``document``: what
``esp_coord.xdm`` understood of the archive (title, type, date, author,
institution, the patient and its INS, the replacement it announces), or the
ANS code it would be refused with. Whether a plan has that INS only the
database knows.

A calendar client's answer to an invitation (iTIP REPLY) is reported as
``"command": "ignored"`` (never answered) with ``calendar_reply``: the
meeting and each day's answer the service would record, or the problem
that keeps it from being recorded (``itip_reply.PROBLEMS``).

For a ``MAJ``, ``team`` lists who joins the plan (the sender at least, unless
already on its team: only the database knows).

Each command's report name and step come from its entry in
``esp_coord.handlers.registry`` (the steps are in ``handlers.parse_steps``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from esp_coord.calendar_answers import carries_calendar
from esp_coord.config import Config, domain_is_trusted
from esp_coord.handlers.parse_steps import Context, error_entry, first_due, unknown
from esp_coord.handlers.registry import REGISTRY, UNKNOWN
from esp_coord.intake import IncomingMail, attachment, calendar_part, parse_mail
from esp_coord.itip_reply import MAX_CALENDAR_BYTES, meeting_ref_of_uid, read_reply
from esp_coord.received.convention import XDM_ATTACHMENT
from esp_coord.references import answers_service, calendar_reply
from esp_coord.triage import triage
from esp_coord.xdm import OTHER_ERROR, XdmError, read_xdm
from plans.commands import detect_command

__all__ = ["COMMAND_NAMES", "REPORT_KEYS", "calendar_report", "document_report", "exit_code",
           "first_due", "ignored_reason", "interpret"]

COMMAND_NAMES: dict[str | None, str] = {
    **{name: command.report for name, command in REGISTRY.items()}, None: UNKNOWN}
"""The report name of each command (the registry's), None: no command."""

REPORT_KEYS = (
    "command", "ignored_reason", "sender", "message_id", "plan_ref", "meeting_ref",
    "patient", "consent", "referent", "team", "problems", "objectives", "preferences",
    "alerts", "notes", "actions", "protocols", "review_date", "action_number", "date",
    "comment", "time", "meeting", "agenda_plans", "decisions", "mail_date", "errors", "warnings",
    "document_number", "document",
    "more_lines", "absence", "calendar_reply", "themes",
)

# Exit codes of ``esp-coord parse``.
VALID, HAS_ERRORS, IGNORED = 0, 1, 3


def _empty(mail: IncomingMail) -> dict[str, Any]:
    report: dict[str, Any] = dict.fromkeys(REPORT_KEYS)
    for key in ("team", "problems", "objectives", "preferences", "alerts", "notes", "actions",
                "protocols", "agenda_plans", "decisions", "errors", "warnings", "themes"):
        report[key] = []
    report["sender"] = mail.from_address or None
    report["message_id"] = mail.message_id
    return report


def ignored_reason(mail: IncomingMail, config: Config) -> str | None:
    """Why the service would not process the mail at all (English): the
    processor's own sorting (``esp_coord.triage``)."""
    verdict = triage(mail, config, None)
    return None if verdict.outcome in ("accepted", "document") else verdict.reason


def document_report(data: bytes | None, config: Config) -> dict[str, Any]:
    """What the service understands of an IHE_XDM archive (``xdm.read_xdm``):
    its summary, with ``error_code``/``error`` when it would be refused."""
    if data is None:
        return {"error_code": OTHER_ERROR,
                "error": "the IHE_XDM.ZIP attachment cannot be decoded or is too large"}
    try:
        return read_xdm(data, accept_test_ins=config.documents.accept_test_ins).summary()
    except XdmError as e:
        return {"error_code": e.code, "error": e.reason}


def calendar_report(raw: bytes, mail: IncomingMail, config: Config) -> dict[str, Any]:
    """What the service would record of a calendar answer (``handlers.calendar``):
    the meeting, each day's answer (``null``: the whole meeting), or the
    problem that keeps it from being recorded. Whether the meeting exists
    only the database knows."""
    found = calendar_part(raw, max_bytes=MAX_CALENDAR_BYTES)
    reply = "unreadable" if found is None else read_reply(
        found[0], found[1], sender=mail.from_address, tz=config.timezone)
    if isinstance(reply, str):
        return {"meeting_ref": None, "answers": [], "problem": reply}
    ref = meeting_ref_of_uid(reply.uid, config.message_id_domain)
    return {"meeting_ref": ref, "problem": None if ref else "unknown-meeting",
            "answers": [{"day": a.day.isoformat() if a.day else None, "status": a.status}
                        for a in reply.answers]}


def interpret(raw: bytes, config: Config, *, now: datetime | None = None) -> dict[str, Any]:
    """The report of what the service would understand of ``raw`` (see module
    docstring). Relative dates count from the mail's Date header (else ``now``,
    else the current time)."""
    mail = parse_mail(raw, max_message_bytes=config.limits.max_message_bytes,
                      max_attachment_bytes=config.limits.max_attachment_bytes)
    report = _empty(mail)
    verdict = triage(mail, config, None)
    if verdict.outcome == "document":
        # A hospital's letter: what the archive says, never a command.
        report["command"] = "document"
        data = None if mail.too_large else attachment(
            raw, XDM_ATTACHMENT, max_bytes=config.limits.max_attachment_bytes)
        report["document"] = document_report(data, config)
        if report["document"]["error_code"] is not None:
            report["errors"].append(error_entry(
                "document", f"code {report['document']['error_code']}: "
                            f"{report['document']['error']}"))
        return report
    reason = ignored_reason(mail, config)
    if reason is not None:
        report["command"], report["ignored_reason"] = "ignored", reason
        if mail.automatic and carries_calendar(mail) and config.member(mail.from_address) \
                and domain_is_trusted(mail.from_address, config.trusted_domains):
            # A server-side calendar's answer: recorded all the same
            # (``absence_intake.from_automatic``).
            report["calendar_reply"] = calendar_report(raw, mail, config)
        return report
    detected = detect_command(mail.subject, mail.body, replying=answers_service(mail, config))
    if calendar_reply(mail, detected):
        report["command"] = "ignored"
        report["ignored_reason"] = "calendar answer to an invitation: recorded, never answered"
        report["calendar_reply"] = calendar_report(raw, mail, config)
        return report
    command = REGISTRY[detected.name] if detected.name is not None else None
    report["command"] = command.report if command is not None else UNKNOWN
    if mail.too_large:
        report["errors"].append(error_entry("message", mail.too_large))
        return report
    moment = mail.date or now or datetime.now(config.timezone)
    today = moment.astimezone(config.timezone).date()
    report["mail_date"] = today.isoformat()
    ctx = Context(mail, config, detected, today, report)
    (command.parse_step if command is not None else unknown)(ctx)
    return report


def exit_code(report: dict[str, Any]) -> int:
    """0: the service would act on the mail; 1: it would answer with the
    errors; 3: it would not process it (ignored or quarantined)."""
    if report["command"] == "ignored":
        return IGNORED
    return HAS_ERRORS if report["errors"] else VALID
