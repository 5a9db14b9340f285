"""The report's figures recounted from the audit trail (``esp-coord report --verify``).

The report reads the stored plans and meetings (``report.gather``); the audit
trail is a second, hash-chained record of every change, written by the
handlers as they go (``handlers.trail``). Where the trail says enough, the
figure is recounted from it alone, and the two must agree:

- plans created, closed, active at the end of the period: the ``create`` and
  ``close`` records (their instant is the plan's creation or closing);
- meetings held, decisions, patients per meeting, share of active plans
  reviewed: the ``meeting_report`` records (« 2026-12-03, 2 decision(s) »)
  and the ``meeting_decision`` records (one per plan decided upon);
- announced attendance and calendar answers: the ``calendar-reply`` records
  (« accepted 2026-12-03 », « declined all »), replayed on the stored
  meetings' days as the service recorded them.

The other figures come from what the trail holds no trace of (the minutes'
« Présents : » line, due dates, care teams, protocols, the mailbox's
register): each says where it is read instead. No funding threshold and no
patient data here: records hold references, counts and dates only.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from esp_coord.config import Member
from esp_coord.itip_reply import AUDIT_RECORDED
from esp_coord.report.attendance import attendance
from esp_coord.report.indicators import Figure, Report
from esp_coord.report.render import shown
from esp_coord.store.audit import AuditRecord
from plans.attendance import STATUSES, CalendarReply, with_reply
from plans.meetings import Meeting
from plans.periods import Period

__all__ = ["DIFFERS", "ELSEWHERE", "MATCH", "SOURCES", "Check", "Recount", "recount", "verify"]

MATCH, DIFFERS, ELSEWHERE = "concorde", "écart", "hors journal"

# Where the figures the trail cannot recount are read (French, for the output).
SOURCES = {
    "plans_by_protocol": "les protocoles appliqués, lus dans les plans",
    "plans_by_theme": "les thèmes, lus dans les plans",
    "attendance": "la ligne « Présents : » des comptes rendus, lue dans les réunions",
    "attendance_by_profession": "la ligne « Présents : » des comptes rendus, lue dans les "
                                "réunions",
    "protocols_in_use": "les protocoles appliqués, lus dans les plans",
    "followups_on_time": "les échéances et les dates de réalisation, lues dans les plans",
    "followups_late": "les échéances et les dates de réalisation, lues dans les plans",
    "followups_delay": "les échéances et les dates de réalisation, lues dans les plans",
    "followups_open": "les échéances, lues dans les plans",
    "professionals": "les équipes de soins, lues dans les plans",
    "actions_by_profession": "les dates de réalisation, lues dans les plans",
    "coordination": "l’annuaire de l’équipe (configuration)",
    "mails_handled": "le registre des messages traités",
    "mails_answered": "le registre des messages traités",
    "mails_quarantined": "le registre des messages traités",
    "answer_time": "le registre des messages traités et la file d’envoi",
    "hospital_documents": "pas encore disponible",
}


@dataclass(frozen=True)
class Check:
    key: str
    label: str
    status: str  # MATCH, DIFFERS or ELSEWHERE
    report: str  # the report's value (and breakdown), as compared
    trail: str  # the recount, "" when the trail cannot give it
    source: str = ""  # where the figure is read, when not in the trail


@dataclass(frozen=True)
class Recount:
    figures: dict[str, tuple[object, dict[str, int]]]  # key -> (value, breakdown)
    unreadable: int  # records whose detail could not be read (never expected)


def _day(at: datetime, tz: ZoneInfo) -> date:
    return at.astimezone(tz).date()


def _iso_day(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        return None


def recount(records: Sequence[AuditRecord], meetings: Sequence[Meeting],
            members: Sequence[Member], period: Period, tz: ZoneInfo) -> Recount:
    created: dict[str, date] = {}
    closed: dict[str, date] = {}
    held: dict[tuple[str, date], int] = {}  # (meeting, day) -> decisions
    decided: dict[tuple[str, date], set[str]] = defaultdict(set)  # (meeting, day) -> plans
    answers: dict[str, list[CalendarReply]] = defaultdict(list)
    unreadable = 0
    for r in records:
        if r.action == "create" and r.ref:
            created.setdefault(r.ref, _day(r.at, tz))
        elif r.action == "close" and r.ref:
            closed.setdefault(r.ref, _day(r.at, tz))
        elif r.action == "meeting_report" and r.ref:
            day_text, _, rest = r.detail.partition(",")
            day, number = _iso_day(day_text), rest.strip().split(" ", 1)[0]
            if day is None or not number.isdigit():
                unreadable += 1
            else:
                held[(r.ref, day)] = int(number)
        elif r.action == "meeting_decision" and r.ref:
            meeting, _, day_text = r.detail.partition(" ")
            day = _iso_day(day_text)
            if day is None:
                unreadable += 1
            else:
                decided[(meeting, day)].add(r.ref)
        elif r.action == AUDIT_RECORDED and r.ref:
            status, _, day_text = r.detail.partition(" ")
            day = None if day_text == "all" else _iso_day(day_text)
            if status not in STATUSES or (day is None and day_text != "all"):
                unreadable += 1
            else:
                answers[r.ref] = with_reply(answers[r.ref], CalendarReply(
                    r.actor, status, day, r.at, 0, r.source_message_id))

    def active_during(ref: str) -> bool:
        end = closed.get(ref)
        return created[ref] <= period.end and (end is None or end >= period.start)

    in_period = [(key, n) for key, n in held.items() if key[1] in period]
    per_meeting = [len(decided.get(key, set())) for key, _ in in_period]
    reviewed = {p for key, _ in in_period for p in decided.get(key, set())}
    active = {ref for ref in created if active_during(ref)}
    replayed = [dataclasses.replace(m, replies=answers.get(m.ref, [])) for m in meetings]
    came = attendance(replayed, period, members)
    figures: dict[str, tuple[object, dict[str, int]]] = {
        "plans_created": (sum(1 for d in created.values() if d in period), {}),
        "plans_closed": (sum(1 for d in closed.values() if d in period), {}),
        "plans_active": (sum(1 for ref in active if closed.get(ref) is None
                             or closed[ref] > period.end), {}),
        "meetings_held": (len(in_period), {}),
        "decisions": (sum(n for _, n in in_period), {}),
        "patients_per_meeting": (
            round(statistics.mean(per_meeting), 1) if per_meeting else None, {}),
        "share_reviewed": (round(100 * len(reviewed & active) / len(active), 1)
                           if active else None, {}),
        "attendance_intended": (sum(came.intended.values()), came.intended),
        "attendance_intended_by_profession": (sum(came.intended_by_profession.values()),
                                              dict(came.intended_by_profession)),
        "calendar_answers": (sum(came.answers.values()), dict(came.answers)),
    }
    return Recount(figures, unreadable)


def _shown(figure: Figure, value: object, breakdown: dict[str, int]) -> str:
    """As the report's text shows it (exact counts: this is for the coordination)."""
    text = shown(figure, value if isinstance(value, (int, float, str)) else None,
                 external=False)
    if breakdown:
        text += " (" + ", ".join(f"{k} : {v}" for k, v in sorted(breakdown.items())) + ")"
    return text


def _same(figure: Figure, value: object, breakdown: dict[str, int]) -> bool:
    ours = figure.value
    if isinstance(ours, float) or isinstance(value, float):
        close = ours is not None and value is not None and abs(
            float(ours) - float(value)) < 0.05  # type: ignore[arg-type]
    else:
        close = ours == value
    return close and dict(figure.breakdown) == breakdown


def verify(report: Report, counted: Recount) -> list[Check]:
    """Each figure of ``report``: recounted and compared, or where it is read."""
    checks: list[Check] = []
    for section in report.sections:
        for f in section.figures:
            ours = _shown(f, f.value, dict(f.breakdown))
            if f.key not in counted.figures:
                checks.append(Check(f.key, f.label, ELSEWHERE, ours, "",
                                    SOURCES.get(f.key, "lu dans les plans et les réunions")))
                continue
            value, breakdown = counted.figures[f.key]
            checks.append(Check(f.key, f.label, MATCH if _same(f, value, breakdown) else DIFFERS,
                                ours, _shown(f, value, breakdown)))
    return checks
