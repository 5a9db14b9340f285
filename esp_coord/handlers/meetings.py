"""Meeting commands: RCP NOUVELLE, RCP, ANNULER RCP-…, COMPTE-RENDU RCP-…,
and their invitations.

Meetings are loaded and saved through ``meeting_repo.MeetingRepository``;
who may plan, see, cancel a meeting or report on it is ``esp_coord.access``'s
(``docs/guide.md`` tells users the same). A refusal never says whether the
meeting or plan exists. After each change, the handler reconciles the
meeting's J-7 / J-1 reminders (``scheduling.meeting_reminders.schedule``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from esp_coord import absence_repo, access
from esp_coord.absence_repo import absence_words
from esp_coord.access import participants_of
from esp_coord.agenda import view_for
from esp_coord.answers import Answer
from esp_coord.invitations import cancellation_file, invitation_file
from esp_coord.meeting_repo import MeetingRepository
from esp_coord.plan_repo import PlanRepository
from esp_coord.processing import Request
from esp_coord.references import AgendaLines, agenda_lines, referenced_meeting
from esp_coord.roster import people_of
from esp_coord.scheduling.meeting_reminders import schedule
from esp_coord.scheduling.plan_reminders import plan_changed
from plans.absences import Absences
from plans.attendance import named_present
from plans.commands import Detected
from plans.drafts import LineError
from plans.meeting_grammar import Report, parse_cancel, parse_new_meeting, parse_report
from plans.meeting_render import (
    Listed,
    render_invitation_text,
    render_meeting_cancelled,
    render_meeting_created,
    render_meeting_report,
    render_meetings,
    render_plans_added,
)
from plans.meetings import Decision, Meeting, MeetingError, record_decision
from plans.model import PlanError
from plans.render import Rendered, render_errors
from plans.typography import french

from .common import sender_of, today_of
from .replies import (
    meeting_problem,
    meeting_refusal,
    meeting_reply,
    missing_meeting_ref,
    not_allowed,
    say,
)
from .trail import record

__all__ = ["add_to_agenda", "cancel_meeting", "list_meetings", "meeting_report",
           "new_meeting"]


def _meeting_for(request: Request, meetings: MeetingRepository, detected: Detected,
                 command: str) -> tuple[tuple[Meeting, int] | None, list[Answer]]:
    ref = referenced_meeting(request.mail, request.config, detected)
    if ref is None:
        return None, missing_meeting_ref(request, command)
    loaded = meetings.get(ref)
    if loaded is None or not access.may_reach(request.sender, loaded[0], request.config):
        record(request, "refused", ref, command)
        return None, meeting_refusal(request, ref)
    return loaded, []


def _managed_meeting(request: Request, meetings: MeetingRepository, detected: Detected,
                     command: str, what: str
                     ) -> tuple[tuple[Meeting, int] | None, list[Answer]]:
    """As ``_meeting_for``, for what only those who manage the meeting may do."""
    loaded, refused = _meeting_for(request, meetings, detected, command)
    if loaded is not None and not access.may_manage(request.sender, loaded[0]):
        return None, not_allowed(request, loaded[0], what)
    return loaded, refused


def _citable_plans(request: Request, plans: PlanRepository, refs: Sequence[str]
                   ) -> tuple[list[str], list[str]]:
    """(refs the sender may cite: active plans they may read; refs refused:
    unknown, closed or not theirs)."""
    ok, refused = [], []
    for ref in refs:
        loaded = plans.get(ref)
        if loaded is None or not access.may_cite(request.sender, loaded.plan):
            refused.append(ref)
        else:
            ok.append(ref)
    return ok, refused


def _plans_error(line_number: int | None, text: str, refused: Sequence[str],
                 ok: Sequence[str]) -> LineError:
    return LineError(line_number, text, f"{', '.join(refused)} : plan introuvable parmi les "
                     "plans actifs auxquels vous avez accès",
                     "des références de plans actifs de vos patients",
                     "Patients : " + (", ".join(ok) if ok else "PPS-2026-0001"), "patients")


def new_meeting(request: Request, detected: Detected) -> list[Answer]:
    tx, config, people = request.tx, request.config, people_of(request.config)
    plans, meetings = PlanRepository(tx), MeetingRepository.of(request)
    parsed = parse_new_meeting(detected.lines, today=today_of(request), tz=config.timezone,
                               sender=sender_of(request, people), roster=people,
                               now=request.now)
    errors = list(parsed.errors)
    draft = parsed.value
    if draft is not None and draft.plans:
        if not errors:
            # The acknowledgement shows the agenda of every active plan: load
            # them all now, and the plans named are not decrypted twice.
            plans.active()
        ok, refused = _citable_plans(request, plans, draft.plans)
        if refused:
            line = draft.plans_line
            errors.append(_plans_error(line.number if line else None, line.text if line else "",
                                       refused, ok))
    if errors or draft is None:
        return [meeting_reply(request, render_errors(errors, parsed.warnings,
                                                     command="RCP_NOUVELLE"), refused=True)]
    year = today_of(request).year
    ref = f"RCP-{year}-{tx.next_number('RCP', year):03d}"
    tz = config.timezone
    meeting = Meeting(ref=ref, start=draft.start, duration_minutes=int(
        draft.duration.total_seconds() // 60), location=draft.location,
        participants=draft.participants, organizer=request.sender.email,
        created_at=request.now, timezone=tz.key, rhythm=draft.rhythm, until=draft.until,
        everyone=draft.everyone, plans=list(draft.plans), notes=list(draft.notes))
    if draft.title:
        meeting.title = draft.title
    meetings.add(meeting, summary="création")
    schedule(tx, meeting, config, request.now)
    start = meeting.start.astimezone(tz)
    view = view_for(request.sender, meeting, start.date(), plans.active(), today_of(request),
                    late_after=config.reminders.overdue_days)
    ics = invitation_file(meeting, config, request.now, meeting.plans)
    answers = [meeting_reply(request, render_meeting_created(
        meeting, people=people, view=view, warnings=parsed.warnings,
        reminder_days=config.reminders.meeting_offsets), attachments=(ics,))]
    others = tuple(a for a in access.participants_of(meeting, config)
                   if a != request.sender.email)
    if others:
        rendered = render_invitation_text(meeting, people=people)
        answers.append(Answer(subject=rendered.subject, text=rendered.text, to=others,
                              attachments=(ics,), auto_submitted="auto-generated",
                              message_id_tag=f"{ref}.invitation.{meeting.sequence}"))
    record(request, "meeting_created", ref, f"sequence {meeting.sequence}")
    return answers


def list_meetings(request: Request, detected: Detected) -> list[Answer]:
    reading = agenda_lines(request.mail, request.config, detected)
    if reading is not None:
        return add_to_agenda(request, detected, reading)
    ref = referenced_meeting(request.mail, request.config, detected)
    tx, config, member = request.tx, request.config, request.sender
    today = today_of(request)
    meetings = MeetingRepository(tx)
    if ref:
        # One meeting named: only that one is decrypted.
        loaded = meetings.get(ref)
        candidates = [loaded[0]] if loaded is not None and loaded[0].is_active else []
    else:
        candidates = meetings.active()
    shown = []
    for meeting in candidates:
        if not access.lists_meeting(member, meeting, config):
            continue
        starts = meeting.occurrences(request.now, 3)
        if starts:
            shown.append((meeting, starts))
    # The plans are decrypted only for agendas to show.
    plans = PlanRepository(tx).active() if shown else []
    late_after = request.config.reminders.overdue_days
    absences, _ = absence_repo.load(tx) if shown else (Absences(), None)

    def away(meeting: Meeting, day: date) -> list[str]:
        invited = participants_of(meeting, config)
        return [absence_words(a, config) for a in absences.items
                if a.covers(day) and a.member in invited]

    entries = [Listed(m, starts, view_for(member, m, starts[0].date(), plans, today,
                                          late_after=late_after,
                                          absent=away(m, starts[0].date())))
               for m, starts in shown]
    if ref and not entries:
        record(request, "refused", ref, "RCP")
        return meeting_refusal(request, ref)
    record(request, "meeting_list", ref, f"{len(entries)} meeting(s)")
    return [meeting_reply(request, render_meetings(entries, people=people_of(config),
                                                   today=today))]


def add_to_agenda(request: Request, detected: Detected, reading: AgendaLines
                  ) -> list[Answer]:
    meetings = MeetingRepository.of(request)
    loaded, refused_answer = _meeting_for(request, meetings, detected, "RCP")
    if loaded is None:
        return refused_answer
    meeting, _ = loaded
    if not meeting.is_active:
        return meeting_problem(request, MeetingError("cancelled", meeting.ref))
    ok, refused = _citable_plans(request, PlanRepository(request.tx), reading.refs)
    error = (_plans_error(reading.line, reading.text, refused, ok) if refused
             else reading.missing())
    if error is not None:
        return [meeting_reply(request, render_errors([error], command="RCP", ref=meeting.ref),
                              refused=True)]
    added = meeting.add_plans(ok)
    if added:
        meetings.save(meeting, summary=f"{len(added)} plan(s) ajouté(s) à l'ordre du jour")
    warning = reading.ignored()
    rendered = render_plans_added(meeting, added, start=meeting.next_occurrence(request.now))
    if warning is not None:
        rendered = Rendered(rendered.subject, rendered.text + french(
            f"\nÀ noter : {warning}\n"))
    record(request, "meeting_agenda", meeting.ref, f"{len(added)} plan(s) added")
    return [meeting_reply(request, rendered)]


def cancel_meeting(request: Request, detected: Detected) -> list[Answer]:
    if detected.ref and detected.ref.startswith("PPS-"):
        return say(request, "Annulation", "ANNULER s'applique aux réunions de concertation "
                   "(par exemple « ANNULER RCP-2026-001 »). Pour clore un plan : CLORE "
                   f"{detected.ref} ; pour remettre à faire une action notée faite par "
                   f"erreur, par exemple l'action 3 : ANNULER FAIT 3 {detected.ref}. "
                   "Rien n'a été fait.", refused=True)
    meetings = MeetingRepository.of(request)
    loaded, refused = _managed_meeting(request, meetings, detected, "ANNULER", "l'annuler")
    if loaded is None:
        return refused
    meeting, _ = loaded
    parsed = parse_cancel(detected.args, detected.lines, today=today_of(request))
    if not parsed.ok or parsed.value is None:
        return [meeting_reply(request, render_errors(parsed.errors, parsed.warnings,
                                                     command="ANNULER_RCP", ref=meeting.ref),
                              refused=True)]
    day = parsed.value.day
    config = request.config
    attendees = access.participants_of(meeting, config)
    try:
        if day is None:
            meeting.cancel(by=request.sender.email, at=request.now)
        else:
            if meeting.at_day(day) + meeting.duration <= request.now:
                raise MeetingError("past", meeting.ref, day)
            meeting.cancel_occurrence(day, by=request.sender.email, at=request.now)
    except MeetingError as error:
        return meeting_problem(request, error)
    meetings.save(meeting, summary="annulation" + (f" du {day.isoformat()}" if day else ""))
    schedule(request.tx, meeting, config, request.now)
    one_day = day if meeting.is_active else None
    ics = cancellation_file(meeting, config, request.now, attendees, one_day)
    rendered = render_meeting_cancelled(meeting, day=one_day, by=request.sender.email,
                                        people=people_of(config), reason=parsed.value.reason)
    answers = [meeting_reply(request, rendered, attachments=(ics,))]
    others = tuple(a for a in attendees if a != request.sender.email)
    if others:
        answers.append(Answer(subject=rendered.subject, text=rendered.text, to=others,
                              attachments=(ics,), auto_submitted="auto-generated",
                              message_id_tag=f"{meeting.ref}.annulation.{meeting.sequence}"))
    record(request, "meeting_cancelled", meeting.ref,
           f"sequence {meeting.sequence}" + (f", {one_day.isoformat()}" if one_day else ""))
    return answers


def meeting_report(request: Request, detected: Detected) -> list[Answer]:
    meetings = MeetingRepository.of(request)
    loaded, refused = _managed_meeting(request, meetings, detected, "COMPTE-RENDU",
                                       "en donner le compte-rendu")
    if loaded is None:
        return refused
    meeting, _ = loaded
    parsed = parse_report(detected.args, detected.lines, today=today_of(request))
    report = parsed.value
    if not parsed.ok or report is None:
        return [meeting_reply(request, render_errors(parsed.errors, parsed.warnings,
                                                     command="COMPTE_RENDU", ref=meeting.ref),
                              refused=True)]
    day = report.day
    if day is None:
        last = meeting.last_started(request.now)
        if last is None:
            return meeting_problem(request, MeetingError("not_yet", meeting.ref))
        day = last.date()
    elif meeting.at_day(day) > request.now:
        return meeting_problem(request, MeetingError("not_yet", meeting.ref))
    plans = PlanRepository.of(request)
    decided, errors = _decided_plans(request, plans, report)
    if errors:
        return [meeting_reply(request, render_errors(errors, parsed.warnings,
                                                     command="COMPTE_RENDU", ref=meeting.ref),
                              refused=True)]
    decisions = [Decision(ref, text) for _, ref, text in report.decisions]
    try:
        meeting.record_report(day, decisions, by=request.sender.email, at=request.now,
                              notes=report.notes, source_message_id=request.mail.message_id)
    except MeetingError as error:
        return meeting_problem(request, error)
    done: list[tuple[str, str, date]] = []
    for decision in decisions:
        loaded_plan = plans.get(decision.plan)
        assert loaded_plan is not None  # among ``decided``
        plan = loaded_plan.plan
        try:
            review = record_decision(plan, decision.text, meeting_ref=meeting.ref, day=day,
                                     by=request.sender.email, at=request.now,
                                     source_message_id=request.mail.message_id)
        except PlanError:
            continue  # checked active above: cannot happen
        plans.save(plan, summary=f"décision de la concertation {meeting.ref}")
        plan_changed(request.tx, plan, request.config, request.now, loaded_plan.original())
        done.append((decision.plan, decision.text, review))
    meetings.save(meeting, summary=f"compte-rendu du {day.isoformat()}")
    schedule(request.tx, meeting, request.config, request.now)
    present = named_present(report.notes, participants=participants_of(meeting, request.config),
                            roster=people_of(request.config))
    rendered = render_meeting_report(meeting, day=day, decisions=done, notes=report.notes,
                                     warnings=parsed.warnings, present=present)
    for ref in decided:
        record(request, "meeting_decision", ref, f"{meeting.ref} {day.isoformat()}")
    record(request, "meeting_report", meeting.ref,
           f"{day.isoformat()}, {len(done)} decision(s)")
    return [meeting_reply(request, rendered)]


def _decided_plans(request: Request, plans: PlanRepository, report: Report
                   ) -> tuple[list[str], list[LineError]]:
    """The plans the decisions are about, in order (each once), or an error for
    each decision about a plan the sender may not cite."""
    decided: list[str] = []
    errors: list[LineError] = []
    for number, ref, text in report.decisions:
        if ref in decided:
            continue
        loaded = plans.get(ref)
        if loaded is None or not access.may_cite(request.sender, loaded.plan):
            errors.append(LineError(number, f"{ref} : {text}", f"{ref} : plan introuvable "
                                    "parmi les plans actifs auxquels vous avez accès",
                                    "la référence d'un plan actif de vos patients",
                                    f"PPS-2026-0001 : {text}", "decision"))
            continue
        decided.append(ref)
    return decided, errors
