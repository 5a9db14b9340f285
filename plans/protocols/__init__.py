"""The team's protocol library: one TOML file per protocol in this folder.

A coordinator writes a protocol in French keys (documented at the top of each
shipped file, e.g. ``diabete-type-2.toml``)::

    nom = "diabete-type-2"          # as written in mails: « Protocole : diabete-type-2 »
    titre = "Suivi du diabète de type 2"
    description = "..."
    [[suivi]]
    profession = "medecin"          # who: medecin, infirmier, IDE, kiné, pharmacien...
    quoi = "HbA1c et consultation de suivi"
    quand = "tous les 3 mois"       # as in an « Action » line, counted from inclusion
    debut = 0                       # optional: days after inclusion before it starts

``load_library()`` reads and validates every file and raises
``ProtocolFileError`` naming the file and the key at the first wrong file.
``follow_ups(protocol, ...)`` turns a protocol into ``ActionDraft``s for a
plan: each follow-up goes to the team member of that profession (the referent
first when several), else to the single roster member of that profession (who
then joins the team), else stays unassigned with a warning.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import resources
from typing import Any

from plans.drafts import ActionDraft
from plans.errors import FieldError
from plans.normalize import fold
from plans.people import Person, profession_name, profession_of
from plans.rhythm import When, parse_when

__all__ = ["FollowUp", "ProtocolDef", "ProtocolFileError", "find_protocol", "follow_ups",
           "load_library", "parse_library_file"]

_NAME = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_TOP_KEYS = {"nom", "titre", "description", "suivi"}
_FOLLOW_UP_KEYS = {"profession", "quoi", "quand", "debut"}
# Any fixed day serves to check that "quand" can be read.
_PROBE_DAY = date(2026, 1, 5)


class ProtocolFileError(ValueError):
    """A protocol file is wrong; the message names the file, the key and what is expected."""

    def __init__(self, filename: str, key: str, expected: str) -> None:
        self.filename, self.key, self.expected = filename, key, expected
        super().__init__(f"{filename}: key '{key}': {expected}")


@dataclass(frozen=True)
class FollowUp:
    profession: str  # canonical roster profession
    what: str
    when: str  # French, read with parse_when at inclusion
    start_days: int = 0

    def when_for(self, inclusion: date, earliest: date | None = None) -> When:
        """When it is due for a patient included on ``inclusion`` (``earliest``:
        as ``parse_when``'s)."""
        return parse_when(self.when, today=inclusion + timedelta(days=self.start_days),
                          earliest=earliest)


@dataclass(frozen=True)
class ProtocolDef:
    name: str
    title: str
    description: str
    follow_ups: tuple[FollowUp, ...]


def _text(data: Mapping[str, Any], key: str, filename: str, where: str = "") -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ProtocolFileError(filename, where + key, "a non-empty text in quotes")
    return " ".join(value.split())


def parse_library_file(filename: str, content: str) -> ProtocolDef:
    """Validate one protocol file's text; ``filename`` is used in errors."""
    try:
        data = tomllib.loads(content)
    except tomllib.TOMLDecodeError as exc:
        raise ProtocolFileError(filename, "-", f"valid TOML ({exc})") from None
    for key in data:
        if key not in _TOP_KEYS:
            raise ProtocolFileError(filename, key, "one of nom, titre, description, [[suivi]]")
    name = _text(data, "nom", filename)
    if not _NAME.match(name):
        raise ProtocolFileError(filename, "nom", "lower-case letters, digits and dashes")
    if filename.endswith(".toml") and filename[:-5] != name:
        raise ProtocolFileError(filename, "nom", f"the file's name without .toml ({filename[:-5]})")
    items = data.get("suivi")
    if not isinstance(items, list) or not items:
        raise ProtocolFileError(filename, "suivi", "at least one [[suivi]] table")
    follow_ups = []
    for i, item in enumerate(items, start=1):
        where = f"suivi[{i}]."
        if not isinstance(item, dict):
            raise ProtocolFileError(filename, f"suivi[{i}]", "a [[suivi]] table")
        for key in item:
            if key not in _FOLLOW_UP_KEYS:
                raise ProtocolFileError(filename, where + key,
                                        "one of profession, quoi, quand, debut")
        word = _text(item, "profession", filename, where)
        profession = profession_of(word)
        if profession is None:
            raise ProtocolFileError(filename, where + "profession",
                                    "a known profession (medecin, infirmier, pharmacien, kiné...)")
        start = item.get("debut", 0)
        if not isinstance(start, int) or isinstance(start, bool) or not 0 <= start <= 3650:
            raise ProtocolFileError(filename, where + "debut", "a number of days from 0 to 3650")
        follow_up = FollowUp(profession, _text(item, "quoi", filename, where),
                             _text(item, "quand", filename, where), start)
        try:
            follow_up.when_for(_PROBE_DAY)
        except FieldError as exc:
            raise ProtocolFileError(filename, where + "quand",
                                    f"a date or rhythm as in an Action line ({exc.problem})"
                                    ) from None
        follow_ups.append(follow_up)
    return ProtocolDef(name, _text(data, "titre", filename), _text(data, "description", filename),
                       tuple(follow_ups))


def load_library() -> dict[str, ProtocolDef]:
    """Every protocol shipped in this package, by name."""
    library: dict[str, ProtocolDef] = {}
    for entry in sorted(resources.files(__name__).iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            protocol = parse_library_file(entry.name, entry.read_text(encoding="utf-8"))
            library[protocol.name] = protocol
    return library


def find_protocol(text: str, library: Mapping[str, ProtocolDef]) -> ProtocolDef | None:
    """The protocol a user named: by its name (« Diabète type 2 » finds
    ``diabete-type-2``) or its title, ignoring case, accents and spacing."""
    def slug(value: str) -> str:
        return re.sub(r"[^a-z0-9]+", "-", fold(value)).strip("-")

    wanted = slug(text)
    for protocol in library.values():
        if wanted in (slug(protocol.name), slug(protocol.title)):
            return protocol
    for protocol in library.values():  # "diabete type 2" for "diabete-type-2"
        if wanted.replace("-de-", "-") == slug(protocol.name).replace("-de-", "-"):
            return protocol
    return None


def follow_ups(protocol: ProtocolDef, *, inclusion: date, team: Sequence[Person],
               roster: Sequence[Person], referent: str | None, earliest: date | None = None
               ) -> tuple[list[ActionDraft], list[str], list[Person]]:
    """(actions, French warnings, roster members who join the team)."""
    actions: list[ActionDraft] = []
    warnings: list[str] = []
    joined: list[Person] = []
    for item in protocol.follow_ups:
        person = _pick(item.profession, [*team, *joined], referent)
        if person is None:
            on_roster = [p for p in roster if _profession(p) == item.profession]
            job = profession_name(item.profession)  # « kinésithérapeute », as people say it
            if len(on_roster) == 1:
                person = on_roster[0]
                joined.append(person)
                warnings.append(f"protocole {protocol.name} : l'action « {item.what} » est "
                                f"confiée à {person.name} ({job}), qui rejoint l'équipe")
            else:
                warnings.append(f"protocole {protocol.name} : aucun {job} dans "
                                f"l'équipe pour « {item.what} », action sans intervenant")
        actions.append(ActionDraft(person.email if person else None, item.what,
                                   item.when_for(inclusion, earliest), protocol=protocol.name,
                                   profession=item.profession))
    return actions, warnings, joined


def _pick(profession: str, team: Sequence[Person], referent: str | None) -> Person | None:
    matching = [p for p in team if _profession(p) == profession]
    for person in matching:
        if person.email == referent:
            return person
    return matching[0] if matching else None


def _profession(person: Person) -> str:
    return profession_of(person.profession) or person.profession
