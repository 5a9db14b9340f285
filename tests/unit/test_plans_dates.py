"""French dates, times and durations as professionals type them."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plans.dates import (
    format_date,
    format_date_long,
    format_time,
    parse_date,
    parse_date_time,
    parse_duration,
    parse_new_due,
    parse_time,
)
from plans.errors import FieldError
from plans.normalize import fold

# The example replay date: a Monday.
TODAY = date(2026, 11, 23)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15/12/2026", date(2026, 12, 15)),
        ("15-12-2026", date(2026, 12, 15)),
        ("15.12.2026", date(2026, 12, 15)),
        ("2026-12-15", date(2026, 12, 15)),
        ("15/12/26", date(2026, 12, 15)),
        ("5/1/2027", date(2027, 1, 5)),
        ("15 / 12 / 2026", date(2026, 12, 15)),
        ("le 15/12/2026", date(2026, 12, 15)),
        ("15 décembre 2026", date(2026, 12, 15)),
        ("15 DÉCEMBRE 2026", date(2026, 12, 15)),
        ("15 decembre 2026", date(2026, 12, 15)),
        ("15\u00a0décembre\u202f2026", date(2026, 12, 15)),
        ("1er décembre 2026", date(2026, 12, 1)),
        ("1ER DECEMBRE 2026", date(2026, 12, 1)),
        ("premier décembre 2026", date(2026, 12, 1)),
        ("7 janv. 2027", date(2027, 1, 7)),
        ("3 août 2027", date(2027, 8, 3)),
        ("3 aout 2027", date(2027, 8, 3)),
        ("jeudi 7 janvier 2027", date(2027, 1, 7)),
        ("Jeudi, 7 janvier 2027", date(2027, 1, 7)),
        ("jeudi 07/01/2027", date(2027, 1, 7)),
        ("15/12", date(2026, 12, 15)),  # next such day
        ("15 décembre", date(2026, 12, 15)),
        ("10/11", date(2027, 11, 10)),  # already past this year
        ("29/02", date(2028, 2, 29)),  # next leap year
        ("29/02/2028", date(2028, 2, 29)),
        ("J+10", date(2026, 12, 3)),
        ("j + 10", date(2026, 12, 3)),
        ("J+0", TODAY),
        ("dans 2 semaines", date(2026, 12, 7)),
        ("dans 10 jours", date(2026, 12, 3)),
        ("dans 3 mois", date(2027, 2, 23)),
        ("dans trois mois", date(2027, 2, 23)),
        ("dans un an", date(2027, 11, 23)),
        ("d'ici 2 semaines", date(2026, 12, 7)),
        ("demain", date(2026, 11, 24)),
        ("Demain.", date(2026, 11, 24)),
        ("aujourd'hui", TODAY),
        ("aujourd\u2019hui", TODAY),
        ("après-demain", date(2026, 11, 25)),
        ("apres demain", date(2026, 11, 25)),
        ("lundi prochain", date(2026, 11, 30)),  # today is a Monday: the next one
        ("vendredi", date(2026, 11, 27)),
    ],
)
def test_parse_date_formats(text: str, expected: date) -> None:
    assert parse_date(text, today=TODAY) == expected


def test_relative_dates_follow_the_mail_date_not_the_clock() -> None:
    assert parse_date("demain", today=date(2024, 2, 28)) == date(2024, 2, 29)
    assert parse_date("J+1", today=date(2026, 12, 31)) == date(2027, 1, 1)
    assert parse_date("dans 1 mois", today=date(2027, 1, 31)) == date(2027, 2, 28)


@pytest.mark.parametrize(
    ("text", "problem", "example"),
    [
        ("31/02/1937", "le 31 février 1937 n'existe pas", "28/02/1937"),
        ("29/02/2027", "le 29 février 2027 n'existe pas (2027 n'est pas bissextile)", "28/02/2027"),
        ("31/04/2027", "le 31 avril 2027 n'existe pas", "30/04/2027"),
        ("32 janvier 2027", "le 32 janvier 2027 n'existe pas", "31/01/2027"),
        ("15/13/2026", "le mois 13 n'existe pas", "15/12/2026"),
    ],
)
def test_impossible_dates_say_why_and_offer_a_real_one(
    text: str, problem: str, example: str
) -> None:
    with pytest.raises(FieldError) as caught:
        parse_date(text, today=TODAY)
    assert caught.value.problem == problem
    assert caught.value.example == example
    assert "JJ/MM/AAAA" in caught.value.expected


def test_weekday_must_agree_with_the_date() -> None:
    with pytest.raises(FieldError) as caught:
        parse_date("mercredi 7 janvier 2027", today=TODAY)
    assert "jeudi" in caught.value.problem and "mercredi" in caught.value.problem
    assert caught.value.example == "jeudi 7 janvier 2027"


@pytest.mark.parametrize(
    "text",
    [
        "la semaine des quatre jeudis",
        "",
        "bientôt",
        "15/12/2026x",
        "J+",
        "dans 2 siècles",
        "15 brumaire 2026",
        "00/00/0000",
        "12h30",
    ],
)
def test_not_a_date(text: str) -> None:
    with pytest.raises(FieldError) as caught:
        parse_date(text, today=TODAY)
    assert caught.value.expected.startswith("une date")
    # The example must itself be accepted.
    assert parse_date(caught.value.example, today=TODAY)


def test_implausible_years_and_far_offsets_are_field_errors() -> None:
    for text in ("15/12/9999", "15/12/0001", "dans 9999 ans", "dans 99999 jours"):
        with pytest.raises(FieldError):
            parse_date(text, today=TODAY)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12h30", time(12, 30)),
        ("12:30", time(12, 30)),
        ("12h", time(12)),
        ("8h", time(8)),
        ("8 h 05", time(8, 5)),
        ("08H05", time(8, 5)),
        ("à 9h15", time(9, 15)),
        ("midi", time(12)),
        ("12h30min", time(12, 30)),
        ("0h00", time(0, 0)),
        ("23:59", time(23, 59)),
    ],
)
def test_parse_time(text: str, expected: time) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize("text", ["24h", "12h60", "douze heures", "12", "", "h30"])
def test_parse_time_errors(text: str) -> None:
    with pytest.raises(FieldError) as caught:
        parse_time(text)
    assert parse_time(caught.value.example) == time(12, 30)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("03/12/2026 à 12h30", (date(2026, 12, 3), time(12, 30))),
        ("03/12/2026 a 12h30", (date(2026, 12, 3), time(12, 30))),
        ("03/12/2026, 12:30", (date(2026, 12, 3), time(12, 30))),
        ("03/12/2026 12h", (date(2026, 12, 3), time(12))),
        ("jeudi 3 décembre 2026 à 8h", (date(2026, 12, 3), time(8))),
        ("demain à 14h", (date(2026, 11, 24), time(14))),
        ("03/12/2026", (date(2026, 12, 3), None)),
        ("2026-12-03", (date(2026, 12, 3), None)),
    ],
)
def test_parse_date_time(text: str, expected: tuple[date, time | None]) -> None:
    assert parse_date_time(text, today=TODAY) == expected


def test_parse_date_time_reports_the_wrong_part() -> None:
    with pytest.raises(FieldError, match="31 février"):
        parse_date_time("31/02/2027 à 12h30", today=TODAY)
    with pytest.raises(FieldError, match="heure"):
        parse_date_time("03/12/2026 à 25h00", today=TODAY)


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("1h30", 90),
        ("1 h 30", 90),
        ("90 min", 90),
        ("90 minutes", 90),
        ("2 h", 120),
        ("2h", 120),
        ("2 heures", 120),
        ("une heure", 60),
        ("45mn", 45),
        ("1:30", 90),
        ("1h30min", 90),
        ("1 heure 30", 90),
    ],
)
def test_parse_duration(text: str, minutes: int) -> None:
    assert parse_duration(text) == timedelta(minutes=minutes)


@pytest.mark.parametrize("text", ["90", "0 min", "30 h", "longtemps", "", "h"])
def test_parse_duration_errors(text: str) -> None:
    with pytest.raises(FieldError) as caught:
        parse_duration(text)
    assert parse_duration(caught.value.example) == timedelta(minutes=90)


def test_formats() -> None:
    assert format_date(date(2026, 12, 15)) == "15/12/2026"
    assert format_date(date(2027, 1, 7)) == "07/01/2027"
    assert format_date_long(date(2026, 12, 15)) == "mardi 15 décembre 2026"
    assert format_date_long(date(2026, 12, 1)) == "mardi 1er décembre 2026"
    assert format_date_long(date(2027, 8, 14)) == "samedi 14 août 2027"


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2999, 12, 31)))
def test_formatted_dates_parse_back(d: date) -> None:
    assert parse_date(format_date(d), today=TODAY) == d
    assert parse_date(format_date_long(d), today=TODAY) == d
    assert parse_date(d.isoformat(), today=TODAY) == d


def test_fold() -> None:
    assert fold("Échéance") == fold("echeance") == "echeance"
    assert fold("  Né\u00a0le\u202f\t:  ") == "ne le :"
    assert fold("JUSQU\u2019AU") == "jusqu'au"


_TEXT = st.text(
    alphabet=st.sampled_from(list("0123456789/.-+: hjJlundiscembrerèéàJ'\u00a0aeiouyz")),
    max_size=30,
) | st.text(max_size=30)


@settings(max_examples=300)
@given(_TEXT, st.dates(min_value=date(1900, 1, 1), max_value=date(2900, 1, 1)))
def test_parsers_raise_only_field_errors(text: str, today: date) -> None:
    for parse in (
        lambda: parse_date(text, today=today),
        lambda: parse_time(text),
        lambda: parse_date_time(text, today=today),
        lambda: parse_duration(text),
    ):
        try:
            parse()
        except FieldError as error:
            assert error.problem and error.expected and error.example


# --- REPORTER's new due date --------------------------------------------------

NOV_23 = date(2026, 11, 23)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("15/12/2026", (date(2026, 12, 15), None)),
     ("15/12/2026 à 14h", (date(2026, 12, 15), time(14, 0))),
     ("15/12/2026 a 12h30", (date(2026, 12, 15), time(12, 30))),
     ("15/12/2026, 12:30", (date(2026, 12, 15), time(12, 30))),
     ("15 décembre 2026 à 8h", (date(2026, 12, 15), time(8, 0))),
     ("demain 8h30", (date(2026, 11, 24), time(8, 30))),
     ("aujourd'hui", (NOV_23, None)),
     ("J+10", (date(2026, 12, 3), None))],
)
def test_new_due_date_with_or_without_a_time(text: str,
                                             expected: tuple[date, time | None]) -> None:
    assert parse_new_due(text, today=NOV_23) == expected


def test_new_due_date_in_the_past_is_refused_with_a_future_example() -> None:
    with pytest.raises(FieldError) as caught:
        parse_new_due("01/01/2020", today=NOV_23)
    assert caught.value.problem == "« 01/01/2020 » est une date passée"
    assert "23/11/2026" in caught.value.expected
    assert caught.value.example == "07/12/2026"
    with pytest.raises(FieldError) as caught:
        parse_new_due("20 novembre 2026 à 9h", today=NOV_23)
    assert caught.value.problem == "« 20 novembre 2026 » est une date passée (le 20/11/2026)"


def test_new_due_date_errors_quote_the_text_as_written() -> None:
    with pytest.raises(FieldError) as caught:
        parse_new_due("15 décembrr 2026 à 14h", today=NOV_23)
    assert "« 15 décembrr 2026 »" in caught.value.problem
    with pytest.raises(FieldError) as caught:
        parse_new_due("15/12/2026 à 25h", today=NOV_23)
    assert "25h" in caught.value.problem and caught.value.example == "15/12/2026 à 14h30"


def test_format_time() -> None:
    assert (format_time(time(14, 0)), format_time(time(8, 5))) == ("14h00", "8h05")
