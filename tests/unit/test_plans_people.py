"""People named as professionals name each other, resolved on the team then the roster."""

from __future__ import annotations

import csv

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plans.errors import FieldError
from plans.people import Person, parse_people, profession_label, profession_of, resolve_person
from tests.support.paths import EXAMPLES

ROSTER_CSV = EXAMPLES / "roster.csv"


def _load_roster() -> list[Person]:
    with ROSTER_CSV.open(encoding="utf-8") as f:
        return [
            Person(
                row["name"],
                row["email"],
                row["profession"],
                frozenset(r for r in row["roles"].split(";") if r),
            )
            for row in csv.DictReader(f)
        ]


ROSTER = _load_roster()
BY_NAME = {p.name: p for p in ROSTER}
DURAND, GIRARD = BY_NAME["Claire DURAND"], BY_NAME["Paul GIRARD"]
MARIE, LEROY = BY_NAME["Julien MARIE"], BY_NAME["Sophie LEROY"]
BENALI, FONTAINE, COSTA = BY_NAME["Karim BENALI"], BY_NAME["Lea FONTAINE"], BY_NAME["Ana COSTA"]


@pytest.mark.parametrize(
    ("word", "profession"),
    [
        ("IDE", "infirmier"),
        ("ide", "infirmier"),
        ("infirmier", "infirmier"),
        ("infirmière", "infirmier"),
        ("Infirmiere", "infirmier"),
        ("infirmier(e)", "infirmier"),
        ("inf", "infirmier"),
        ("IDEL", "infirmier"),
        ("infirmiers", "infirmier"),
        ("kiné", "masseur-kinesitherapeute"),
        ("kine", "masseur-kinesitherapeute"),
        ("KINÉ", "masseur-kinesitherapeute"),
        ("MK", "masseur-kinesitherapeute"),
        ("masseur-kinésithérapeute", "masseur-kinesitherapeute"),
        ("masseur kinésithérapeute", "masseur-kinesitherapeute"),
        ("kinésithérapeute", "masseur-kinesitherapeute"),
        ("pharmacien", "pharmacien"),
        ("pharmacienne", "pharmacien"),
        ("pharmacien(ne)", "pharmacien"),
        ("MG", "medecin"),
        ("médecin", "medecin"),
        ("medecin traitant", "medecin"),
        ("Médecin traitant", "medecin"),
        ("médecin généraliste", "medecin"),
        ("Dr", "medecin"),
        ("docteur", "medecin"),
        ("diététicien", "dieteticien"),
        ("diététicienne", "dieteticien"),
        ("dieteticien(ne)", "dieteticien"),
        ("orthophoniste", "orthophoniste"),
        ("podologue", "podologue"),
        ("pédicure-podologue", "podologue"),
        ("pédicure podologue", "podologue"),
        ("sage-femme", "sage-femme"),
        ("sage femme", "sage-femme"),
        ("psychologue", "psychologue"),
        ("ergothérapeute", "ergotherapeute"),
        ("assistante sociale", "assistant-social"),
        ("assistant social", "assistant-social"),
        ("coordinatrice", "coordinatrice"),
        ("coordinateur", "coordinatrice"),
        (
            "masseur-kinesitherapeute",
            "masseur-kinesitherapeute",
        ),  # roster spellings map to themselves
        ("dieteticien", "dieteticien"),
    ],
)
def test_profession_synonyms(word: str, profession: str) -> None:
    assert profession_of(word) == profession


@pytest.mark.parametrize("word", ["DURAND", "la semaine", "", "plombier", "Julien"])
def test_not_a_profession(word: str) -> None:
    assert profession_of(word) is None


def test_every_roster_profession_is_canonical() -> None:
    for person in ROSTER:
        assert profession_of(person.profession) == person.profession


@pytest.mark.parametrize(
    ("text", "person"),
    [
        ("claire.durand@medecin.mssante.test", DURAND),
        ("Claire.Durand@Medecin.MSSante.test", DURAND),
        ("Dr Claire Durand <claire.durand@medecin.mssante.test>", DURAND),
        ("Dr DURAND", DURAND),
        ("Dr. Durand", DURAND),
        ("docteur durand", DURAND),
        ("durand", DURAND),
        ("Pr DURAND", DURAND),
        ("Julien MARIE", MARIE),
        ("MARIE", MARIE),
        ("marie julien", MARIE),
        ("J. MARIE", MARIE),
        ("M. MARIE", MARIE),
        ("Mme LEROY", LEROY),
        ("Léa FONTAINE", FONTAINE),
        ("IDE", MARIE),
        ("infirmière", MARIE),
        ("kiné", BENALI),
        ("MK", BENALI),
        ("pharmacien", LEROY),
        ("diététicienne", FONTAINE),
        ("coordinatrice", COSTA),
        ("IDE Julien MARIE", MARIE),
        ("pharmacien LEROY", LEROY),
        ("kiné BENALI", BENALI),
        ("Julien MARIE (IDE)", MARIE),
        ("Julien MARIE, IDE", MARIE),
        ("MG Paul GIRARD", GIRARD),
        ("médecin traitant GIRARD", GIRARD),
        ("Dr Paul GIRARD", GIRARD),
    ],
)
def test_resolve_on_the_roster(text: str, person: Person) -> None:
    assert resolve_person(text, team=[], roster=ROSTER) == person


def test_the_team_comes_before_the_roster() -> None:
    # Two doctors on the roster: "MG" alone is ambiguous there, but the plan's team has one.
    for text in ("MG", "médecin traitant", "Dr", "médecin"):
        assert resolve_person(text, team=[GIRARD, MARIE], roster=ROSTER) == GIRARD
        assert resolve_person(text, team=[DURAND, MARIE], roster=ROSTER) == DURAND
    # Nobody on the team is a physiotherapist: the roster answers.
    assert resolve_person("kiné", team=[DURAND, MARIE], roster=ROSTER) == BENALI


def test_ambiguity_names_the_candidates() -> None:
    with pytest.raises(FieldError) as caught:
        resolve_person("médecin", team=[], roster=ROSTER)
    error = caught.value
    assert error.problem.startswith("2 personnes correspondent")
    assert "Claire DURAND" in error.problem and "Paul GIRARD" in error.problem
    assert error.expected == "un nom ou une adresse qui désigne une seule personne"
    assert error.example == "Dr Claire DURAND"
    assert resolve_person(error.example, team=[], roster=ROSTER) == DURAND


def test_ambiguity_within_the_team_is_not_settled_by_the_roster() -> None:
    other_nurse = Person("Marie DUPONT", "marie.dupont@infirmier.mssante.test", "infirmier")
    with pytest.raises(FieldError, match="2 personnes"):
        resolve_person("IDE", team=[MARIE, other_nurse], roster=ROSTER)
    # "MARIE" is a given name for one and a family name for the other.
    with pytest.raises(FieldError, match="Julien MARIE, Marie DUPONT"):
        resolve_person("MARIE", team=[], roster=[*ROSTER, other_nurse])
    assert resolve_person("Marie DUPONT", team=[], roster=[*ROSTER, other_nurse]) == other_nurse


def test_unknown_profession_the_example_error() -> None:
    with pytest.raises(FieldError) as caught:
        resolve_person("podologue", team=[GIRARD], roster=ROSTER)
    error = caught.value
    assert error.problem == "« podologue » ne désigne personne de l'équipe ni de l'annuaire"
    assert error.expected == "une personne de l'équipe : nom, adresse ou profession"
    assert resolve_person(error.example, team=[GIRARD], roster=ROSTER) == GIRARD


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Dr MARTIN", "ne désigne personne"),
        ("inconnu@ailleurs.mssante.test", "n'est pas dans l'équipe"),
        ("kiné LEROY", "Sophie LEROY est pharmacien, pas kinésithérapeute"),
        ("", "aucune personne"),
        ("   ", "aucune personne"),
    ],
)
def test_resolve_errors(text: str, words: str) -> None:
    with pytest.raises(FieldError) as caught:
        resolve_person(text, team=[], roster=ROSTER)
    assert words in caught.value.problem


def test_parse_people_the_example_team_line() -> None:
    people, errors = parse_people(
        "IDE Julien MARIE, pharmacien LEROY, kiné BENALI", team=[DURAND], roster=ROSTER
    )
    assert people == [MARIE, LEROY, BENALI] and errors == []


@pytest.mark.parametrize(
    "text",
    [
        "IDE; pharmacien et kiné",
        "IDE, pharmacien, kiné, IDE",
        "IDE et pharmacien ET kiné",
        "julien.marie@infirmier.mssante.test, sophie.leroy@pharmacien.mssante.test + kiné",
        "- IDE, pharmacien LEROY\net kiné.",
    ],
)
def test_parse_people_separators(text: str) -> None:
    people, errors = parse_people(text, team=[], roster=ROSTER)
    assert (people, errors) == ([MARIE, LEROY, BENALI], [])


def test_parse_people_keeps_going_after_an_error() -> None:
    people, errors = parse_people("IDE, podologue, médecin, kiné", team=[], roster=ROSTER)
    assert people == [MARIE, BENALI]
    assert len(errors) == 2
    assert "podologue" in errors[0].problem and "2 personnes" in errors[1].problem


def test_parse_people_everyone_and_nobody() -> None:
    assert parse_people("tous", team=[DURAND, MARIE], roster=ROSTER) == ([DURAND, MARIE], [])
    assert parse_people("Toute l’équipe", team=[], roster=ROSTER) == (ROSTER, [])
    people, errors = parse_people(" , ", team=[], roster=ROSTER)
    assert people == [] and len(errors) == 1


def test_labels() -> None:
    assert MARIE.label == "IDE Julien MARIE"
    assert DURAND.label == "Dr Claire DURAND"
    assert LEROY.label == "pharmacien Sophie LEROY"
    assert BENALI.label == "kiné Karim BENALI"
    assert profession_label("podologue") == "podologue"
    # every label resolves back to its person
    for person in ROSTER:
        assert resolve_person(person.label, team=[person], roster=ROSTER) == person


@settings(max_examples=300)
@given(
    st.text(max_size=40)
    | st.lists(
        st.sampled_from(
            ["IDE", " ", ",", "et", "Dr", "MARIE", "@", "kiné", "(", ")", ".", "médecin", "x@y.z"]
        ),
        max_size=8,
    ).map(" ".join)
)
def test_people_parsers_raise_only_field_errors(text: str) -> None:
    try:
        resolve_person(text, team=[DURAND], roster=ROSTER)
    except FieldError as error:
        assert error.problem and error.expected and error.example
    people, errors = parse_people(text, team=[DURAND], roster=ROSTER)
    assert all(isinstance(e, FieldError) for e in errors)
    assert all(p in ROSTER for p in people)


def test_a_long_list_of_unknown_names_lists_ten_errors_and_counts_the_others() -> None:
    from plans.people import MAX_LISTED_ERRORS

    names = ", ".join(f"Inconnu{i}" for i in range(MAX_LISTED_ERRORS + 37))
    found, errors = parse_people(f"IDE, {names}", team=[], roster=ROSTER)
    assert found == [MARIE]
    assert len(errors) == MAX_LISTED_ERRORS + 1
    assert "Inconnu9" in errors[MAX_LISTED_ERRORS - 1].problem
    assert errors[-1].problem == ("et 37 autres noms de la liste ne désignent pas une seule "
                                  "personne de l'équipe ou de l'annuaire")
    _, errors = parse_people(", ".join(f"X{i}" for i in range(MAX_LISTED_ERRORS + 1)),
                             team=[], roster=ROSTER)
    assert errors[-1].problem.startswith("et un autre nom de la liste ne désigne pas")
    _, errors = parse_people(", ".join(f"X{i}" for i in range(MAX_LISTED_ERRORS)),
                             team=[], roster=ROSTER)
    assert len(errors) == MAX_LISTED_ERRORS and "X9" in errors[-1].problem
