"""Meeting commands: RCP NOUVELLE, RCP, ANNULER RCP-…, COMPTE-RENDU RCP-…,
their invitations and their J-7 / J-1 reminders.

Meetings are encrypted documents of kind "meeting" (``RCP-2026-001``); their
participants' addresses are the document's members (in clear: not patient
data). Who may do what (``docs/guide.md`` tells users the same):

- any member of the roster may plan a meeting (``RCP NOUVELLE``); the plans
  they put on its agenda must be plans they may read;
- ``RCP`` lists the meetings one takes part in (the coordination sees them
  all), each agenda restricted to the plans the reader may read; ``RCP
  RCP-…`` with a ``Patients`` line adds plans to the agenda (participants,
  organiser, coordination);
- cancelling and the compte-rendu belong to the organiser, the coordination
  and the team's referents; each decision must be about a plan the writer may
  read. A refusal never says whether the meeting or plan exists.

Reminders: for each of the next two occurrences, one reminder per
participant and per ``[reminders] meeting_offsets`` day (J-7, J-1 by
default), at ``[reminders] hour`` team-local time, reconciled with
``tx.replace_reminders`` on every change, at every reminder composed or
dropped, and for every active series at engine start (``schedule_all``): a
stop longer than the rows made ahead closes the rows of meetings already
over and makes the next ones. The composer drops the reminder of a cancelled
occurrence, a participant who left or a meeting already over.

A reminder missed while the service was down is sent late only if the
meeting is still ahead and no closer reminder of the same meeting and person
is due as well (after a stop over J-7 and J-1, only the J-1 goes out: two
mails the same morning would say the same thing). It is worded from the real
gap (« demain », « aujourd'hui »), never from its planned offset.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from esp_coord.answers import Answer, reply_subject
from esp_coord.config import Config, Member
from esp_coord.intake import IncomingMail
from esp_coord.invitations import attachment, cancellation, invitation
from esp_coord.outgoing import OutAttachment
from esp_coord.ports import UnitOfWork
from esp_coord.processing import Request
from esp_coord.scheduling.registry import Registered
from esp_coord.store.reminders import Reminder, ReminderSpec, keeping
from plans.commands import Detected
from plans.drafts import LineError, LineWarning
from plans.meeting_grammar import (
    Report,
    parse_cancel,
    parse_new_meeting,
    parse_plan_refs,
    parse_report,
)
from plans.meeting_render import (
    AgendaView,
    Listed,
    describe_start,
    render_invitation_text,
    render_meeting_cancelled,
    render_meeting_created,
    render_meeting_report,
    render_meetings,
    render_plans_added,
    render_reminder,
)
from plans.meetings import Decision, Meeting, MeetingError, agenda, record_decision
from plans.model import Plan, PlanError
from plans.render import Rendered, render_errors
from plans.typography import french

from .plans import KIND as PLAN_KIND
from .plans import load_plan, may_read, people_of, save_plan, today_of
from .trail import record

KIND = "meeting"
_OWN_MEETING = re.compile(r"^<(RCP-\d{4}-\d{3})\.[^@>]*@(.+)>$")
_TAGGED = re.compile(r"^\[(RCP-\d{4}-\d{3})\]")
REMINDER_KIND = "meeting_reminder"
# Reminders are kept for this many upcoming occurrences; the composer adds
# the next ones as the series goes on.
AHEAD = 2


# --- storage -------------------------------------------------------------------


def load_meeting(tx: UnitOfWork, ref: str) -> tuple[Meeting, int] | None:
    doc = tx.load_document(KIND, ref)
    if doc is None:
        return None
    return Meeting.from_dict(doc.data), doc.version


def save_meeting(request: Request, meeting: Meeting, *, expected: int | None,
                       summary: str) -> int:
    """Saves the meeting as changed by the request's mail, with its history line."""
    tx, at = request.tx, request.now
    version = tx.save_document(
        kind=KIND, ref=meeting.ref, data=meeting.to_dict(), status=meeting.status,
        expected_version=expected, members={meeting.organizer, *meeting.participants}, at=at)
    tx.add_history(kind=KIND, ref=meeting.ref, version=version,
                         author=request.sender.email,
                         source_message_id=request.mail.message_id, at=at,
                         change={"summary": summary})
    return version


def participants_of(meeting: Meeting, config: Config) -> list[str]:
    """Who is invited now: « tous » follows the roster; others must still be on it."""
    roster = [m.email for m in config.members]
    if meeting.everyone:
        return roster
    return [a for a in meeting.participants if a in roster]


def takes_part(member: Member, meeting: Meeting, config: Config) -> bool:
    return member.email == meeting.organizer or member.email in participants_of(meeting, config)


def may_manage(member: Member, meeting: Meeting) -> bool:
    return member.is_coordinator or member.is_referent or member.email == meeting.organizer


# --- agenda ----------------------------------------------------------------------


def active_plans(tx: UnitOfWork) -> list[Plan]:
    return [Plan.from_dict(d.data) for d in tx.find_documents(PLAN_KIND, status="active")]


def view_for(member: Member | None, meeting: Meeting, day: date, plans: Sequence[Plan],
             today: date) -> AgendaView:
    items = agenda(plans, hand=meeting.plans, day=day, today=today)
    by_ref = {p.ref: p for p in plans}
    return AgendaView(items, {i.ref: by_ref[i.ref].patient.display_name for i in items
                              if member is not None and may_read(member, by_ref[i.ref])})


def next_meeting_for(tx: UnitOfWork, plan_ref: str, now: datetime, config: Config
                           ) -> str | None:
    """« jeudi 3 décembre 2026 à 12h30 (RCP-2026-001, salle …) »: the next
    occurrence of a meeting whose agenda holds the plan, or None."""
    loaded = load_plan(tx, plan_ref)
    if loaded is None or not loaded.plan.is_active:
        return None
    plan = loaded.plan
    today = now.astimezone(config.timezone).date()
    best: tuple[datetime, Meeting] | None = None
    for doc in tx.find_documents(KIND, status="active"):
        meeting = Meeting.from_dict(doc.data)
        start = meeting.next_occurrence(now)
        if start is None or (best is not None and start >= best[0]):
            continue
        if agenda([plan], hand=meeting.plans, day=start.date(), today=today):
            best = (start, meeting)
    if best is None:
        return None
    start, meeting = best
    where = f", {meeting.location}" if meeting.location else ""
    return f"{describe_start(start)} ({meeting.ref}{where})"


# --- invitations and reminders -----------------------------------------------------


def _names(config: Config, addresses: Sequence[str]) -> list[tuple[str, str]]:
    names = {m.email: m.name for m in config.members}
    return [(names.get(a, ""), a) for a in addresses]


def invitation_file(meeting: Meeting, config: Config, now: datetime,
                    agenda_refs: Sequence[str] = ()) -> OutAttachment:
    data = invitation(meeting, domain=config.message_id_domain,
                      organizer=(config.bot_name, config.bot_address),
                      attendees=_names(config, participants_of(meeting, config)), now=now,
                      agenda_refs=agenda_refs)
    return attachment(data, "REQUEST")


def reminder_specs(meeting: Meeting, config: Config, now: datetime) -> list[ReminderSpec]:
    """J-N reminders of the next ``AHEAD`` occurrences, one per participant:
    those ahead of ``now`` and, for a meeting still to come, the latest one
    whose time has passed since the meeting was planned (owed: see ``schedule``)."""
    specs: list[ReminderSpec] = []
    settings = config.reminders
    for start in meeting.occurrences(now, AHEAD):
        day = start.date()
        dues = sorted(((datetime.combine(day - timedelta(days=offset), settings.hour,
                                         tzinfo=meeting.tz), offset)
                       for offset in settings.meeting_offsets), reverse=True)
        # J-0 after the meeting has started says nothing useful.
        dues = [(due, offset) for due, offset in dues if due < start]
        past = [(due, offset) for due, offset in dues if due < now]
        # Of those missed, the closest only, for a meeting not yet started; none
        # from before the meeting existed (no J-7 for a meeting planned three
        # days ahead).
        owed = past[:1] if start > now else []
        wanted = [d for d in dues if d[0] >= now] + [
            d for d in owed if d[0] >= meeting.created_at]
        for due, offset in wanted:
            for address in participants_of(meeting, config):
                specs.append(ReminderSpec(
                    key=f"{meeting.ref}:{day.isoformat()}:J-{offset}:{address}",
                    kind=REMINDER_KIND, source_ref=meeting.ref, recipient=address, due_at=due,
                    payload={"meeting": meeting.ref, "day": day.isoformat(), "offset": offset}))
    return specs


def schedule(tx: UnitOfWork, meeting: Meeting, config: Config, now: datetime,
                   keep: Reminder | None = None) -> None:
    """Reconcile the meeting's reminder rows; ``keep`` (the row being sent)
    stays as it is even if the settings changed since it was planned.

    A row owed but never made (its time passed during a stop longer than the
    rows made ahead) is added as it would have been, to go out late at once:
    the store never makes a past row on its own, and a key already there
    (sent, dropped, cancelled) is never made again."""
    specs = reminder_specs(meeting, config, now)
    tx.replace_reminders(meeting.ref, keeping(specs, keep), now)
    owed = [spec for spec in specs if spec.due_at < now]
    if owed:
        tx.add_reminders(owed, now)


def schedule_all(tx: UnitOfWork, config: Config, now: datetime) -> None:
    """Engine start: every active meeting's rows reconciled from now on."""
    for doc in tx.find_documents(KIND, status="active"):
        schedule(tx, Meeting.from_dict(doc.data), config, now)


def _superseded(tx: UnitOfWork, reminder: Reminder, now: datetime) -> bool:
    """A later reminder of the same meeting day and person is due too (both
    missed during a stop): only that one is sent."""
    return any(row.id != reminder.id and row.recipient == reminder.recipient
               and row.payload.get("day") == reminder.payload["day"]
               and reminder.due_at < row.due_at <= now
               for row in tx.reminders_of(reminder.source_ref, status="pending"))


def compose_reminder(tx: UnitOfWork, reminder: Reminder, now: datetime,
                           config: Config) -> list[Answer]:
    """One meeting reminder: the agenda as its recipient may see it, the
    invitation. Nothing (the row is dropped) for a cancelled meeting or day, a
    participant who left, a meeting already over, or a stale reminder (see
    the module docstring)."""
    loaded = load_meeting(tx, reminder.source_ref)
    member = config.member(reminder.recipient)
    if loaded is None:
        return []
    meeting, _ = loaded
    # First of all, whatever happens to this row: the series goes on.
    schedule(tx, meeting, config, now, keep=reminder)
    day = date.fromisoformat(reminder.payload["day"])
    start = meeting.at_day(day)
    if (member is None or not meeting.is_active or day in meeting.cancelled
            or start + meeting.duration <= now
            or member.email not in participants_of(meeting, config)
            or _superseded(tx, reminder, now)):
        return []
    today = now.astimezone(meeting.tz).date()
    plans = active_plans(tx)
    view = view_for(member, meeting, day, plans, today)
    # From the real gap: a reminder sent late must not announce « dans 7 jours ».
    rendered = render_reminder(meeting, start=start, days_before=max(0, (day - today).days),
                               people=people_of(config), view=view)
    return [Answer(subject=rendered.subject, text=rendered.text, to=(member.email,),
                   attachments=(invitation_file(meeting, config, now, view.refs),),
                   message_id_tag=f"{meeting.ref}.rappel.{day.isoformat()}",
                   auto_submitted="auto-generated")]


KINDS = {REMINDER_KIND: Registered(compose_reminder, rebuild=schedule_all)}


# --- answers -----------------------------------------------------------------------


def _reply(request: Request, rendered: Rendered, *,
           attachments: tuple[OutAttachment, ...] = ()) -> Answer:
    # Acknowledgements carry the meeting's tag in the subject and their
    # Message-ID starts with its reference: a reply to them finds the meeting.
    tagged = _TAGGED.match(rendered.subject)
    if tagged is None:
        return Answer(subject=reply_subject(request.mail.subject, rendered.subject),
                      text=rendered.text, attachments=attachments)
    return Answer(subject=rendered.subject, text=rendered.text, attachments=attachments,
                  message_id_tag=f"{tagged.group(1)}.ack")


def _say(request: Request, subject: str, body: str) -> list[Answer]:
    text = french(f"Bonjour {request.sender.name},\n\n{body}\n")
    return [Answer(subject=reply_subject(request.mail.subject, subject), text=text)]


def meeting_refusal(request: Request, ref: str | None) -> list[Answer]:
    """Identical whether the meeting does not exist or is not the sender's."""
    what = f"la réunion {ref}" if ref else "la réunion visée"
    return _say(request, "Réunion introuvable",
                f"Je ne trouve pas {what} parmi vos réunions de concertation. Rien n'a été "
                "fait.\n\nVérifiez la référence (par exemple RCP-2026-001) ; RCP vous renvoie "
                "vos prochaines réunions.")


def _missing_ref(request: Request, command: str) -> list[Answer]:
    return _say(request, "Réunion non précisée",
                f"Pour {command}, indiquez la réunion : écrivez sa référence avec la commande, "
                f"par exemple « {command} RCP-2026-001 ». Rien n'a été fait.")


def _not_allowed(request: Request, meeting: Meeting, what: str) -> list[Answer]:
    return _say(request, f"[{meeting.ref}] {what.capitalize()}",
                f"Seuls l'organisateur de la réunion {meeting.ref}, la coordination et les "
                f"référents de l'équipe peuvent {what}. Rien n'a été fait.")


def _problem(request: Request, error: MeetingError) -> list[Answer]:
    day = f"le {error.day:%d/%m/%Y}" if error.day else ""
    reasons = {
        "cancelled": f"la réunion {error.ref} est annulée",
        "no_occurrence": f"la réunion {error.ref} n'a pas lieu {day}",
        "occurrence_cancelled": f"la réunion {error.ref} du {error.day:%d/%m/%Y} est déjà "
                                "annulée" if error.day else "cette date est déjà annulée",
        "not_yet": f"la réunion {error.ref} n'a pas encore eu lieu",
        "past": f"la réunion {error.ref} du {error.day:%d/%m/%Y} est déjà passée"
                if error.day else "cette réunion est déjà passée",
        "already_held": f"le compte-rendu de la réunion {error.ref} du "
                        f"{error.day:%d/%m/%Y} est déjà enregistré" if error.day else "",
    }
    return _say(request, f"[{error.ref}] Rien n'a été fait",
                f"Rien n'a été fait : {reasons.get(error.code, 'demande impossible')}. "
                "RCP vous renvoie vos prochaines réunions et leurs dates.")


def referenced_meeting(mail: IncomingMail, config: Config, detected: Detected) -> str | None:
    """The meeting a mail is about: written reference, else the service's own
    mail about a meeting that it answers (their Message-IDs start with the ref).
    No database: ``esp-coord parse`` uses it too."""
    if detected.ref and detected.ref.startswith("RCP-"):
        return detected.ref
    domain = config.message_id_domain
    for mid in (*mail.in_reply_to, *reversed(mail.references)):
        m = _OWN_MEETING.match(mid)
        if m and m.group(2).lower() == domain:
            return m.group(1)
    return None


@dataclass(frozen=True)
class AgendaLines:
    """The plans an ``RCP RCP-…`` mail puts on the meeting's agenda, as written."""

    line: int | None  # the first written line
    text: str  # the lines joined, without their « Patients : » keys
    refs: list[str]
    rest: list[str]  # words that are not plan references

    def missing(self) -> LineError | None:
        if self.refs:
            return None
        return LineError(self.line, self.text, "aucune référence de plan n'est donnée",
                         "une ligne « Patients : » suivie de références de plans",
                         "Patients : PPS-2026-0001", "patients")

    def ignored(self) -> LineWarning | None:
        if not self.rest:
            return None
        return LineWarning(self.line, self.text, f"« {' '.join(self.rest)[:60]} » ignoré : "
                           "ce n'est pas une référence de plan")


def agenda_lines(mail: IncomingMail, config: Config, detected: Detected) -> AgendaLines | None:
    """``RCP`` about one meeting and with lines puts plans on its agenda; None
    when the mail lists meetings. No database: ``esp-coord parse`` uses it too."""
    lines = [(n, t) for n, t in detected.lines if t.strip()]
    if referenced_meeting(mail, config, detected) is None or not lines:
        return None
    text = " ".join(t.split(":", 1)[-1] for _, t in lines)
    refs, rest = parse_plan_refs(text)
    return AgendaLines(lines[0][0], text, refs, rest)


def _meeting_for(request: Request, detected: Detected, command: str
                       ) -> tuple[tuple[Meeting, int] | None, list[Answer]]:
    ref = referenced_meeting(request.mail, request.config, detected)
    if ref is None:
        return None, _missing_ref(request, command)
    loaded = load_meeting(request.tx, ref)
    if loaded is None or not (takes_part(request.sender, loaded[0], request.config)
                              or may_manage(request.sender, loaded[0])):
        record(request, "refused", ref, command)
        return None, meeting_refusal(request, ref)
    return loaded, []


def _managed_meeting(request: Request, detected: Detected, command: str, what: str
                           ) -> tuple[tuple[Meeting, int] | None, list[Answer]]:
    """As ``_meeting_for``, for what only those who manage the meeting may do."""
    loaded, refused = _meeting_for(request, detected, command)
    if loaded is not None and not may_manage(request.sender, loaded[0]):
        return None, _not_allowed(request, loaded[0], what)
    return loaded, refused


def _readable_plans(request: Request, refs: Sequence[str]) -> tuple[list[str], list[str]]:
    """(refs the sender may read and are active, refs refused: unknown, closed or not theirs)."""
    ok, refused = [], []
    for ref in refs:
        loaded = load_plan(request.tx, ref)
        if loaded is None or not loaded.plan.is_active or not may_read(request.sender,
                                                                       loaded.plan):
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


# --- handlers ------------------------------------------------------------------------


def new_meeting(request: Request, detected: Detected) -> list[Answer]:
    tx, config, people = request.tx, request.config, people_of(request.config)
    sender = next(p for p in people if p.email == request.sender.email)
    parsed = parse_new_meeting(detected.lines, today=today_of(request), tz=config.timezone,
                               sender=sender, roster=people, now=request.now)
    errors = list(parsed.errors)
    draft = parsed.value
    if draft is not None and draft.plans:
        ok, refused = _readable_plans(request, draft.plans)
        if refused:
            line = draft.plans_line
            errors.append(_plans_error(line.number if line else None, line.text if line else "",
                                       refused, ok))
    if errors or draft is None:
        return [_reply(request, render_errors(errors, parsed.warnings, command="RCP_NOUVELLE"))]
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
    save_meeting(request, meeting, expected=None, summary="création")
    schedule(tx, meeting, config, request.now)
    start = meeting.start.astimezone(tz)
    plans = active_plans(tx)
    view = view_for(request.sender, meeting, start.date(), plans, today_of(request))
    ics = invitation_file(meeting, config, request.now, meeting.plans)
    answers = [_reply(request, render_meeting_created(
        meeting, people=people, view=view, warnings=parsed.warnings,
        reminder_days=config.reminders.meeting_offsets), attachments=(ics,))]
    others = tuple(a for a in participants_of(meeting, config) if a != request.sender.email)
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
    docs = tx.find_documents(KIND, status="active")
    plans = active_plans(tx)
    entries: list[Listed] = []
    for doc in docs:
        meeting = Meeting.from_dict(doc.data)
        if ref and meeting.ref != ref:
            continue
        if not (member.is_coordinator or takes_part(member, meeting, config)):
            continue
        starts = meeting.occurrences(request.now, 3)
        if not starts:
            continue
        entries.append(Listed(meeting, starts, view_for(member, meeting, starts[0].date(),
                                                        plans, today)))
    if ref and not entries:
        record(request, "refused", ref, "RCP")
        return meeting_refusal(request, ref)
    record(request, "meeting_list", ref, f"{len(entries)} meeting(s)")
    return [_reply(request, render_meetings(entries, people=people_of(config), today=today))]


def add_to_agenda(request: Request, detected: Detected, reading: AgendaLines
                        ) -> list[Answer]:
    loaded, refused_answer = _meeting_for(request, detected, "RCP")
    if loaded is None:
        return refused_answer
    meeting, version = loaded
    if not meeting.is_active:
        return _problem(request, MeetingError("cancelled", meeting.ref))
    ok, refused = _readable_plans(request, reading.refs)
    error = (_plans_error(reading.line, reading.text, refused, ok) if refused
             else reading.missing())
    if error is not None:
        return [_reply(request, render_errors([error], command="RCP", ref=meeting.ref))]
    added = meeting.add_plans(ok)
    if added:
        save_meeting(request, meeting, expected=version,
                           summary=f"{len(added)} plan(s) ajouté(s) à l'ordre du jour")
    warning = reading.ignored()
    rendered = render_plans_added(meeting, added, start=meeting.next_occurrence(request.now))
    if warning is not None:
        rendered = Rendered(rendered.subject, rendered.text + french(
            f"\nÀ noter : {warning}\n"), rendered.html)
    record(request, "meeting_agenda", meeting.ref, f"{len(added)} plan(s) added")
    return [_reply(request, rendered)]


def cancel_meeting(request: Request, detected: Detected) -> list[Answer]:
    if detected.ref and detected.ref.startswith("PPS-"):
        return _say(request, "Annulation", "ANNULER s'applique aux réunions de concertation "
                    "(par exemple « ANNULER RCP-2026-001 »). Pour clore un plan : CLORE "
                    f"{detected.ref} ; pour remettre à faire une action notée faite par "
                    f"erreur, par exemple l'action 3 : ANNULER FAIT 3 {detected.ref}. "
                    "Rien n'a été fait.")
    loaded, refused = _managed_meeting(request, detected, "ANNULER", "l'annuler")
    if loaded is None:
        return refused
    meeting, version = loaded
    parsed = parse_cancel(detected.args, detected.lines, today=today_of(request))
    if not parsed.ok or parsed.value is None:
        return [_reply(request, render_errors(parsed.errors, parsed.warnings,
                                              command="ANNULER_RCP", ref=meeting.ref))]
    day = parsed.value.day
    attendees = participants_of(meeting, request.config)
    try:
        if day is None:
            meeting.cancel(by=request.sender.email, at=request.now)
        else:
            if meeting.at_day(day) + meeting.duration <= request.now:
                raise MeetingError("past", meeting.ref, day)
            meeting.cancel_occurrence(day, by=request.sender.email, at=request.now)
    except MeetingError as error:
        return _problem(request, error)
    save_meeting(request, meeting, expected=version,
                       summary="annulation" + (f" du {day.isoformat()}" if day else ""))
    schedule(request.tx, meeting, request.config, request.now)
    one_day = day if meeting.is_active else None
    config = request.config
    data = cancellation(meeting, domain=config.message_id_domain,
                        organizer=(config.bot_name, config.bot_address),
                        attendees=_names(config, attendees), now=request.now, day=one_day)
    ics = attachment(data, "CANCEL")
    people = people_of(config)
    rendered = render_meeting_cancelled(meeting, day=one_day, by=request.sender.email,
                                        people=people, reason=parsed.value.reason)
    answers = [_reply(request, rendered, attachments=(ics,))]
    others = tuple(a for a in attendees if a != request.sender.email)
    if others:
        answers.append(Answer(subject=rendered.subject, text=rendered.text, to=others,
                              attachments=(ics,), auto_submitted="auto-generated",
                              message_id_tag=f"{meeting.ref}.annulation.{meeting.sequence}"))
    record(request, "meeting_cancelled", meeting.ref,
                 f"sequence {meeting.sequence}"
                 + (f", {one_day.isoformat()}" if one_day else ""))
    return answers


def meeting_report(request: Request, detected: Detected) -> list[Answer]:
    loaded, refused = _managed_meeting(request, detected, "COMPTE-RENDU",
                                             "en donner le compte-rendu")
    if loaded is None:
        return refused
    meeting, version = loaded
    parsed = parse_report(detected.args, detected.lines, today=today_of(request))
    report = parsed.value
    if not parsed.ok or report is None:
        return [_reply(request, render_errors(parsed.errors, parsed.warnings,
                                              command="COMPTE_RENDU", ref=meeting.ref))]
    day = report.day
    if day is None:
        last = meeting.last_started(request.now)
        if last is None:
            return _problem(request, MeetingError("not_yet", meeting.ref))
        day = last.date()
    elif meeting.at_day(day) > request.now:
        return _problem(request, MeetingError("not_yet", meeting.ref))
    loaded_plans, errors = _decided_plans(request, report)
    if errors:
        return [_reply(request, render_errors(errors, parsed.warnings, command="COMPTE_RENDU",
                                              ref=meeting.ref))]
    decisions = [Decision(ref, text) for _, ref, text in report.decisions]
    try:
        meeting.record_report(day, decisions, by=request.sender.email, at=request.now,
                              notes=report.notes, source_message_id=request.mail.message_id)
    except MeetingError as error:
        return _problem(request, error)
    done: list[tuple[str, str, date]] = []
    for decision in decisions:
        plan, plan_version = loaded_plans[decision.plan]
        try:
            review = record_decision(plan, decision.text, meeting_ref=meeting.ref, day=day,
                                     by=request.sender.email, at=request.now,
                                     source_message_id=request.mail.message_id)
        except PlanError:
            continue  # checked active above: cannot happen
        loaded_plans[decision.plan] = (plan, save_plan(
            request.tx, plan, expected=plan_version, request=request,
            summary=f"décision de la concertation {meeting.ref}"))
        done.append((decision.plan, decision.text, review))
    save_meeting(request, meeting, expected=version,
                       summary=f"compte-rendu du {day.isoformat()}")
    schedule(request.tx, meeting, request.config, request.now)
    rendered = render_meeting_report(meeting, day=day, decisions=done, notes=report.notes,
                                     warnings=parsed.warnings)
    for ref in loaded_plans:
        record(request, "meeting_decision", ref, f"{meeting.ref} {day.isoformat()}")
    record(request, "meeting_report", meeting.ref,
                 f"{day.isoformat()}, {len(done)} decision(s)")
    return [_reply(request, rendered)]


def _decided_plans(request: Request, report: Report
                         ) -> tuple[dict[str, tuple[Plan, int]], list[LineError]]:
    plans: dict[str, tuple[Plan, int]] = {}
    errors: list[LineError] = []
    for number, ref, text in report.decisions:
        if ref in plans:
            continue
        loaded = load_plan(request.tx, ref)
        if loaded is None or not loaded.plan.is_active or not may_read(request.sender,
                                                                       loaded.plan):
            errors.append(LineError(number, f"{ref} : {text}", f"{ref} : plan introuvable "
                                    "parmi les plans actifs auxquels vous avez accès",
                                    "la référence d'un plan actif de vos patients",
                                    f"PPS-2026-0001 : {text}", "decision"))
            continue
        plans[ref] = (loaded.plan, loaded.version)
    return plans, errors


def calendar_reply(mail: IncomingMail, detected: Detected) -> bool:
    """A calendar client's answer to an invitation (accepted, declined): not a
    command, never answered (that would start a mail loop with the client)."""
    return detected.name is None and any(a.content_type.lower().startswith("text/calendar")
                                         for a in mail.attachments)

