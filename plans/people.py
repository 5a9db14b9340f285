"""People of the team and roster, named the way professionals name each other.

« IDE », « kiné BENALI », « Dr DURAND », « Julien MARIE » or an address all
designate one person: first among the plan's team, else in the roster. A name
that designates several people is refused with the candidates, never guessed:
an action given to the wrong nurse is a patient-safety problem.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from plans.errors import FieldError
from plans.normalize import fold

__all__ = [
    "FieldError",
    "Person",
    "parse_people",
    "PROFESSIONS",
    "profession_label",
    "profession_name",
    "profession_of",
    "resolve_person",
]


@dataclass(frozen=True)
class Person:
    name: str  # "Claire DURAND"
    email: str
    profession: str  # roster profession: medecin, infirmier, pharmacien, ...
    roles: frozenset[str] = field(default_factory=frozenset)

    @property
    def label(self) -> str:
        """« IDE Julien MARIE », « Dr Claire DURAND », « kiné Karim BENALI »."""
        return f"{profession_label(self.profession)} {self.name}"


_SYNONYMS: dict[str, tuple[str, ...]] = {
    "medecin": (
        "medecin",
        "mg",
        "md",
        "mt",
        "medecin traitant",
        "medecin generaliste",
        "generaliste",
        "dr",
        "docteur",
        "medecin de famille",
    ),
    "infirmier": (
        "infirmier",
        "infirmiere",
        "ide",
        "idel",
        "inf",
        "infirmier liberal",
        "infirmiere liberale",
        "infirmier diplome d'etat",
        "infirmiere diplomee d'etat",
    ),
    "pharmacien": (
        "pharmacien",
        "pharmacienne",
        "pharmacie",
        "pharma",
        "officine",
        "pharmacien d'officine",
    ),
    "masseur-kinesitherapeute": (
        "masseur-kinesitherapeute",
        "masseur kinesitherapeute",
        "kinesitherapeute",
        "kine",
        "kinesi",
        "mk",
        "mkde",
        "masseuse-kinesitherapeute",
    ),
    "dieteticien": ("dieteticien", "dieteticienne", "diet", "dietetique"),
    "orthophoniste": ("orthophoniste", "ortho"),
    "podologue": ("podologue", "pedicure", "pedicure-podologue", "pedicure podologue"),
    "sage-femme": ("sage-femme", "sage femme", "sf", "maieuticien"),
    "psychologue": ("psychologue", "psy"),
    "ergotherapeute": ("ergotherapeute", "ergo"),
    "orthoptiste": ("orthoptiste",),
    "assistant-social": (
        "assistant social",
        "assistante sociale",
        "assistant-social",
        "assistante-sociale",
        "as",
        "travailleur social",
    ),
    "coordinatrice": (
        "coordinatrice",
        "coordinateur",
        "coordination",
        "coordo",
        "coordinateur de parcours",
        "coordinatrice de parcours",
    ),
}
# The roster's profession values (``[[team.members]] profession``).
PROFESSIONS = tuple(_SYNONYMS)
_CANONICAL: dict[str, str] = {
    synonym: canonical for canonical, words in _SYNONYMS.items() for synonym in words
}
_LABELS = {
    "medecin": "Dr",
    "infirmier": "IDE",
    "masseur-kinesitherapeute": "kiné",
    "dieteticien": "diététicien",
    "ergotherapeute": "ergothérapeute",
    "assistant-social": "assistant social",
}
_READABLE = {
    "medecin": "médecin",
    "masseur-kinesitherapeute": "kinésithérapeute",
    "dieteticien": "diététicien",
    "ergotherapeute": "ergothérapeute",
    "assistant-social": "assistant social",
}
# Titles before a name: they say nothing about the person but "Dr" hints at a doctor.
_TITLES = {
    "m",
    "m.",
    "mr",
    "mr.",
    "mme",
    "mme.",
    "mlle",
    "madame",
    "monsieur",
    "mademoiselle",
    "pr",
    "pr.",
    "professeur",
    "dr",
    "dr.",
    "docteur",
}
_DOCTOR_TITLES = {"dr", "dr.", "docteur", "pr", "pr.", "professeur"}
# An address is a local part, « @ » and a dotted domain; ``_addresses`` finds
# what [\w.+'-]+@[\w-]+(?:\.[\w-]+)+ would, but that single pattern, searched,
# retried its local part from every position of a long word: quadratic on
# « aaaa… » or « a@a@a@… ».
_LOCAL = re.compile(r"[\w.+'-]+")
_DOMAIN = re.compile(r"[\w-]++(?:\.[\w-]++)++")
_GENDER_SUFFIX = re.compile(r"\((?:e|ne|ere|se|euse|rice)\)(?=\s|$)")

WHO_EXPECTED = "une personne de l'équipe : nom, adresse ou profession"
ONE_EXPECTED = "un nom ou une adresse qui désigne une seule personne"
# Errors listed one by one for a list of people; the others are counted. Each
# error quotes its line in the answer: a line of 500,000 unknown names made
# an answer of 500,000 copies of the line.
MAX_LISTED_ERRORS = 10


def _addresses(text: str) -> Iterator[tuple[int, int]]:
    """The spans of the e-mail addresses in ``text``, left to right, in one pass.

    The local part cannot contain « @ », so a run of local-part characters is
    either followed by « @ » and a domain from its first character or from
    none of them: each run is tried once, then the scan goes on after it."""
    pos = 0
    while (local := _LOCAL.search(text, pos)) is not None:
        at = local.end()
        domain = _DOMAIN.match(text, at + 1) if text.startswith("@", at) else None
        if domain is not None:
            yield local.start(), domain.end()
            pos = domain.end()
        else:
            pos = at


def _first_address(text: str) -> str | None:
    span = next(_addresses(text), None)
    return text[span[0]:span[1]] if span is not None else None


def profession_of(word: str) -> str | None:
    """Canonical roster profession for a word: « IDE » -> « infirmier »,
    « kiné » -> « masseur-kinesitherapeute », « MG » -> « medecin »; None if none."""
    folded = _GENDER_SUFFIX.sub("", fold(word)).strip(" .,;:()")
    if folded in _CANONICAL:
        return _CANONICAL[folded]
    if folded.endswith("s") and folded[:-1] in _CANONICAL and len(folded) > 4:
        return _CANONICAL[folded[:-1]]  # plural: "infirmiers"
    return None


def profession_label(profession: str) -> str:
    """Short name of a profession before a person's name: « IDE », « Dr », « kiné »."""
    canonical = profession_of(profession) or profession
    return _LABELS.get(canonical, canonical)


def profession_name(profession: str) -> str:
    """The profession in words: « médecin », « kinésithérapeute »."""
    canonical = profession_of(profession) or profession
    return _READABLE.get(canonical, canonical)


# What the roster says of a person, folded once per process rather than for
# every person of the roster and every name of a list (« Équipe : a, b, c… »).
# Only the roster's own strings are cached, never what a mail says.
@functools.lru_cache(maxsize=4096)
def _roster_profession(profession: str) -> str:
    return profession_of(profession) or fold(profession)


@functools.lru_cache(maxsize=4096)
def _roster_name_parts(name: str) -> tuple[str, ...]:
    return tuple(_name_tokens(name))


def _same_profession(person: Person, profession: str) -> bool:
    return _roster_profession(person.profession) == profession


def _name_tokens(text: str) -> list[str]:
    return [t for t in re.split(r"[\s\-]+", fold(text).replace(".", ". ")) if t]


def _name_matches(person: Person, tokens: list[str]) -> bool:
    """Every typed token is one of the person's name parts (or its initial)."""
    parts = _roster_name_parts(person.name)
    for token in tokens:
        if token.endswith(".") or len(token) == 1:
            initial = token.rstrip(".")
            if not initial or not any(p.startswith(initial) for p in parts):
                return False
        elif token not in parts:
            return False
    return True


@dataclass(frozen=True)
class _Query:
    profession: str | None
    name: list[str]
    doctor_title: bool


def _split_query(text: str) -> _Query:
    folded = _GENDER_SUFFIX.sub("", fold(text))
    words = re.sub(r"[(),;:]", " ", folded).replace(".", ". ").split()
    doctor = False
    profession: str | None = None
    # A profession may come first ("IDE Julien MARIE") or last ("Julien MARIE, IDE").
    for size in (3, 2, 1):
        if len(words) >= size and (found := profession_of(" ".join(words[:size]))):
            if found == "medecin" and words[0] in _DOCTOR_TITLES and len(words) > size:
                break  # "Dr DURAND": a title, handled below
            profession, words = found, words[size:]
            break
    if profession is None:
        for size in (3, 2, 1):
            if len(words) > size and (found := profession_of(" ".join(words[-size:]))):
                if words[-size] in _DOCTOR_TITLES:
                    continue
                profession, words = found, words[:-size]
                break
    names: list[str] = []
    for word in words:
        if word in _TITLES:
            doctor = doctor or word in _DOCTOR_TITLES
        else:
            names.extend(_name_tokens(word))
    return _Query(profession, names, doctor)


def _shown(text: str) -> str:
    return "« " + " ".join(text.split())[:80] + " »"


def _example(team: Sequence[Person], roster: Sequence[Person]) -> str:
    for person in [*team, *roster]:
        if "coordinator" not in person.roles:
            return person.label
    return "IDE Julien MARIE"


def _unknown(text: str, team: Sequence[Person], roster: Sequence[Person]) -> FieldError:
    return FieldError(
        problem=f"{_shown(text)} ne désigne personne de l'équipe ni de l'annuaire",
        expected=WHO_EXPECTED,
        example=_example(team, roster),
    )


def resolve_person(text: str, *, team: Sequence[Person], roster: Sequence[Person]) -> Person:
    """The single person ``text`` designates: on the plan's team first, else on
    the roster. Accepts an address, a name (« Dr DURAND », « MARIE »), a
    profession (« IDE », « médecin traitant ») or both (« kiné BENALI »)."""
    if not text.strip():
        raise FieldError(
            problem="aucune personne n'est nommée",
            expected=WHO_EXPECTED,
            example=_example(team, roster),
        )
    address = _first_address(text)
    if address is not None:
        wanted = address.lower()
        for pool in (team, roster):
            for person in pool:
                if person.email.lower() == wanted:
                    return person
        raise FieldError(
            problem=f"l'adresse {_shown(address)} n'est pas dans l'équipe"
            " ni dans l'annuaire",
            expected=WHO_EXPECTED,
            example=_example(team, roster),
        )

    query = _split_query(text)
    if query.profession is None and not query.name:
        if query.doctor_title:  # "Dr" alone: the doctor
            query = _Query("medecin", [], True)
        else:
            raise _unknown(text, team, roster)

    def matches(person: Person) -> bool:
        if query.profession is not None and not _same_profession(person, query.profession):
            return False
        return _name_matches(person, query.name)

    for pool in (team, roster):
        found = _unique([p for p in pool if matches(p)])
        if query.doctor_title and len(found) > 1:
            doctors = [p for p in found if _same_profession(p, "medecin")]
            found = doctors or found
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise FieldError(
                problem=f"{len(found)} personnes correspondent à {_shown(text)} : "
                + ", ".join(p.name for p in found),
                expected=ONE_EXPECTED,
                example=found[0].label,
            )
    # Right name, wrong profession: say who the name is rather than "nobody".
    if query.profession is not None and query.name:
        by_name = _unique([p for p in [*team, *roster] if _name_matches(p, query.name)])
        if len(by_name) == 1:
            raise FieldError(
                problem=f"{_shown(text)} : {by_name[0].name} est "
                f"{profession_name(by_name[0].profession)}, pas "
                f"{profession_name(query.profession)}",
                expected=WHO_EXPECTED,
                example=by_name[0].label,
            )
    raise _unknown(text, team, roster)


def _unique(people: list[Person]) -> list[Person]:
    """The same person may be on the team and the roster: count them once."""
    seen: set[str] = set()
    result = []
    for person in people:
        if person.email.lower() not in seen:
            seen.add(person.email.lower())
            result.append(person)
    return result


# Spaces before a separator are taken from where they start only: retried
# from every position of a long run of spaces without a separator
# (« IDE      …      kiné »), they made the split quadratic. The matches
# are the same as \s*(?:[,;\n/+]|\bet\b)\s*'s.
_SEPARATORS = re.compile(r"(?:(?<!\s)\s+)?(?:[,;\n/+]|\bet\b)\s*", re.IGNORECASE)
_EVERYONE = {
    "tous",
    "toutes",
    "tout le monde",
    "toute l'equipe",
    "l'equipe",
    "equipe",
    "tous les membres",
    "toute l'equipe de soins",
}


def parse_people(
    text: str, *, team: Sequence[Person], roster: Sequence[Person]
) -> tuple[list[Person], list[FieldError]]:
    """A list separated by commas, « ; » or « et »: the people found, in order and
    without repeats, and one error per item that designates nobody or several
    (the first ``MAX_LISTED_ERRORS``, then one error that counts the others).
    « tous » / « toute l'équipe » means everyone on the team (the roster when
    there is no team yet)."""
    if fold(text).strip(" .") in _EVERYONE:
        return _unique(list(team or roster)), []
    people: list[Person] = []
    errors: list[FieldError] = []
    unlisted = 0
    # Addresses may contain separators ('+'): protect them from the split.
    text = text.replace("\x00", "")
    spans = list(_addresses(text))
    addresses = iter([text[start:end] for start, end in spans])
    bounds = [0, *(i for span in spans for i in span), len(text)]
    masked = "\x00".join(text[bounds[i]:bounds[i + 1]] for i in range(0, len(bounds), 2))
    for item in _SEPARATORS.split(masked):
        if "\x00" in item:  # each address back in its place, in one pass
            first, *rest = item.split("\x00")
            item = first + "".join(next(addresses) + piece for piece in rest)
        if not item.strip(" .-*•"):
            continue
        try:
            people.append(resolve_person(item.strip(" .-*•"), team=team, roster=roster))
        except FieldError as error:
            if len(errors) < MAX_LISTED_ERRORS:
                errors.append(error)
            else:
                unlisted += 1
    if unlisted:
        problem = (f"et {unlisted} autres noms de la liste ne désignent" if unlisted > 1
                   else "et un autre nom de la liste ne désigne")
        errors.append(FieldError(
            problem=f"{problem} pas une seule personne de l'équipe ou de l'annuaire",
            expected=WHO_EXPECTED,
            example=_example(team, roster),
        ))
    if not people and not errors:
        errors.append(
            FieldError(
                problem="aucune personne n'est nommée",
                expected=WHO_EXPECTED,
                example=_example(team, roster),
            )
        )
    return _unique(people), errors
