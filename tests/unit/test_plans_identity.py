"""Patient identity values: sex, birth date and INS, checked against each other."""

from __future__ import annotations

import csv
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.fr import nir

from plans.errors import FieldError
from plans.identity import format_ins, parse_birth_date, parse_ins, parse_sex
from tests.support.paths import EXAMPLES

TODAY = date(2026, 11, 23)
PATIENTS_CSV = EXAMPLES / "patients.csv"


def _patients() -> list[dict[str, str]]:
    with PATIENTS_CSV.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize(
    ("text", "sex"),
    [
        ("F", "F"),
        ("f", "F"),
        ("féminin", "F"),
        ("Feminin", "F"),
        ("FÉMININ", "F"),
        ("femme", "F"),
        ("Mme", "F"),
        ("Madame", "F"),
        ("M", "M"),
        ("m", "M"),
        ("M.", "M"),
        ("masculin", "M"),
        ("Masculin", "M"),
        ("homme", "M"),
        ("H", "M"),
        ("Monsieur", "M"),
        (" F ", "F"),
        ("F\u00a0", "F"),
    ],
)
def test_parse_sex(text: str, sex: str) -> None:
    assert parse_sex(text) == sex


@pytest.mark.parametrize("text", ["", "X", "inconnu", "FM", "autre"])
def test_parse_sex_errors(text: str) -> None:
    with pytest.raises(FieldError) as caught:
        parse_sex(text)
    assert caught.value.expected == "F ou M (féminin ou masculin)"
    assert parse_sex(caught.value.example) == "F"


@pytest.mark.parametrize(
    ("text", "born"),
    [
        ("12/03/1948", date(1948, 3, 12)),
        ("12.03.1948", date(1948, 3, 12)),
        ("12-03-1948", date(1948, 3, 12)),
        ("1948-03-12", date(1948, 3, 12)),
        ("25 juin 1941", date(1941, 6, 25)),
        ("25 JUIN 1941", date(1941, 6, 25)),
        ("1er février 1937", date(1937, 2, 1)),
        ("02/11/1937", date(1937, 11, 2)),
        ("29/02/1948", date(1948, 2, 29)),
        ("01/01/1890", date(1890, 1, 1)),
        ("23/11/2026", TODAY),
        ("mercredi 25 juin 1941", date(1941, 6, 25)),
    ],
)
def test_parse_birth_date(text: str, born: date) -> None:
    assert parse_birth_date(text, today=TODAY) == born


@pytest.mark.parametrize(
    ("text", "problem", "example"),
    [
        ("31/02/1937", "le 31 février 1937 n'existe pas", "28/02/1937"),
        ("29/02/1937", "le 29 février 1937 n'existe pas (1937 n'est pas bissextile)", "28/02/1937"),
        ("12/03/48", "l'année « 48 » n'a que 2 chiffres", "12/03/1948"),
        ("24/11/2026", "le 24/11/2026 est dans le futur", "24/11/1948"),
        ("01/01/1850", "l'année 1850 est trop ancienne", "01/01/1950"),
        ("demain", "« demain » n'est pas une date de naissance", "12/03/1948"),
        ("J+10", "« J+10 » n'est pas une date de naissance", "12/03/1948"),
        ("12/03", "« 12/03 » n'a pas d'année", "12/03/1948"),
        ("autrefois", "« autrefois » n'est pas une date", "12/03/1948"),
        (
            "mardi 25 juin 1941",
            "le 25/06/1941 est un mercredi, pas un mardi",
            "mercredi 25 juin 1941",
        ),
    ],
)
def test_parse_birth_date_errors(text: str, problem: str, example: str) -> None:
    with pytest.raises(FieldError) as caught:
        parse_birth_date(text, today=TODAY)
    assert problem in caught.value.problem
    assert caught.value.example == example
    assert parse_birth_date(example, today=TODAY)


def test_every_example_patient_validates() -> None:
    patients = _patients()
    assert len(patients) == 4
    for p in patients:
        born = date.fromisoformat(p["birth_date"])
        assert parse_ins(p["ins"], sex=p["sex"], birth_date=born) == p["ins"]
        assert parse_ins(format_ins(p["ins"]), sex=p["sex"], birth_date=born) == p["ins"]
        assert parse_birth_date(born.strftime("%d/%m/%Y"), today=TODAY) == born


@pytest.mark.parametrize(
    ("text", "ins"),
    [
        ("2 48 03 75 056 118 78", "248037505611878"),  # as typed in 01-nouveau-pps
        ("248037505611878", "248037505611878"),
        ("2.48.03.75.056.118.78", "248037505611878"),
        ("2-48-03-75-056-118-78", "248037505611878"),
        ("2\u00a048\u00a003 75 056 118\u202f78", "248037505611878"),
        ("241062A00402743", "241062A00402743"),  # Corsica, as typed in 07-html-outlook
        ("2 41 06 2a 004 027 43", "241062A00402743"),
    ],
)
def test_parse_ins_forms(text: str, ins: str) -> None:
    assert parse_ins(text, sex=None, birth_date=None) == ins


def test_corsica_2b_key_uses_18() -> None:
    body = "153072B073004"
    key = 97 - int(body.replace("2B", "18")) % 97
    ins = f"{body}{key:02d}"
    assert parse_ins(ins, sex="M", birth_date=date(1953, 7, 1)) == ins
    with pytest.raises(FieldError, match=f"devrait être {key:02d}"):
        parse_ins(f"{body}{(key + 1) % 97:02d}", sex="M", birth_date=None)


def test_wrong_key_the_example_error() -> None:
    with pytest.raises(FieldError) as caught:
        parse_ins("1 37 11 69 123 045 99", sex=None, birth_date=None)
    error = caught.value
    assert "devrait être 87 et non 99" in error.problem
    assert "carte Vitale" in error.problem  # the number itself may be the typo
    assert error.example == "1 37 11 69 123 045 87"
    # Key = 97 - (number mod 97), as the domain primer says.
    assert 97 - 1371169123045 % 97 == 87


@pytest.mark.parametrize(
    ("text", "words", "example"),
    [
        ("2 48 O3 75 056 118 78", "la lettre O à la place d'un zéro", "2 48 03 75 056 118 78"),
        ("2 48 o3 75 056 118 78", "la lettre O à la place d'un zéro", "2 48 03 75 056 118 78"),
        ("2 48 O3 75 056 118 79", "la lettre O à la place d'un zéro", "2 95 10 99 126 111 93"),
        ("2 48 03 75 056 118", "il manque la clé", "2 95 10 99 126 111 93"),
        ("2 48 03 75 056 11", "12 caractères au lieu de 15", "2 95 10 99 126 111 93"),
        ("non", "3 caractères au lieu de 15", "2 95 10 99 126 111 93"),
        ("2 48 03 75 056 118 7X", "caractère non autorisé « X »", "2 95 10 99 126 111 93"),
        ("2 41 06 2C 004 027 43", "caractère non autorisé « C »", "2 95 10 99 126 111 93"),
    ],
)
def test_ins_form_errors(text: str, words: str, example: str) -> None:
    with pytest.raises(FieldError) as caught:
        parse_ins(text, sex=None, birth_date=None)
    assert words in caught.value.problem
    assert caught.value.example == example
    assert "15 caractères" in caught.value.expected


def _with_key(body: str) -> str:
    return body + nir.calc_check_digits(body + "00")


def test_sex_digit_must_agree() -> None:
    with pytest.raises(FieldError) as caught:
        parse_ins("2 48 03 75 056 118 78", sex="M", birth_date=None)
    assert "commence par 2 (une femme)" in caught.value.problem
    assert "le sexe indiqué est M (un homme)" in caught.value.problem
    # temporary numbers (NIA): 7 for a man, 8 for a woman
    nia_f = _with_key("8480375056118")
    assert parse_ins(nia_f, sex="F", birth_date=date(1948, 3, 12)) == nia_f
    with pytest.raises(FieldError, match="commence par 8"):
        parse_ins(nia_f, sex="M", birth_date=None)
    assert parse_ins(_with_key("7480375056118"), sex="M", birth_date=None)
    with pytest.raises(FieldError, match="doit être 1 ou 2"):
        parse_ins(_with_key("5480375056118"), sex=None, birth_date=None)


@pytest.mark.parametrize(
    ("born", "words"),
    [(date(1948, 4, 12), "03/48"), (date(1949, 3, 12), "03/48"), (date(2048, 3, 12), None)],
)
def test_year_and_month_must_agree(born: date, words: str | None) -> None:
    if words is None:  # the INS holds 2 digits of the year only
        assert parse_ins("248037505611878", sex="F", birth_date=born)
        return
    with pytest.raises(FieldError) as caught:
        parse_ins("248037505611878", sex="F", birth_date=born)
    assert words in caught.value.problem
    assert born.strftime("%d/%m/%Y") in caught.value.problem  # names both values


@pytest.mark.parametrize("month", ["20", "30", "42", "50", "99"])
def test_unknown_month_codes_skip_the_month_check(month: str) -> None:
    ins = _with_key(f"248{month}75056118")
    assert parse_ins(ins, sex="F", birth_date=date(1948, 7, 1)) == ins
    with pytest.raises(FieldError, match="l'année 48"):
        parse_ins(ins, sex="F", birth_date=date(1947, 7, 1))


@pytest.mark.parametrize("month", ["00", "13", "19", "43", "49"])
def test_impossible_month_codes(month: str) -> None:
    with pytest.raises(FieldError, match=f"le mois {month}"):
        parse_ins(_with_key(f"248{month}75056118"), sex="F", birth_date=date(1948, 7, 1))


def test_format_ins() -> None:
    assert format_ins("248037505611878") == "2 48 03 75 056 118 78"
    assert format_ins("241062A00402743") == "2 41 06 2A 004 027 43"


@settings(max_examples=300)
@given(
    st.text(max_size=25) | st.text(alphabet="0123456789 AB2O.-", max_size=20),
    st.sampled_from(["F", "M", None]),
    st.none() | st.dates(min_value=date(1890, 1, 1), max_value=TODAY),
)
def test_identity_parsers_raise_only_field_errors(
    text: str, sex: str | None, born: date | None
) -> None:
    for parse in (
        lambda: parse_ins(text, sex=sex, birth_date=born),
        lambda: parse_sex(text),
        lambda: parse_birth_date(text, today=TODAY),
    ):
        try:
            parse()
        except FieldError as error:
            assert error.problem and error.expected and error.example


@settings(max_examples=300)
@given(
    st.dates(min_value=date(1890, 1, 1), max_value=TODAY),
    st.sampled_from("12"),
    st.integers(0, 99_999_999),
)
def test_any_coherent_ins_validates(born: date, sex_digit: str, rest: int) -> None:
    body = f"{sex_digit}{born.year % 100:02d}{born.month:02d}{rest:08d}"
    ins = _with_key(body)
    sex = "M" if sex_digit == "1" else "F"
    assert parse_ins(format_ins(ins), sex=sex, birth_date=born) == ins


def test_sex_mismatch_example_says_what_each_line_should_agree_with() -> None:
    with pytest.raises(FieldError) as caught:
        parse_ins("2 48 03 75 056 118 78", sex="M", birth_date=None)
    example = caught.value.example
    assert example != "2 48 03 75 056 118 78"  # not the INS as written, alone
    assert "« Sexe : F »" in example and "commence par 1" in example


@pytest.mark.parametrize(
    ("born", "agreeing", "start"),
    [(date(1949, 4, 12), "« Né le : 12/03/1948 »", "commence par 2 49 04"),
     (date(1948, 4, 12), "« Né le : 12/03/1948 »", "commence par 2 48 04")])
def test_birth_mismatch_example_says_what_each_line_should_agree_with(
        born: date, agreeing: str, start: str) -> None:
    with pytest.raises(FieldError) as caught:
        parse_ins("248037505611878", sex="F", birth_date=born)
    assert agreeing in caught.value.example and start in caught.value.example
    assert parse_birth_date(agreeing[10:-2], today=date(2026, 11, 23)) == date(1948, 3, 12)
