"""The French answers about concertation meetings: text and escaped HTML.

Like ``plans.render``: every function returns a ``Rendered``; texts are
written with ordinary spaces and passed once through ``french()``. Subjects
carry the meeting reference and the date, never patient data. An agenda
shows patients' names only for the plans its reader may read; the others
are counted, never named.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from plans.dates import format_date, format_date_long
from plans.drafts import LineWarning
from plans.errors import FieldError
from plans.meetings import AgendaItem, Meeting, describe_start
from plans.people import Person
from plans.render import Rendered
from plans.typography import french

__all__ = ["AgendaView", "describe_start", "render_meeting_cancelled", "render_meeting_created",
           "render_meeting_report", "render_meetings", "render_plans_added", "render_reminder",
           "days_before_words", "reminder_lines"]

_HOW_TO = [
    "Pour ajouter un patient à l'ordre du jour : objet « RCP RCP-AAAA-NNN », ligne "
    "« Patients : PPS-AAAA-NNNN ».",
    "Pour annuler : « ANNULER RCP-AAAA-NNN » (toute la série) ou « ANNULER RCP-AAAA-NNN "
    "du JJ/MM/AAAA » (une seule date).",
    "Après la réunion : « COMPTE-RENDU RCP-AAAA-NNN », puis une ligne par patient "
    "« PPS-AAAA-NNNN : décision ».",
]


@dataclass(frozen=True)
class AgendaView:
    """An occurrence's agenda as one reader sees it: every plan's reference
    (the participants discuss them all), the patient and the reasons only for
    the plans the reader may read."""

    items: Sequence[AgendaItem]
    names: Mapping[str, str]  # plan ref -> « NOM Prénom », readable plans only
    absent: Sequence[str] = ()  # participants away that day, as the service words them

    @property
    def refs(self) -> list[str]:
        return [i.ref for i in self.items]


def _done(subject: str, lines: Sequence[str]) -> Rendered:
    text = french("\n".join(lines).strip() + "\n")
    return Rendered(french(subject), text)


def _who(address: str, people: Sequence[Person]) -> str:
    for person in people:
        if person.email.lower() == address.lower():
            return person.label
    return address


def _reasons(item: AgendaItem) -> str:
    words = []
    if "review" in item.reasons and item.review_date is not None:
        words.append(f"réévaluation prévue le {format_date(item.review_date)}")
    if "overdue" in item.reasons:
        words.append(f"{item.overdue} action{'s' if item.overdue > 1 else ''} en retard")
    if "hand" in item.reasons:
        words.append("inscrit à l'ordre du jour")
    return ", ".join(words)


def agenda_lines(view: AgendaView) -> list[str]:
    absent = ([f"Absents ce jour-là : {' ; '.join(view.absent)}."] if view.absent else [])
    if not view.items:
        return ["Ordre du jour : aucun plan pour l'instant (réévaluations à venir, actions "
                "en retard et patients inscrits s'y ajoutent d'eux-mêmes).", *absent]
    lines = ["Ordre du jour :"]
    for item in view.items:
        name = view.names.get(item.ref)
        if name is None:
            lines.append(f" - {item.ref} : détails réservés à l'équipe de soins du patient")
        else:
            lines.append(f" - {item.ref} {name} : {_reasons(item)}")
    return lines + absent


def _head(meeting: Meeting, people: Sequence[Person]) -> list[str]:
    if meeting.everyone:
        who = "toute l'équipe"
    else:
        who = ", ".join(_who(a, people) for a in meeting.participants)
    return [f"{meeting.title} {meeting.ref}",
            f"Quand : {meeting.describe_when()}",
            f"Lieu : {meeting.location or 'à préciser'}",
            f"Participants : {who}",
            f"Organisée par : {_who(meeting.organizer, people)}"]


def render_meeting_created(meeting: Meeting, *, people: Sequence[Person], view: AgendaView,
                           warnings: Sequence[LineWarning] = (),
                           reminder_days: Sequence[int] = ()) -> Rendered:
    """Acknowledgement of ``RCP NOUVELLE``: the meeting, its first agenda."""
    start = meeting.start.astimezone(meeting.tz)
    lines = [f"Réunion {meeting.ref} planifiée.", "", *_head(meeting, people), ""]
    lines += agenda_lines(view) + [""]
    lines.append("L'invitation (fichier de calendrier) est jointe ; elle a été envoyée à "
                 "chaque participant.")
    if reminder_days:
        days = " et ".join(f"J-{d}" for d in reminder_days)
        lines.append(f"Rappel avec l'ordre du jour à jour : {days} avant chaque réunion.")
    lines.append("")
    if meeting.notes:
        lines += ["Notes :", *(f" - {n}" for n in meeting.notes), ""]
    if warnings:
        lines += ["À noter :", *(f" - {w}" for w in warnings), ""]
    lines += _HOW_TO
    return _done(f"[{meeting.ref}] Réunion planifiée le {format_date(start.date())}", lines)


def render_invitation_text(meeting: Meeting, *, people: Sequence[Person]) -> Rendered:
    """The mail that carries the invitation to the other participants."""
    start = meeting.start.astimezone(meeting.tz)
    lines = ["Bonjour,", "", f"Vous êtes invité(e) à la réunion de concertation "
             f"{meeting.ref}.", "", *_head(meeting, people), "",
             "L'invitation est jointe : votre messagerie propose de l'ajouter à votre "
             "agenda. L'ordre du jour vous sera envoyé avant chaque réunion.", "", *_HOW_TO]
    return _done(f"[{meeting.ref}] Invitation : concertation le {format_date(start.date())}",
                 lines)


@dataclass(frozen=True)
class Listed:
    meeting: Meeting
    starts: Sequence[datetime]  # next occurrences
    view: AgendaView  # of the first one


def render_meetings(entries: Sequence[Listed], *, people: Sequence[Person],
                    today: date) -> Rendered:
    """``RCP``: the next meetings of the reader, with the agenda of each."""
    if not entries:
        lines = [f"Au {format_date(today)}, aucune réunion de concertation à venir ne vous "
                 "concerne.", "", "Pour en planifier une : objet « RCP NOUVELLE », puis "
                 "« Date : 03/12/2026 à 12h30 », « Durée : 1h30 », « Lieu : … », "
                 "« Participants : tous »."]
        return _done("Réunions de concertation", lines)
    lines = [f"Vos prochaines réunions de concertation au {format_date(today)} :", ""]
    for entry in sorted(entries, key=lambda e: e.starts[0]):
        meeting = entry.meeting
        lines += [f"{meeting.ref} - {describe_start(entry.starts[0])} "
                  f"({meeting.location or 'lieu à préciser'})"]
        if meeting.rhythm is not None:
            lines.append(f"   {meeting.rhythm.describe()} ; ensuite : "
                         + (", ".join(format_date(s.date()) for s in entry.starts[1:])
                            or "plus de date prévue"))
        lines += ["   " + line for line in agenda_lines(entry.view)]
        lines.append("")
    lines += _HOW_TO
    return _done("Vos réunions de concertation", lines)


def render_plans_added(meeting: Meeting, added: Sequence[str], *, start: datetime | None
                       ) -> Rendered:
    when = f" du {describe_start(start)}" if start else ""
    if added:
        lines = [f"Ajouté à l'ordre du jour de la réunion {meeting.ref}{when} : "
                 f"{', '.join(added)}."]
    else:
        lines = [f"Ces plans étaient déjà à l'ordre du jour de la réunion {meeting.ref}."]
    return _done(f"[{meeting.ref}] Ordre du jour", lines)


def render_meeting_cancelled(meeting: Meeting, *, day: date | None, by: str,
                             people: Sequence[Person], reason: str = "") -> Rendered:
    if day is None or meeting.rhythm is None:
        what = f"La réunion {meeting.ref} est annulée"
        what += " (toutes les dates)." if meeting.rhythm is not None else "."
        subject = f"[{meeting.ref}] Réunion annulée"
    else:
        what = (f"La réunion {meeting.ref} du {format_date_long(day)} est annulée ; les "
                "autres dates sont maintenues.")
        subject = f"[{meeting.ref}] Réunion du {format_date(day)} annulée"
    lines = [what, f"Annulée par {_who(by, people)}."]
    if reason:
        lines.append(f"Motif : {reason}")
    what_goes = "cette date" if day is not None and meeting.rhythm is not None else "la réunion"
    lines += ["", f"Le fichier de calendrier joint retire {what_goes} de votre agenda ; les "
              "rappels prévus ne partiront pas."]
    return _done(subject, lines)


def render_meeting_report(meeting: Meeting, *, day: date,
                          decisions: Sequence[tuple[str, str, date]],
                          notes: Sequence[str], warnings: Sequence[LineWarning] = (),
                          present: tuple[Sequence[Person], Sequence[FieldError]] | None = None
                          ) -> Rendered:
    """Acknowledgement of ``COMPTE-RENDU``: (plan ref, decision, new review date);
    ``present``: who the « Présents : » line names, and the names not counted."""
    lines = [f"Compte-rendu de la réunion {meeting.ref} du {format_date_long(day)} "
             "enregistré : la réunion est notée tenue.", "", "Décisions ajoutées aux plans :"]
    for ref, text, review in decisions:
        lines.append(f" - {ref} : {text} (plan revu ; prochaine réévaluation le "
                     f"{format_date(review)})")
    lines.append("")
    if notes:
        lines += ["Gardé dans le compte-rendu de la réunion :", *(f" - {n}" for n in notes), ""]
    lines += _present_lines(present)
    if warnings:
        lines += ["À noter :", *(f" - {w}" for w in warnings), ""]
    return _done(f"[{meeting.ref}] Compte-rendu du {format_date(day)} enregistré", lines)


def _present_lines(present: tuple[Sequence[Person], Sequence[FieldError]] | None) -> list[str]:
    # The report counts attendance from this line only: say what it counted.
    if present is None:
        return ["Sans ligne « Présents : » (par exemple « Présents : Dr DURAND, IDE MARIE, "
                "kiné BENALI »), le rapport d'activité ne compte personne présent à cette "
                "réunion ; les réponses aux invitations y restent, comme présence annoncée.",
                ""]
    people, errors = present
    names = ", ".join(p.name for p in people) or "personne"
    lines = [f"Comptés présents dans le rapport d'activité : {names}."]
    lines += [f" - pas compté : {e.problem} (exemple : « {e.example} »)" for e in errors]
    return [*lines, ""]


def days_before_words(days_before: int) -> str:
    """« demain », « aujourd'hui », « dans 6 jours »."""
    return "demain" if days_before == 1 else (
        "aujourd'hui" if days_before == 0 else f"dans {days_before} jours")


def reminder_lines(meeting: Meeting, *, start: datetime, days_before: int,
                   view: AgendaView) -> list[str]:
    """What a J-7 / J-1 reminder says of the meeting, as an item of a digest."""
    when = days_before_words(days_before)
    return [f"{when[0].upper()}{when[1:]}, le {describe_start(start)}",
            f"Lieu : {meeting.location or 'à préciser'}",
            *agenda_lines(view), "L'invitation à jour est jointe."]


def render_reminder(meeting: Meeting, *, start: datetime, days_before: int,
                    people: Sequence[Person], view: AgendaView) -> Rendered:
    """J-7 / J-1: the meeting, where, and its agenda as the reader sees it."""
    when = days_before_words(days_before)
    lines = ["Bonjour,", "", f"Rappel : réunion de concertation {meeting.ref} {when}, le "
             f"{describe_start(start)}.", f"Lieu : {meeting.location or 'à préciser'}", ""]
    lines += agenda_lines(view) + [""]
    lines += ["L'invitation à jour est jointe.", "", *_HOW_TO]
    label = f"J-{days_before}" if days_before else "jour J"
    return _done(f"[{meeting.ref}] Rappel {label} : concertation le "
                 f"{format_date(start.date())} à {start.hour}h{start.minute:02d}", lines)
