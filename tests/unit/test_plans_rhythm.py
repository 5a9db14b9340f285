"""Rhythms (« chaque semaine », « 2 fois par semaine »...) and when actions are due."""

from __future__ import annotations

from datetime import date, time
from itertools import islice

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plans.errors import FieldError
from plans.rhythm import WHEN_EXPECTED, Rhythm, When, parse_rhythm, parse_when

TODAY = date(2026, 11, 23)  # a Monday


@pytest.mark.parametrize(
    ("text", "rhythm", "rrule", "described"),
    [
        ("chaque semaine", Rhythm("WEEKLY"), "FREQ=WEEKLY;INTERVAL=1", "chaque semaine"),
        ("Chaque  Semaine", Rhythm("WEEKLY"), "FREQ=WEEKLY;INTERVAL=1", "chaque semaine"),
        ("hebdomadaire", Rhythm("WEEKLY"), "FREQ=WEEKLY;INTERVAL=1", "chaque semaine"),
        ("toutes les semaines", Rhythm("WEEKLY"), "FREQ=WEEKLY;INTERVAL=1", "chaque semaine"),
        ("tous les jours", Rhythm("DAILY"), "FREQ=DAILY;INTERVAL=1", "tous les jours"),
        ("quotidien", Rhythm("DAILY"), "FREQ=DAILY;INTERVAL=1", "tous les jours"),
        ("tous les 2 jours", Rhythm("DAILY", 2), "FREQ=DAILY;INTERVAL=2", "tous les 2 jours"),
        ("tous les deux jours", Rhythm("DAILY", 2), "FREQ=DAILY;INTERVAL=2", "tous les 2 jours"),
        ("un jour sur deux", Rhythm("DAILY", 2), "FREQ=DAILY;INTERVAL=2", "tous les 2 jours"),
        (
            "toutes les 2 semaines",
            Rhythm("WEEKLY", 2),
            "FREQ=WEEKLY;INTERVAL=2",
            "toutes les 2 semaines",
        ),
        ("tous les 3 mois", Rhythm("MONTHLY", 3), "FREQ=MONTHLY;INTERVAL=3", "tous les 3 mois"),
        ("tous les mois", Rhythm("MONTHLY"), "FREQ=MONTHLY;INTERVAL=1", "chaque mois"),
        ("mensuel", Rhythm("MONTHLY"), "FREQ=MONTHLY;INTERVAL=1", "chaque mois"),
        ("Mensuelle", Rhythm("MONTHLY"), "FREQ=MONTHLY;INTERVAL=1", "chaque mois"),
        ("trimestriel", Rhythm("MONTHLY", 3), "FREQ=MONTHLY;INTERVAL=3", "tous les 3 mois"),
        ("semestriel", Rhythm("MONTHLY", 6), "FREQ=MONTHLY;INTERVAL=6", "tous les 6 mois"),
        ("annuel", Rhythm("YEARLY"), "FREQ=YEARLY;INTERVAL=1", "chaque année"),
        ("tous les ans", Rhythm("YEARLY"), "FREQ=YEARLY;INTERVAL=1", "chaque année"),
        ("tous les 2 ans", Rhythm("YEARLY", 2), "FREQ=YEARLY;INTERVAL=2", "tous les 2 ans"),
        ("chaque lundi", Rhythm("WEEKLY", byweekday=(0,)), "FREQ=WEEKLY;BYDAY=MO", "chaque lundi"),
        (
            "tous les lundis",
            Rhythm("WEEKLY", byweekday=(0,)),
            "FREQ=WEEKLY;BYDAY=MO",
            "chaque lundi",
        ),
        ("le mardi", Rhythm("WEEKLY", byweekday=(1,)), "FREQ=WEEKLY;BYDAY=TU", "chaque mardi"),
        (
            "tous les lundis et jeudis",
            Rhythm("WEEKLY", byweekday=(0, 3)),
            "FREQ=WEEKLY;BYDAY=MO,TH",
            "chaque lundi et jeudi",
        ),
        (
            "lundi, mercredi et vendredi",
            Rhythm("WEEKLY", byweekday=(0, 2, 4)),
            "FREQ=WEEKLY;BYDAY=MO,WE,FR",
            "chaque lundi, mercredi et vendredi",
        ),
        (
            "un lundi sur deux",
            Rhythm("WEEKLY", 2, byweekday=(0,)),
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO",
            "un lundi sur 2",
        ),
        (
            "2 fois par semaine",
            Rhythm("WEEKLY", byweekday=(0, 3), per_week=2),
            "FREQ=WEEKLY;BYDAY=MO,TH",
            "2 fois par semaine",
        ),
        (
            "trois fois par semaine",
            Rhythm("WEEKLY", byweekday=(0, 2, 4), per_week=3),
            "FREQ=WEEKLY;BYDAY=MO,WE,FR",
            "3 fois par semaine",
        ),
        ("1 fois par semaine", Rhythm("WEEKLY"), "FREQ=WEEKLY;INTERVAL=1", "chaque semaine"),
        (
            "2 fois par mois",
            Rhythm("MONTHLY", bymonthday=(1, 15), per_month=2),
            "FREQ=MONTHLY;BYMONTHDAY=1,15",
            "2 fois par mois",
        ),
        ("une fois par mois", Rhythm("MONTHLY"), "FREQ=MONTHLY;INTERVAL=1", "chaque mois"),
        ("3 fois par jour", Rhythm("DAILY", per_day=3), "FREQ=DAILY;INTERVAL=1", "3 fois par jour"),
        ("2 fois par an", Rhythm("MONTHLY", 6), "FREQ=MONTHLY;INTERVAL=6", "tous les 6 mois"),
        (
            "le premier jeudi de chaque mois",
            Rhythm("MONTHLY", byweekday=(3,), bysetpos=1),
            "FREQ=MONTHLY;BYDAY=TH;BYSETPOS=1",
            "le premier jeudi de chaque mois",
        ),
        (
            "le 1er jeudi du mois",
            Rhythm("MONTHLY", byweekday=(3,), bysetpos=1),
            "FREQ=MONTHLY;BYDAY=TH;BYSETPOS=1",
            "le premier jeudi de chaque mois",
        ),
        (
            "le dernier vendredi de chaque mois",
            Rhythm("MONTHLY", byweekday=(4,), bysetpos=-1),
            "FREQ=MONTHLY;BYDAY=FR;BYSETPOS=-1",
            "le dernier vendredi de chaque mois",
        ),
        (
            "le deuxième mardi du mois",
            Rhythm("MONTHLY", byweekday=(1,), bysetpos=2),
            "FREQ=MONTHLY;BYDAY=TU;BYSETPOS=2",
            "le deuxième mardi de chaque mois",
        ),
        (
            "le 15 de chaque mois",
            Rhythm("MONTHLY", bymonthday=(15,)),
            "FREQ=MONTHLY;BYMONTHDAY=15",
            "le 15 de chaque mois",
        ),
    ],
)
def test_parse_rhythm(text: str, rhythm: Rhythm, rrule: str, described: str) -> None:
    parsed = parse_rhythm(text)
    assert parsed == rhythm
    assert parsed.to_rrule() == rrule
    assert parsed.describe() == described
    assert parse_rhythm(described) == parsed
    assert Rhythm.from_dict(parsed.to_dict()) == parsed


@pytest.mark.parametrize(
    "text",
    [
        "la semaine des quatre jeudis",
        "",
        "souvent",
        "tous les 0 jours",
        "8 fois par semaine",
        "5 fois par an",
        "tous les 1000 jours",
        "lundi",
    ],
)
def test_parse_rhythm_errors(text: str) -> None:
    with pytest.raises(FieldError) as caught:
        parse_rhythm(text)
    assert parse_rhythm(caught.value.example)


def test_occurrences() -> None:
    weekly = parse_rhythm("chaque semaine")
    assert list(weekly.occurrences(TODAY, count=3)) == [
        date(2026, 11, 23),
        date(2026, 11, 30),
        date(2026, 12, 7),
    ]
    assert list(parse_rhythm("2 fois par semaine").occurrences(date(2026, 11, 24), count=3)) == [
        date(2026, 11, 26),
        date(2026, 11, 30),
        date(2026, 12, 3),
    ]
    # The example's concertation meetings: first Thursday, from 03/12/2026.
    first_thursday = parse_rhythm("le premier jeudi de chaque mois")
    assert list(first_thursday.occurrences(date(2026, 12, 3), count=3)) == [
        date(2026, 12, 3),
        date(2027, 1, 7),
        date(2027, 2, 4),
    ]
    # until is included
    every_2_days = parse_rhythm("tous les 2 jours")
    dates = list(every_2_days.occurrences(date(2026, 12, 21), until=date(2026, 12, 31)))
    assert dates[-1] == date(2026, 12, 31) and len(dates) == 6


def test_monthly_from_the_31st_moves_to_the_month_end_instead_of_skipping() -> None:
    monthly = parse_rhythm("chaque mois")
    assert list(monthly.occurrences(date(2027, 1, 31), count=4)) == [
        date(2027, 1, 31),
        date(2027, 2, 28),
        date(2027, 3, 31),
        date(2027, 4, 30),
    ]
    yearly = parse_rhythm("chaque année")
    assert list(yearly.occurrences(date(2028, 2, 29), count=2)) == [
        date(2028, 2, 29),
        date(2029, 2, 28),
    ]


def test_next_after() -> None:
    weekly = parse_rhythm("chaque lundi")
    assert weekly.next_after(TODAY, TODAY) == date(2026, 11, 30)
    assert weekly.next_after(TODAY, date(2026, 11, 25)) == date(2026, 11, 30)
    assert weekly.next_after(TODAY, date(2026, 11, 22)) == TODAY
    quarterly = parse_rhythm("tous les 3 mois")
    assert quarterly.next_after(TODAY, date(2027, 1, 1)) == date(2027, 2, 23)


@pytest.mark.parametrize(
    ("text", "when"),
    [
        ("15/12/2026", When(date(2026, 12, 15), None, None)),
        ("J+10", When(date(2026, 12, 3), None, None)),
        ("demain", When(date(2026, 11, 24), None, None)),
        ("le 01/12/2026", When(date(2026, 12, 1), None, None)),
        ("avant le 15/12/2026", When(date(2026, 12, 15), None, None)),
        ("jusqu'au 15/12/2026", When(date(2026, 12, 15), None, None)),  # a deadline
        ("lundi", When(date(2026, 11, 30), None, None)),
        ("chaque semaine", When(TODAY, Rhythm("WEEKLY"), None)),
        ("tous les 3 mois", When(TODAY, Rhythm("MONTHLY", 3), None)),
        (
            "2 fois par semaine pendant 3 mois",
            When(TODAY, Rhythm("WEEKLY", byweekday=(0, 3), per_week=2), date(2027, 2, 23)),
        ),
        (
            "tous les 2 jours jusqu'au 31/12/2026",
            When(TODAY, Rhythm("DAILY", 2), date(2026, 12, 31)),
        ),
        (
            "tous les 2 jours jusqu\u2019au 31/12/2026",
            When(TODAY, Rhythm("DAILY", 2), date(2026, 12, 31)),
        ),
        (
            "TOUS LES 2 JOURS JUSQU'AU 31/12/2026",
            When(TODAY, Rhythm("DAILY", 2), date(2026, 12, 31)),
        ),
        (
            "tous les\u00a02 jours jusqu\u2019au\u00a031/12/2026",
            When(TODAY, Rhythm("DAILY", 2), date(2026, 12, 31)),
        ),
        (
            "chaque lundi à partir du 01/12/2026",
            When(date(2026, 12, 7), Rhythm("WEEKLY", byweekday=(0,)), None),
        ),
        (
            "chaque semaine à partir du 01/12/2026 pendant 2 semaines",
            When(date(2026, 12, 1), Rhythm("WEEKLY"), date(2026, 12, 15)),
        ),
        ("tous les jours pendant 10 jours", When(TODAY, Rhythm("DAILY"), date(2026, 12, 3))),
        ("tous les jours à partir de demain", When(date(2026, 11, 24), Rhythm("DAILY"), None)),
        ("quotidien, à partir d'aujourd'hui", When(TODAY, Rhythm("DAILY"), None)),
        ("chaque mois jusqu'à J+100", When(TODAY, Rhythm("MONTHLY"), date(2027, 3, 3))),
        (
            "le premier jeudi de chaque mois",
            When(date(2026, 12, 3), Rhythm("MONTHLY", byweekday=(3,), bysetpos=1), None),
        ),
    ],
)
def test_parse_when(text: str, when: When) -> None:
    parsed = parse_when(text, today=TODAY)
    assert parsed == when
    assert When.from_dict(parsed.to_dict()) == parsed


def test_when_describe_and_dict() -> None:
    when = parse_when("2 fois par semaine pendant 3 mois", today=TODAY)
    assert when.describe() == "2 fois par semaine jusqu'au 23/02/2027"
    assert when.to_dict() == {
        "due": "2026-11-23",
        "rhythm": {
            "freq": "WEEKLY",
            "interval": 1,
            "byweekday": [0, 3],
            "per_week": 2,
            "bysetpos": None,
            "bymonthday": [],
            "per_month": None,
            "per_day": None,
        },
        "until": "2027-02-23",
    }
    assert parse_when("15/12/2026", today=TODAY).describe() == "le 15/12/2026"


def test_the_example_error_is_no_date_nor_rhythm() -> None:
    with pytest.raises(FieldError) as caught:
        parse_when("la semaine des quatre jeudis", today=TODAY)
    assert "la semaine des quatre jeudis" in caught.value.problem
    assert caught.value.expected == WHEN_EXPECTED
    assert parse_when(caught.value.example, today=TODAY).rhythm is not None


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("31/02/2027", "31 février"),
        ("tous les 0 jours", "0"),
        ("15/12/2026 pendant 3 mois", "rythme"),
        ("chaque semaine jusqu'au 01/11/2026", "avant"),
        ("chaque semaine pendant 3 mois jusqu'au 31/12/2026", "deux"),
        ("chaque semaine à partir du 31/02/2027", "31 février"),
        ("chaque semaine pendant longtemps", "durée"),
        ("15/12/2026 jusqu'au 31/12/2026", "date unique"),
        ("jeudi 15 décembre 2026", "mardi"),
    ],
)
def test_parse_when_errors(text: str, words: str) -> None:
    with pytest.raises(FieldError) as caught:
        parse_when(text, today=TODAY)
    assert words in caught.value.problem


@settings(max_examples=300)
@given(
    st.lists(
        st.sampled_from(
            list("0123456789/ ")
            + [
                "tous les ",
                "jours",
                "chaque ",
                "semaine",
                "fois par ",
                "mois",
                "pendant ",
                "jusqu'au ",
                "à partir du ",
                "lundi",
                "premier ",
                "de chaque mois",
                "J+",
                "an",
                "dernier ",
            ]
        ),
        max_size=12,
    ).map("".join)
    | st.text(max_size=40),
    st.dates(min_value=date(1900, 1, 1), max_value=date(2900, 1, 1)),
)
def test_parse_when_raises_only_field_errors(text: str, today: date) -> None:
    try:
        when = parse_when(text, today=today)
    except FieldError as error:
        assert error.problem and error.expected and error.example
        return
    assert when.due is not None
    if when.rhythm is not None:
        assert list(islice(when.rhythm.occurrences(when.due, until=when.until), 3))
    try:
        parse_rhythm(text)
    except FieldError:
        pass


@pytest.mark.parametrize(
    ("text", "due", "at", "described"),
    [("15/12/2026 à 14h", date(2026, 12, 15), time(14, 0), "le 15/12/2026 à 14h00"),
     ("le 15/12/2026 à 12h30", date(2026, 12, 15), time(12, 30), "le 15/12/2026 à 12h30"),
     ("15/12/2026 12:30", date(2026, 12, 15), time(12, 30), "le 15/12/2026 à 12h30"),
     ("demain 12h30", date(2026, 11, 24), time(12, 30), "le 24/11/2026 à 12h30"),
     ("chaque lundi à 9h pendant 3 mois", date(2026, 11, 23), time(9, 0),
      "chaque lundi à 9h00 jusqu'au 23/02/2027"),
     ("tous les jours 8h", date(2026, 11, 23), time(8, 0), "tous les jours à 8h00")])
def test_when_with_a_time(text: str, due: date, at: time, described: str) -> None:
    when = parse_when(text, today=TODAY)
    assert (when.due, when.time_of_day, when.describe()) == (due, at, described)
    assert When.from_dict(when.to_dict()) == when and when.to_dict()["time"] == at.isoformat(
        "minutes")


def test_when_with_an_impossible_time() -> None:
    with pytest.raises(FieldError) as caught:
        parse_when("demain à 25h", today=TODAY)
    assert "25h" in caught.value.problem and caught.value.example == "demain à 12h30"
    assert parse_when(caught.value.example, today=TODAY).time_of_day == time(12, 30)
