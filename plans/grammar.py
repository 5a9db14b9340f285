"""Plan mails (``NOUVEAU PPS``, ``MAJ``) -> ``PlanDraft`` / ``PlanUpdate``.

``parse_new_plan(lines, today=, sender=, roster=)`` and
``parse_update(lines, today=, sender=, team=, roster=)`` take the body lines
that follow the command (``Detected.lines``) and return a ``Parsed``: the value,
or EVERY ``LineError`` found (all or nothing), plus warnings.

Rules decided here (``docs/guide.md`` tells users the same):

- Required for a new plan: the patient (``Patient : NOM Prénom`` or ``Nom`` +
  ``Prénom``), the birth date, the INS and ``Consentement : oui``.
- ``Sexe`` is optional: when absent it is read from the INS sex digit (1/7 man,
  2/8 woman), which the INS key protects; when present it must agree with it.
  The INS is always checked against the birth date (``identity.parse_ins``).
- ``Référent`` defaults to the sender. The team is, in order: the sender, the
  ``Équipe`` people, the referent, then anyone an action is given to (who must
  see the plan to do it) and roster members a protocol brings in.
- People are resolved against the team first, then the roster
  (``people.resolve_person``); dates relative to ``today`` (the mail's date).
- Single-valued keys given twice with different values are an error. Unknown
  keys are kept as notes and named in a warning. Lines without a colon:
  one that starts with a known key (« Alerte chute », « Alerte - saignement »,
  « Réévaluation 15/05/2027 ») is read as that key, with a warning saying so
  (a single-valued key already given, or an identity key in a ``MAJ``, is
  kept as a note instead: a sentence must not change who the patient is);
  greetings and sign-offs (``plans.signature``) are ignored; a line directly
  after a free-text value that starts in lower case (or follows a value
  ending with a comma) continues that value; any other line is kept as a note
  with a warning, never dropped silently: a lost alert is a safety problem.
- In a ``MAJ``, identity lines are only checked against the plan's patient
  (a mismatch means the wrong plan: error); ``Consentement : non`` is refused
  (closing is ``CLORE``); a ``MAJ`` that changes nothing is an error.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from datetime import date

from plans.commands import detect_command
from plans.dates import parse_date
from plans.drafts import ActionDraft, LineError, LineWarning, Parsed, PlanDraft, PlanUpdate
from plans.errors import FieldError
from plans.identity import parse_birth_date, parse_ins, parse_sex
from plans.lines import FIELD_LABELS, KEYS, Line, field_of, lex
from plans.model import Patient
from plans.normalize import fold
from plans.people import Person, parse_people, resolve_person
from plans.protocols import ProtocolDef, find_protocol, follow_ups, load_library
from plans.rhythm import WHEN_EXPECTED, parse_when
from plans.signature import SignOff

__all__ = ["parse_new_plan", "parse_update"]

_SINGLE = {"patient", "family_name", "given_name", "birth_date", "sex", "ins", "consent",
           "referent", "review_date"}
_FREE_TEXT = {"problem", "objective", "preference", "alert", "note"}
_IDENTITY = {"patient", "family_name", "given_name", "birth_date", "sex", "ins", "consent"}
# Between a key written without a colon and its value: « Alerte - saignement ».
_KEYLESS_GAP = " \t-–—>»:"
_CIVILITY = {"mme", "m", "mr", "madame", "monsieur", "mlle", "mademoiselle"}
_EXAMPLES = {"patient": "DUPONT Marie", "family_name": "DUPONT", "given_name": "Marie",
             "birth_date": "28/02/1937", "sex": "F", "ins": "2 95 10 99 126 111 93",
             "consent": "oui"}


class _Reader:
    """Sorts lexed lines by field and collects every error and warning."""

    def __init__(self, lines: Sequence[tuple[int, str]], *, people: Sequence[Person],
                 identity: bool) -> None:
        """``people``: who may sign the mail (sender, team, roster); ``identity``:
        whether identity keys may be written without a colon (a new plan)."""
        self.errors: list[LineError] = []
        self.warnings: list[LineWarning] = []
        self.single: dict[str, Line] = {}
        self.multi: dict[str, list[Line]] = {}
        self.notes: list[str] = []
        self._signature = SignOff(people)
        self._not_signature: set[int] = set()
        lexed = lex(lines)
        given: set[str | None] = {line.field for line in lexed if line.field in _SINGLE}
        self._sort([self._keyless(line, given, identity) for line in lexed])

    def error(self, line: Line | None, field: str, problem: str, expected: str,
              example_value: str) -> None:
        label = line.label if line else FIELD_LABELS.get(field, field)
        self.errors.append(LineError(line.number if line else None, line.text if line else "",
                                     problem, expected, f"{label} : {example_value}", field))

    def field_error(self, line: Line, field: str, exc: FieldError,
                    example_value: str | None = None) -> None:
        self.error(line, field, exc.problem, exc.expected,
                   exc.example if example_value is None else example_value)

    def warn(self, line: Line | None, message: str) -> None:
        self.warnings.append(LineWarning(line.number if line else None,
                                         line.text if line else "", message))

    def values(self, field: str) -> list[Line]:
        return self.multi.get(field, [])

    def _sort(self, lines: list[Line]) -> None:
        previous: Line | None = None  # last free-text line, for continuations
        parts: list[str] = []  # its value, then the values of the lines continuing it
        last = 0  # number of the last line merged into ``previous``

        def close() -> None:
            # Joined once at the end: a new Line per continued line copied the
            # whole value so far each time (quadratic on a long wrapped note).
            if previous is not None and len(parts) > 1:
                # ``previous`` is its bucket's last line: any other line ends it.
                self.multi[previous.field or ""][-1] = Line(
                    previous.number, previous.text, previous.key, previous.field,
                    " ".join(parts))

        for line in lines:
            if previous is not None and line.field is None and line.key is None \
                    and _continues(parts[-1], last, line):
                parts.append(line.value)
                last = line.number
                continue
            close()
            if line.field in _SINGLE:
                first = self.single.get(line.field)
                if first is None:
                    self.single[line.field] = line
                elif fold(first.value) != fold(line.value):
                    self.error(line, line.field, f"« {line.label} » est donné deux fois "
                               f"(déjà ligne {first.number})", "une seule ligne "
                               f"« {line.label} »", first.value or "…")
                previous = None
            elif line.field is not None:
                if not line.value and line.field != "action":
                    self.warn(line, f"« {line.label} » est vide : ligne ignorée")
                    previous = None
                    continue
                self.multi.setdefault(line.field, []).append(line)
                previous = line if line.field in _FREE_TEXT else None
                parts = [line.value]
                last = line.number
            elif line.key is not None:
                self._unknown_key(line)
                previous = None
            else:
                self._free_line(line)
                previous = None
        close()

    def _unknown_key(self, line: Line) -> None:
        self.notes.append(f"{line.key} : {line.value}")
        close = difflib.get_close_matches(fold(line.key or ""), KEYS, n=1, cutoff=0.75)
        hint = f" (vouliez-vous écrire « {FIELD_LABELS[KEYS[close[0]]]} » ?)" if close else ""
        self.warn(line, f"« {line.key} » n'est pas une rubrique connue : ligne gardée en "
                        f"note{hint}")

    def _keyless(self, line: Line, given: set[str | None], identity: bool) -> Line:
        """« Alerte chute » -> the ``Alerte`` line it means, with a warning; a
        line without a colon that starts with no known key is returned as is."""
        if line.key is not None:
            return line
        words = line.value.split()
        for size in range(min(4, len(words)), 0, -1):
            field = field_of(" ".join(words[:size]))
            if field is None:
                continue
            key = " ".join(words[:size])
            value = line.value[len(key):].lstrip(_KEYLESS_GAP).strip()
            if (field in _SINGLE and field in given) or (field in _IDENTITY and not identity):
                # A sentence that starts like a key already given: a note, not a change.
                self._not_signature.add(line.number)
                return line
            if field in _SINGLE:
                given.add(field)
            self.warn(line, f"ligne sans « : » comprise comme « {FIELD_LABELS[field]} : "
                            f"{value} » (écrivez « Rubrique : valeur »)")
            return Line(line.number, line.text, key, field, value)
        return line

    def _free_line(self, line: Line) -> None:
        if line.number not in self._not_signature and self._signature(line.value):
            return
        if _is_plan_command(line.text):
            return  # « MAJ » on the first line under a « MAJ PPS-2026-0001 » subject
        self.notes.append(line.value)
        self.warn(line, "ligne sans « : » gardée en note (écrivez « Rubrique : valeur »)")


def _is_plan_command(text: str) -> bool:
    """The command of a plan mail alone (« MAJ », « NOUVEAU PPS PPS-2026-0001 »)."""
    found = detect_command("", text)
    return found.name in ("NOUVEAU_PPS", "MAJ") and not found.args


def _continues(tail: str, last: int, line: Line) -> bool:
    """A wrapped line: right below, in lower case or after a trailing comma
    (``tail``: the last part of the value it would continue)."""
    starts_low = line.value[:1].islower()
    return line.number == last + 1 and (starts_low or tail.endswith((",", ";", "-")))


# --- values -------------------------------------------------------------------


def _is_upper(word: str) -> bool:
    letters = [c for c in word if c.isalpha()]
    return len(letters) >= 2 and all(c.isupper() for c in letters)


def _split_name(text: str) -> tuple[str, str] | None:
    """« MARTIN Jeanne », « Jeanne MARTIN », « Mme DE LA TOUR Anne » -> (family, given)."""
    words = [w for w in text.replace(",", " ").split() if fold(w).rstrip(".") not in _CIVILITY]
    if len(words) < 2:
        return None
    upper = [w for w in words if _is_upper(w)]
    if upper and len(upper) < len(words):
        family, given = " ".join(upper), " ".join(w for w in words if not _is_upper(w))
    else:  # all one case: « NOM Prénom » order, as asked
        family, given = words[0], " ".join(words[1:])
    if given.isupper() or given.islower():
        given = given.title()
    return family.upper(), given


def _consent(text: str) -> bool | None:
    folded = fold(text).strip(" .!")
    if folded.startswith(("oui", "yes", "ok", "d'accord", "accord", "accepte")) or folded == "o":
        return True
    if folded.startswith(("non", "no", "refus", "oppos")) or folded == "n":
        return False
    return None


def _action(reader: _Reader, line: Line, *, today: date, team: list[Person],
            roster: Sequence[Person], earliest: date | None = None) -> ActionDraft | None:
    sep = "|" if "|" in line.value else ";"
    parts = [p.strip() for p in line.value.split(sep)]
    if sep == ";" and len(parts) > 3:
        parts = [parts[0], "; ".join(parts[1:-1]), parts[-1]]
    if len(parts) != 3 or not all(parts):
        filled = (parts + ["", "", ""])[:3] if len(parts) <= 3 else parts[:3]
        if len(parts) == 1 and len(parts[0].split()) > 2:
            filled = ["", "", ""]  # « IDE pansement demain »: cannot tell where parts end
        example = " | ".join(p or d for p, d in zip(filled, ("IDE", "pansement",
                                                              "chaque semaine"), strict=True))
        reader.error(line, "action", "il faut trois parties séparées par « | » : qui, quoi, "
                     "quand", "Action : qui | quoi | quand", example)
        return None
    who, what, when_text = parts
    ok = True
    person: Person | None = None
    try:
        person = resolve_person(who, team=team, roster=roster)
    except FieldError as exc:
        reader.field_error(line, "action", exc, f"{exc.example} | {what} | {when_text}")
        ok = False
    try:
        when = parse_when(when_text, today=today, earliest=earliest)
    except FieldError as exc:
        reader.field_error(line, "action", exc, f"{who} | {what} | {exc.example}")
        ok = False
    if not ok or person is None:
        return None
    if when.due is not None and when.rhythm is None and when.due < today:
        reader.error(line, "action", f"le {when.due:%d/%m/%Y} est déjà passé",
                     WHEN_EXPECTED, f"{who} | {what} | J+7")
        return None
    if all(p.email != person.email for p in team):
        team.append(person)
    return ActionDraft(person.email, what, when, line=line.number)


def _team(reader: _Reader, team: list[Person], roster: Sequence[Person]) -> None:
    for line in reader.values("team"):
        people, errors = parse_people(line.value, team=team, roster=roster)
        for exc in errors:
            reader.field_error(line, "team", exc)
        for person in people:
            if all(p.email != person.email for p in team):
                team.append(person)


def _lists(reader: _Reader, target: PlanDraft | PlanUpdate) -> None:
    target.problems = [line.value for line in reader.values("problem")]
    target.objectives = [line.value for line in reader.values("objective")]
    target.preferences = [line.value for line in reader.values("preference")]
    target.alerts = [line.value for line in reader.values("alert")]
    target.notes = [line.value for line in reader.values("note")] + reader.notes


def _review(reader: _Reader, today: date) -> date | None:
    line = reader.single.get("review_date")
    if line is None:
        return None
    try:
        review = parse_date(line.value, today=today)
    except FieldError as exc:
        reader.field_error(line, "review_date", exc)
        return None
    if review <= today:
        reader.error(line, "review_date", f"le {review:%d/%m/%Y} n'est pas dans le futur",
                     "une date de réévaluation à venir", "dans 6 mois")
        return None
    return review


def _protocols(reader: _Reader, library: Mapping[str, ProtocolDef]) -> list[ProtocolDef]:
    found: list[ProtocolDef] = []
    for line in reader.values("protocol"):
        protocol = find_protocol(line.value, library)
        if protocol is None:
            names = sorted(library)
            close = difflib.get_close_matches(fold(line.value), names, n=1, cutoff=0.4)
            reader.error(line, "protocol", f"« {line.value} » n'est pas un protocole de l'équipe",
                         "un de ces protocoles : " + ", ".join(names),
                         close[0] if close else (names[0] if names else "diabete-type-2"))
        elif protocol not in found:
            found.append(protocol)
    return found


def _theme_of(value: str, declared: Sequence[str]) -> str | None:
    """The declared theme ``value`` names: the same words (case and accents
    aside), or the only theme that contains them (« diabète » for
    « Diabète et maladies chroniques »)."""
    folded = fold(value).strip(" .")
    if not folded:
        return None
    for theme in declared:
        if fold(theme) == folded:
            return theme
    within = [t for t in declared if folded in fold(t)]
    return within[0] if len(within) == 1 else None


def _themes(reader: _Reader, declared: Sequence[str]) -> list[str]:
    """The team's themes (``[team] themes``) that the ``Thème`` lines name,
    several on a line separated by commas. Without declared themes a line is
    kept as a note, as an unknown key was before themes existed."""
    found: list[str] = []
    for line in reader.values("theme"):
        if not declared:
            reader.notes.append(f"{line.label} : {line.value}")
            reader.warn(line, f"« {line.label} » : l'équipe n'a pas déclaré de thèmes "
                        "dans sa configuration, ligne gardée en note")
            continue
        whole = _theme_of(line.value, declared)
        values = [line.value] if whole is not None else [
            v for v in line.value.replace(";", ",").split(",") if v.strip()]
        for value in values:
            theme = _theme_of(value, declared)
            if theme is None:
                folded = {fold(t): t for t in declared}
                close = difflib.get_close_matches(fold(value), list(folded), n=1, cutoff=0.4)
                reader.error(line, "theme", f"« {value.strip()} » n'est pas un thème de "
                             "l'équipe", "un de ces thèmes : " + ", ".join(declared),
                             folded[close[0]] if close else declared[0])
            elif theme not in found:
                found.append(theme)
    return found


def _expand(reader: _Reader, protocols: list[ProtocolDef], *, today: date, team: list[Person],
            roster: Sequence[Person], referent: str | None,
            earliest: date | None = None) -> list[ActionDraft]:
    actions: list[ActionDraft] = []
    lines = {fold(line.value): line for line in reader.values("protocol")}
    for protocol in protocols:
        drafts, warnings, joined = follow_ups(protocol, inclusion=today, team=team,
                                              roster=roster, referent=referent,
                                              earliest=earliest)
        actions += drafts
        team += [p for p in joined if all(t.email != p.email for t in team)]
        line = next((ln for v, ln in lines.items() if find_protocol(v, {protocol.name: protocol})),
                    None)
        for message in warnings:
            reader.warn(line, message)
    return actions


# --- identity -------------------------------------------------------------------


def _identity(reader: _Reader, today: date, *, required: bool
              ) -> tuple[tuple[str, str] | None, date | None, str | None, str | None]:
    """(family, given), birth date, sex, INS: each None when absent or wrong."""
    name: tuple[str, str] | None = None
    if (line := reader.single.get("patient")) is not None:
        name = _split_name(line.value)
        if name is None:
            reader.error(line, "patient", "il faut le nom puis le prénom",
                         "NOM Prénom", _EXAMPLES["patient"])
    elif "family_name" in reader.single or "given_name" in reader.single:
        family, given = reader.single.get("family_name"), reader.single.get("given_name")
        if family is None or given is None:
            reader.error(None, "family_name" if family is None else "given_name",
                         "le nom et le prénom vont ensemble", "une ligne « Nom » et une ligne "
                         "« Prénom », ou une ligne « Patient : NOM Prénom »",
                         _EXAMPLES["family_name" if family is None else "given_name"])
        else:
            name = (family.value.upper(), given.value)
    elif required:
        reader.error(None, "patient", "le patient n'est pas indiqué",
                     "une ligne « Patient : NOM Prénom »", _EXAMPLES["patient"])

    birth = sex = ins = None
    if (line := reader.single.get("birth_date")) is not None:
        try:
            birth = parse_birth_date(line.value, today=today)
        except FieldError as exc:
            reader.field_error(line, "birth_date", exc)
    elif required:
        reader.error(None, "birth_date", "la date de naissance n'est pas indiquée",
                     "une ligne « Né le : JJ/MM/AAAA »", _EXAMPLES["birth_date"])
    sex_line = reader.single.get("sex")
    if sex_line is not None:
        try:
            sex = parse_sex(sex_line.value)
        except FieldError as exc:
            reader.field_error(sex_line, "sex", exc)
    if (line := reader.single.get("ins")) is not None:
        try:
            ins = parse_ins(line.value, sex=sex, birth_date=birth)
        except FieldError as exc:
            reader.field_error(line, "ins", exc)
    elif required:
        reader.error(None, "ins", "l'INS du patient n'est pas indiqué",
                     "une ligne « INS : » avec les 15 caractères du matricule", _EXAMPLES["ins"])
    if sex is None and ins is not None and sex_line is None:
        sex = {"1": "M", "7": "M", "2": "F", "8": "F"}.get(ins[0])
        if sex is None and required:
            reader.error(None, "sex", "le sexe ne peut pas être lu dans l'INS",
                         "une ligne « Sexe : F » ou « Sexe : M »", _EXAMPLES["sex"])
    return name, birth, sex, ins


# --- entry points ---------------------------------------------------------------


def parse_new_plan(lines: Sequence[tuple[int, str]], *, today: date, sender: Person,
                   roster: Sequence[Person],
                   library: Mapping[str, ProtocolDef] | None = None,
                   earliest: date | None = None,
                   themes: Sequence[str] = ()) -> Parsed[PlanDraft]:
    """A ``NOUVEAU PPS`` body -> the draft of a new plan, or every error.
    ``earliest``: the first day a rhythm may start on (``parse_when``);
    ``themes``: the team's declared problem themes (``Thème`` lines)."""
    library = load_library() if library is None else library
    reader = _Reader(lines, people=[sender, *roster], identity=True)
    name, birth, sex, ins = _identity(reader, today, required=True)
    consent_line = reader.single.get("consent")
    consent = _consent(consent_line.value) if consent_line else None
    if consent_line is None:
        reader.error(None, "consent", "le consentement du patient n'est pas indiqué",
                     "« Consentement : oui » : le patient a été informé et ne s'oppose pas au "
                     "partage de ses données dans l'équipe", "oui")
    elif consent is not True:
        reader.error(consent_line, "consent",
                     "sans consentement du patient, aucun plan ne peut être créé" if consent
                     is False else f"« {consent_line.value} » n'est ni oui ni non",
                     "« oui » quand le patient a été informé et ne s'oppose pas au partage",
                     "oui")

    team: list[Person] = [sender]
    _team(reader, team, roster)
    referent = sender
    if (line := reader.single.get("referent")) is not None:
        try:
            referent = resolve_person(line.value, team=team, roster=roster)
        except FieldError as exc:
            reader.field_error(line, "referent", exc)
    if all(p.email != referent.email for p in team):
        team.append(referent)
    actions = [a for line in reader.values("action")
               if (a := _action(reader, line, today=today, team=team, roster=roster,
                                earliest=earliest))]
    protocols = _protocols(reader, library)
    review = _review(reader, today)
    actions += _expand(reader, protocols, today=today, team=team, roster=roster,
                       earliest=earliest,
                       referent=referent.email)
    plan_themes = _themes(reader, themes)
    if reader.errors or name is None or birth is None or sex is None or ins is None:
        return Parsed(None, reader.errors, reader.warnings)
    draft = PlanDraft(patient=Patient(name[0], name[1], birth, sex, ins), consent=True,
                      referent=referent.email, team=[p.email for p in team], actions=actions,
                      protocols=[p.name for p in protocols], review_date=review,
                      themes=plan_themes)
    _lists(reader, draft)
    return Parsed(draft, [], reader.warnings)


def parse_update(lines: Sequence[tuple[int, str]], *, today: date, sender: Person,
                 team: Sequence[Person], roster: Sequence[Person],
                 library: Mapping[str, ProtocolDef] | None = None,
                 patient: Patient | None = None,
                 applied_protocols: Sequence[str] = (),
                 earliest: date | None = None,
                 themes: Sequence[str] = ()) -> Parsed[PlanUpdate]:
    """A ``MAJ`` body -> what to add to the plan, or every error. ``team`` is
    the plan's current team; ``patient`` (when given) is checked against any
    identity line; ``earliest`` as for ``parse_new_plan``."""
    library = load_library() if library is None else library
    reader = _Reader(lines, people=[sender, *team, *roster], identity=False)
    _check_identity(reader, today, patient)
    if (line := reader.single.get("consent")) is not None and _consent(line.value) is not True:
        reader.error(line, "consent", "le consentement ne se retire pas par une mise à jour",
                     "pour arrêter le partage, clore le plan (CLORE PPS-AAAA-NNNN)", "oui")
    members: list[Person] = list(team)
    before = {p.email for p in members}
    if all(p.email != sender.email for p in members):
        members.append(sender)
    _team(reader, members, roster)
    update = PlanUpdate()
    if (line := reader.single.get("referent")) is not None:
        try:
            person = resolve_person(line.value, team=members, roster=roster)
            update.referent = person.email
            if all(p.email != person.email for p in members):
                members.append(person)
        except FieldError as exc:
            reader.field_error(line, "referent", exc)
    update.actions = [a for line in reader.values("action")
                      if (a := _action(reader, line, today=today, team=members, roster=roster,
                                       earliest=earliest))]
    protocols = [p for p in _protocols(reader, library) if p.name not in applied_protocols]
    update.review_date = _review(reader, today)
    update.actions += _expand(reader, protocols, today=today, team=members, roster=roster,
                              earliest=earliest,
                              referent=update.referent)
    update.protocols = [p.name for p in protocols]
    update.themes = _themes(reader, themes)
    _lists(reader, update)
    update.team = [p.email for p in members if p.email not in before]
    if not reader.errors and update.empty and not set(update.team) - {sender.email}:
        reader.error(None, "note", "aucune modification n'a été trouvée dans le message",
                     "au moins une ligne « Rubrique : valeur » sous MAJ",
                     "passage fait, patiente fatiguée")
    if reader.errors:
        return Parsed(None, reader.errors, reader.warnings)
    return Parsed(update, [], reader.warnings)


def _check_identity(reader: _Reader, today: date, patient: Patient | None) -> None:
    present: list[str] = [f for f in ("patient", "family_name", "given_name", "birth_date",
                                      "sex", "ins")
               if f in reader.single]
    if not present:
        return
    if patient is None:
        for field in present:
            reader.warn(reader.single[field], "l'identité du patient ne change pas par une "
                        "mise à jour : ligne ignorée")
        return
    name, birth, sex, ins = _identity(reader, today, required=False)
    checks = {"patient": name is not None and (fold(name[0]), fold(name[1])) != (
                  fold(patient.family_name), fold(patient.given_name)),
              "birth_date": birth is not None and birth != patient.birth_date,
              "sex": sex is not None and "sex" in reader.single and sex != patient.sex,
              "ins": ins is not None and ins != patient.ins}
    if "family_name" in reader.single and name is not None:
        checks["family_name"] = checks.pop("patient")
    for field, mismatch in checks.items():
        if mismatch and field in reader.single:
            reader.error(reader.single[field], field,
                         "ne correspond pas au patient de ce plan : mauvaise référence ?",
                         "la référence du plan de ce patient, ou cette ligne retirée",
                         "(ligne à retirer)")
