"""Meeting mails (``RCP NOUVELLE``, ``ANNULER RCP-…``, ``COMPTE-RENDU RCP-…``).

Like ``plans.grammar``: each parser takes the body lines that follow the
command (``Detected.lines``) and returns a ``Parsed`` holding the value or
EVERY ``LineError`` (all or nothing), plus warnings.

``RCP NOUVELLE`` / ``RCP PLANIFIER``::

    Date : 03/12/2026 à 12h30            (required; the time too)
    Durée : 1h30                         (or « 90 min »; default 1 h)
    Lieu : salle de réunion              (a place or a video link)
    Participants : tous                  (or people; default: everyone)
    Récurrence : le premier jeudi de chaque mois   (optional)
    Patients : PPS-2026-0001, PPS-2026-0002        (optional)

Rules decided here (``docs/guide.md`` tells users the same):

- The date is read relative to the mail's day and must be in the future; for
  a recurring meeting it must be one of the rhythm's days (« le 04/12/2026
  n'est pas le premier jeudi du mois »): calendars would disagree otherwise.
- The sender always takes part (added when not named).
- ``Récurrence`` takes the rhythms of actions (``plans.rhythm``) with an
  optional « jusqu'au 30/06/2027 » or « pendant 6 mois »; « aucune »,
  « non », « ponctuelle » mean a one-off meeting. Several meetings per day
  (« 3 fois par jour ») are refused.
- Unknown keys and sentences are kept as notes of the meeting, with a warning.

``ANNULER RCP-2026-001`` cancels the series; with a day (``ANNULER
RCP-2026-001 du 07/01/2027``, or a ``Date : 07/01/2027`` line) that
occurrence only. The other lines are the reason.

``COMPTE-RENDU RCP-2026-001`` (optionally followed by the day, else the last
occurrence that started) has one line per patient: ``PPS-2026-0001 :
décision``. A line right below a decision that starts in lower case continues
it; other lines are kept as notes of the meeting, with a warning.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from plans.attendance import attendance_key
from plans.dates import format_date, parse_date, parse_date_time, parse_duration
from plans.drafts import LineError, LineWarning, Parsed
from plans.errors import FieldError
from plans.lines import Line, lex
from plans.normalize import fold
from plans.people import Person, parse_people
from plans.recurrence import Rhythm
from plans.rhythm import RHYTHM_EXPECTED, parse_when
from plans.signature import SignOff

__all__ = ["Cancellation", "MeetingDraft", "Report", "parse_cancel", "parse_new_meeting",
           "parse_report", "parse_plan_refs"]

_FIELDS: dict[str, tuple[str, ...]] = {
    "date": ("date", "date et heure", "quand", "jour", "le", "horaire", "heure"),
    "duration": ("duree", "duree de la reunion"),
    "location": ("lieu", "salle", "adresse", "endroit", "visio", "lien", "lien visio",
                 "visioconference", "ou"),
    "participants": ("participants", "participant", "invites", "invitees", "invite",
                     "membres", "qui"),
    "recurrence": ("recurrence", "frequence", "rythme", "periodicite", "repetition",
                   "se repete"),
    "patients": ("patients", "patient", "patientes", "plans", "plan", "dossiers", "pps",
                 "ordre du jour"),
    "title": ("titre", "objet", "sujet", "theme"),
}
_KEYS = {syn: name for name, syns in _FIELDS.items() for syn in syns}
LABELS = {"date": "Date", "duration": "Durée", "location": "Lieu",
          "participants": "Participants", "recurrence": "Récurrence", "patients": "Patients",
          "title": "Titre"}
DEFAULT_DURATION = timedelta(hours=1)
_NO_RECURRENCE = {"aucune", "non", "ponctuelle", "ponctuel", "une fois", "unique", "aucun",
                  "sans", "-", "none"}
_PLAN_REF = re.compile(r"(?<![A-Za-z0-9])PPS[ -]?(\d{4})[ -]?(\d{4})(?![0-9])", re.IGNORECASE)
_GREETINGS = ("bonjour", "bonsoir", "salut", "cordialement", "bien cordialement", "merci",
              "a bientot", "bonne journee", "bien a vous", "confraternellement")


@dataclass
class MeetingDraft:
    start: datetime  # aware, in the team's timezone
    duration: timedelta
    location: str
    participants: list[str]  # addresses, sender included
    everyone: bool
    rhythm: Rhythm | None = None
    until: date | None = None
    plans: list[str] = field(default_factory=list)
    title: str | None = None
    notes: list[str] = field(default_factory=list)
    plans_line: Line | None = None  # the « Patients » line, for errors found later

    @property
    def recurrence(self) -> str | None:
        """RFC 5545 RRULE value (with UNTIL when the series ends), or None."""
        if self.rhythm is None:
            return None
        return rrule_of(self.rhythm, self.until, self.start)

    def to_json(self) -> dict[str, Any]:
        """What ``esp-coord parse`` shows under ``meeting``."""
        return {"start": self.start.isoformat(),
                "duration_minutes": int(self.duration.total_seconds() // 60),
                "location": self.location, "participants": list(self.participants),
                "recurrence": self.recurrence, "plans": list(self.plans)}


def rrule_of(rhythm: Rhythm, until: date | None, start: datetime) -> str:
    """The RRULE of a meeting: the rhythm's, with UNTIL as the last local start
    converted to UTC (RFC 5545 3.3.10 requires UTC with a zoned DTSTART)."""
    rule = rhythm.to_rrule()
    if (rhythm.freq in ("MONTHLY", "YEARLY") and not rhythm.byweekday and not rhythm.bymonthday
            and start.day > 28):
        # As plans.recurrence computes it: the month's last day when it has no 31st.
        days = ",".join(str(d) for d in range(28, start.day + 1))
        rule += f";BYMONTHDAY={days};BYSETPOS=-1"
        if rhythm.freq == "YEARLY":
            rule += f";BYMONTH={start.month}"
    if until is None:
        return rule
    last = datetime.combine(until, start.time(), tzinfo=start.tzinfo)
    utc = last.astimezone(UTC)
    return f"{rule};UNTIL={utc:%Y%m%dT%H%M%SZ}"


@dataclass
class Cancellation:
    day: date | None  # None: the whole series
    reason: str = ""


@dataclass
class Report:
    day: date | None  # None: the last occurrence that started
    decisions: list[tuple[int, str, str]] = field(default_factory=list)  # (line, ref, text)
    notes: list[str] = field(default_factory=list)


class _Collector:
    def __init__(self) -> None:
        self.errors: list[LineError] = []
        self.warnings: list[LineWarning] = []

    def error(self, line: Line | None, field_name: str, problem: str, expected: str,
              example_value: str) -> None:
        label = line.key if line is not None and line.key else LABELS.get(field_name, "")
        example = f"{label} : {example_value}" if label else example_value
        self.errors.append(LineError(line.number if line else None, line.text if line else "",
                                     problem, expected, example, field_name))

    def field_error(self, line: Line, field_name: str, exc: FieldError) -> None:
        self.error(line, field_name, exc.problem, exc.expected, exc.example)

    def warn(self, line: Line | None, message: str) -> None:
        self.warnings.append(LineWarning(line.number if line else None,
                                         line.text if line else "", message))


def _field(key: str) -> str | None:
    return _KEYS.get(fold(key).strip(" .-"))


def _is_greeting(text: str) -> bool:
    folded = fold(text).strip(" ,.!")
    return any(folded == g or folded.startswith(g + " ") for g in _GREETINGS) \
        and len(folded.split()) <= 5


def _is_chatter(text: str) -> bool:
    return _is_greeting(text) or len(fold(text).strip(" ,.!").split()) <= 3  # a name, a title


def parse_plan_refs(text: str) -> tuple[list[str], list[str]]:
    """« PPS-2026-0001, PPS 2026 0002 » -> (normalised refs, leftover words)."""
    refs = [f"PPS-{m[1]}-{m[2]}" for m in _PLAN_REF.finditer(text)]
    rest = [w for w in re.split(r"[\s,;/+]+|\bet\b", _PLAN_REF.sub(" ", text)) if w.strip(" .-")]
    return list(dict.fromkeys(refs)), rest


def _sort(lines: Sequence[tuple[int, str]], out: _Collector, signature: SignOff
          ) -> tuple[dict[str, Line], list[str]]:
    single: dict[str, Line] = {}
    notes: list[str] = []
    for line in lex(lines):
        name = _field(line.key) if line.key else None
        if name is None and line.key is not None:
            close = difflib.get_close_matches(fold(line.key), list(_KEYS), n=1, cutoff=0.75)
            hint = f" (vouliez-vous écrire « {LABELS[_KEYS[close[0]]]} » ?)" if close else ""
            out.warn(line, f"« {line.key} » n'est pas une rubrique d'une réunion : ligne "
                           f"gardée en note{hint}")
            notes.append(f"{line.key} : {line.value}")
            continue
        if name is None:
            # Short is not enough to drop a line (« Allergie pénicilline »): only
            # a greeting or a sign-off line (the sender's or a member's name...).
            if not (_is_greeting(line.value) or signature(line.value)):
                out.warn(line, "ligne sans « : » gardée en note (écrivez « Rubrique : valeur »)")
                notes.append(line.value)
            continue
        if name in single and fold(single[name].value) != fold(line.value):
            out.error(line, name, f"« {line.key} » est donné deux fois (déjà ligne "
                      f"{single[name].number})", f"une seule ligne « {LABELS[name]} »",
                      single[name].value or "…")
            continue
        single.setdefault(name, line)
    return single, notes


def _start(out: _Collector, line: Line | None, *, today: date, tz: tzinfo,
           now: datetime | None) -> datetime | None:
    example = f"{format_date(today + timedelta(days=14))} à 12h30"
    if line is None:
        out.error(None, "date", "la date de la réunion n'est pas indiquée",
                  "une ligne « Date : JJ/MM/AAAA à HHhMM »", example)
        return None
    try:
        day, at = parse_date_time(line.value, today=today)
    except FieldError as exc:
        out.error(line, "date", exc.problem, "la date et l'heure de la réunion, comme "
                  "03/12/2026 à 12h30", example)
        return None
    if at is None:
        out.error(line, "date", "l'heure de la réunion manque", "la date et l'heure, comme "
                  "03/12/2026 à 12h30", f"{format_date(day)} à 12h30")
        return None
    start = datetime.combine(day, at, tzinfo=tz)
    if (now is not None and start <= now) or (now is None and day < today):
        out.error(line, "date", f"le {format_date(day)} à {at.hour}h{at.minute:02d} est déjà "
                  "passé", "une réunion à venir", example)
        return None
    return start


def _recurrence(out: _Collector, line: Line | None, start: datetime | None,
                today: date, date_line: Line | None) -> tuple[Rhythm | None, date | None]:
    if line is None or fold(line.value).strip(" .") in _NO_RECURRENCE:
        return None, None
    first = start.date() if start is not None else today
    try:
        when = parse_when(line.value, today=first)
    except FieldError as exc:
        out.field_error(line, "recurrence", exc)
        return None, None
    rhythm = when.rhythm
    if rhythm is None:
        out.error(line, "recurrence", f"« {line.value} » n'est pas un rythme", RHYTHM_EXPECTED
                  + " ; « aucune » pour une réunion unique", "le premier jeudi de chaque mois")
        return None, None
    if rhythm.per_day:
        out.error(line, "recurrence", "une réunion ne se tient pas plusieurs fois par jour",
                  "un rythme d'au plus une réunion par jour", "chaque semaine")
        return None, None
    if start is not None and when.due != start.date():
        # The date line is the one to fix: calendars would disagree otherwise.
        shown = rhythm.describe()
        fits = rhythm.first_on_or_after(today)
        example = (f"{format_date(fits)} à {start.hour}h{start.minute:02d}" if fits
                   else format_date(start.date()))
        out.error(date_line, "date", f"le {format_date(start.date())} ne suit pas le rythme "
                  f"« {shown} » (ligne {line.number})",
                  "une date de réunion qui suit le rythme, ou un autre rythme", example)
        return None, None
    return rhythm, when.until


def parse_new_meeting(lines: Sequence[tuple[int, str]], *, today: date, tz: tzinfo,
                      sender: Person, roster: Sequence[Person],
                      now: datetime | None = None) -> Parsed[MeetingDraft]:
    """An ``RCP NOUVELLE`` body -> the draft of a meeting, or every error.
    ``today`` is the mail's day in the team's timezone ``tz``; ``now`` (when
    given) is the instant the date must come after."""
    out = _Collector()
    single, notes = _sort(lines, out, SignOff([sender, *roster]))
    start = _start(out, single.get("date"), today=today, tz=tz, now=now)
    duration = DEFAULT_DURATION
    if (line := single.get("duration")) is not None:
        try:
            duration = parse_duration(line.value)
        except FieldError as exc:
            out.field_error(line, "duration", exc)
    if duration.total_seconds() % 60:
        duration = timedelta(minutes=int(duration.total_seconds() // 60))
    location = single["location"].value if "location" in single else ""
    if "location" in single and not location:
        out.warn(single["location"], "« Lieu » est vide : lieu à préciser")
    everyone, people = True, list(roster)
    if (line := single.get("participants")) is not None:
        found, errors = parse_people(line.value, team=roster, roster=roster)
        for problem in errors:
            out.field_error(line, "participants", problem)
        everyone = fold(line.value).strip(" .") in ("tous", "toutes", "tout le monde",
                                                   "toute l'equipe", "l'equipe", "equipe",
                                                   "tous les membres")
        people = found
    addresses = [p.email for p in people]
    if sender.email not in addresses:
        addresses.insert(0, sender.email)
    rhythm, until = _recurrence(out, single.get("recurrence"), start, today,
                                single.get("date"))
    plans: list[str] = []
    if (line := single.get("patients")) is not None:
        plans, rest = parse_plan_refs(line.value)
        if rest:
            out.error(line, "patients", f"« {' '.join(rest)[:60]} » n'est pas une référence "
                      "de plan", "des références de plan séparées par des virgules",
                      ", ".join(plans) if plans else "PPS-2026-0001")
    title = single["title"].value if "title" in single else None
    if out.errors or start is None:
        return Parsed(None, out.errors, out.warnings)
    draft = MeetingDraft(start=start, duration=duration, location=location,
                         participants=addresses, everyone=everyone, rhythm=rhythm, until=until,
                         plans=plans, title=title or None, notes=notes,
                         plans_line=single.get("patients"))
    return Parsed(draft, [], out.warnings)


_DAY_ARG = re.compile(r"^(?:du|de|le|pour le|la reunion du|l'occurrence du|seance du|"
                      r"seulement le|uniquement le)\s+", re.IGNORECASE)


def _day_of(text: str, today: date) -> date:
    cleaned = _DAY_ARG.sub("", fold(text).strip(" .,:;"))
    return parse_date(cleaned, today=today)


def _day_arg(out: _Collector, args: str, lines: list[Line], today: date
             ) -> tuple[date | None, list[Line]]:
    """The day given after the reference or on a ``Date`` line; the other lines."""
    rest: list[Line] = []
    day: date | None = None
    if args.strip(" .,:;"):
        try:
            day = _day_of(args, today)
        except FieldError as exc:
            out.errors.append(LineError(None, args, exc.problem, "la date de la réunion "
                                        "après la référence", f"… du {exc.example}", "date"))
    for line in lines:
        if line.key is not None and _field(line.key) == "date":
            try:
                found = _day_of(line.value, today)
            except FieldError as exc:
                out.field_error(line, "date", exc)
                continue
            if day is not None and found != day:
                out.error(line, "date", "deux dates différentes sont données",
                          "une seule date de réunion", format_date(day))
            day = found
        else:
            rest.append(line)
    return day, rest


def parse_cancel(args: str, lines: Sequence[tuple[int, str]], *,
                 today: date) -> Parsed[Cancellation]:
    """``ANNULER RCP-…`` [day]: the occurrence (or None for the series) and the reason."""
    out = _Collector()
    day, rest = _day_arg(out, args, lex(lines), today)
    reason = " ".join(line.text for line in rest if not _is_chatter(line.text))[:500]
    if out.errors:
        return Parsed(None, out.errors, out.warnings)
    return Parsed(Cancellation(day, reason), [], out.warnings)


# Possessive spaces: the two runs around the optional colon could share a run
# of spaces in every way when the rest failed to match.
_DECISION = re.compile(r"^(?P<ref>PPS[ -]?\d{4}[ -]?\d{4})\s*+(?:[:：]|-|–|—)?\s*+(?P<text>.*)$",
                       re.IGNORECASE)


def parse_report(args: str, lines: Sequence[tuple[int, str]], *,
                 today: date) -> Parsed[Report]:
    """``COMPTE-RENDU RCP-…`` [day]: one decision per ``PPS-… : décision`` line."""
    out = _Collector()
    day, rest = _day_arg(out, args, lex(lines), today)
    report = Report(day)
    last: int | None = None  # line number of the last decision, for continuations
    parts: list[str] = []  # the last decision's text, then the lines continuing it

    def close() -> None:
        # Joined once: rebuilding the decision per continued line copied its
        # whole text each time (quadratic on a long wrapped decision).
        if len(parts) > 1:
            number, ref, _ = report.decisions[-1]
            report.decisions[-1] = (number, ref, " ".join(parts))
        parts.clear()

    for line in rest:
        m = _DECISION.match(line.text.lstrip("-*•· \t"))
        if m is not None:
            refs, _ = parse_plan_refs(m["ref"])
            text = m["text"].strip()
            if not text:
                out.error(line, "decision", f"la décision pour {refs[0]} est vide",
                          "la référence du plan, deux-points, puis la décision",
                          f"{refs[0]} : poursuite du plan, réévaluation dans 3 mois")
                last = None
                continue
            close()
            report.decisions.append((line.number, refs[0], text))
            parts.append(text)
            last = line.number
            continue
        # A decision goes on over the next line only if it starts in lower case
        # and is no « Key : value » line: « Présents : tous » belongs to the
        # meeting, never to the patient's plan.
        if (last is not None and line.number == last + 1 and line.key is None
                and line.value[:1].islower()):
            parts.append(line.text)
            last = line.number
            continue
        last = None
        if line.key is None and _is_chatter(line.text):
            continue  # a name or a greeting: a signature, not the meeting's
        if line.key is not None and attendance_key(line.key) is not None:
            # Who came: kept with the meeting, read by the activity report
            # (``plans.attendance.named_present``); the answer says who it counts.
            report.notes.append(line.text)
            continue
        out.warn(line, "ligne sans référence de plan : gardée dans le compte-rendu de la "
                       "réunion, pas dans un plan")
        report.notes.append(line.text)
    close()
    if not report.decisions and not out.errors:
        out.error(None, "decision", "aucune décision n'est donnée",
                  "une ligne par patient : la référence du plan, deux-points, la décision",
                  "PPS-2026-0001 : poursuite du plan, réévaluation dans 3 mois")
    if out.errors:
        return Parsed(None, out.errors, out.warnings)
    return Parsed(report, [], out.warnings)
