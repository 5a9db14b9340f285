"""Patient identity values: sex, birth date and INS (the NIR matricule).

These are the values that decide which patient a plan belongs to, so they are
checked against each other: a typo in one digit must be caught here rather
than attach care to the wrong person. Messages name only what the user typed.
"""

from __future__ import annotations

import re
from datetime import date

from stdnum.exceptions import ValidationError
from stdnum.fr import nir

from plans.dates import WEEKDAYS, FieldError, absolute_date, format_date, relative_date
from plans.normalize import fold

__all__ = ["FieldError", "format_ins", "parse_birth_date", "parse_ins", "parse_sex"]

_FEMALE = {"f", "femme", "feminin", "feminine", "mme", "madame", "mlle", "mademoiselle", "fille"}
_MALE = {"m", "h", "homme", "masculin", "masculine", "m.", "mr", "monsieur", "garcon"}
EARLIEST_BIRTH_YEAR = 1890
BIRTH_EXPECTED = "une date de naissance réelle et passée, au format JJ/MM/AAAA"
INS_EXPECTED = (
    "le matricule INS de 15 caractères (13 chiffres et la clé de 2 chiffres ;"
    " 2A ou 2B pour la Corse)"
)
_INS_SEPARATORS = re.compile(r"[\s.\-\u00a0\u202f]+")
# Sex digit: 1/2 for a NIR, 7/8 for a temporary number (NIA).
_SEX_OF_DIGIT = {"1": "M", "2": "F", "7": "M", "8": "F"}
_SEX_WORDS = {"M": "un homme", "F": "une femme"}
# The example of python-stdnum's documentation: never another patient's number.
_NEUTRAL_EXAMPLE = "2 95 10 99 126 111 93"


def parse_sex(text: str) -> str:
    """F/M, féminin/masculin, femme/homme, Mme/M. -> « F » or « M »."""
    folded = fold(text).strip(" ,;:")
    if folded in _FEMALE:
        return "F"
    if folded in _MALE or folded.rstrip(".") in _MALE:
        return "M"
    raise FieldError(
        problem=f"« {' '.join(text.split())[:40]} » n'est pas un sexe reconnu",
        expected="F ou M (féminin ou masculin)",
        example="F",
    )


def parse_birth_date(text: str, *, today: date) -> date:
    """A real past date with a 4-digit year, not before 1890: 12/03/1948,
    12.03.1948, 1948-03-12, « 25 juin 1941 »."""
    shown = f"« {' '.join(text.split())[:40]} »"
    folded = fold(text)
    if relative_date(text, today=today) is not None or folded in WEEKDAYS:
        raise FieldError(
            problem=f"{shown} n'est pas une date de naissance",
            expected=BIRTH_EXPECTED,
            example="12/03/1948",
        )
    born = absolute_date(text, today=today, short_year=False)
    if born is None:
        raise FieldError(
            problem=f"{shown} n'est pas une date", expected=BIRTH_EXPECTED, example="12/03/1948"
        )
    if not re.search(r"\d{4}", folded):
        # "12/03" was completed with a year by absolute_date: a birth date needs its own.
        raise FieldError(
            problem=f"{shown} n'a pas d'année",
            expected=BIRTH_EXPECTED,
            example=f"{format_date(born)[:6]}1948",
        )
    if born > today:
        raise FieldError(
            problem=f"le {format_date(born)} est dans le futur",
            expected=BIRTH_EXPECTED,
            example=f"{format_date(born)[:6]}1948",
        )
    if born.year < EARLIEST_BIRTH_YEAR:
        raise FieldError(
            problem=f"l'année {born.year} est trop ancienne",
            expected=f"{BIRTH_EXPECTED}, après {EARLIEST_BIRTH_YEAR}",
            example=f"{format_date(born)[:6]}19{born.year % 100:02d}",
        )
    return born


def format_ins(ins: str) -> str:
    """« 2 48 03 75 056 118 78 »."""
    return nir.format(ins)


def _ins_error(problem: str, example: str = "") -> FieldError:
    return FieldError(problem=problem, expected=INS_EXPECTED, example=example or _NEUTRAL_EXAMPLE)


def parse_ins(text: str, *, sex: str | None, birth_date: date | None) -> str:
    """The INS without separators (« 241062A00402743 »), after checking its
    form, its key (``stdnum.fr.nir``) and its agreement with the sex and the
    birth date when they are known."""
    ins = _INS_SEPARATORS.sub("", text).upper()
    fixed = ins.replace("O", "0")
    if "O" in ins and (_well_formed(fixed) or _well_formed(fixed + "00")):
        example = format_ins(fixed) if nir.is_valid(fixed) else ""
        raise _ins_error("l'INS contient la lettre O à la place d'un zéro", example)
    if len(ins) == 13 and _well_formed(ins + "00"):
        raise _ins_error("l'INS n'a que 13 caractères : il manque la clé (les 2 derniers chiffres)")
    if len(ins) != 15:
        raise _ins_error(f"l'INS a {len(ins)} caractères au lieu de 15")
    if not _well_formed(ins):
        bad = next(
            (
                c
                for i, c in enumerate(ins)
                if not c.isdigit() and not (i in (5, 6) and ins[5:7] in ("2A", "2B"))
            ),
            ins[:1],
        )
        raise _ins_error(
            f"l'INS contient un caractère non autorisé « {bad} »"
            " (seuls les chiffres, et 2A ou 2B pour la Corse, sont permis)"
        )
    key = nir.calc_check_digits(ins)
    try:
        nir.validate(ins)
    except ValidationError:
        raise _ins_error(
            f"la clé de l'INS ne correspond pas : avec ces 13 premiers caractères, elle "
            f"devrait être {key} et non {ins[13:]} ; vérifiez tout le numéro sur la carte "
            f"Vitale ou l'attestation INS",
            format_ins(ins[:13] + key),
        ) from None
    if ins[0] not in _SEX_OF_DIGIT:
        raise _ins_error(
            f"le premier chiffre de l'INS est {ins[0]} : il doit être 1 ou 2 "
            "(7 ou 8 pour un numéro provisoire)"
        )
    _check_sex(ins, sex)
    _check_birth(ins, birth_date)
    return ins


def _well_formed(ins: str) -> bool:
    return (
        len(ins) == 15
        and ins[:5].isdigit()
        and ins[7:].isdigit()
        and (ins[5:7].isdigit() or ins[5:7] in ("2A", "2B"))
        and ins.isascii()
    )


def _check_sex(ins: str, sex: str | None) -> None:
    if sex is None or _SEX_OF_DIGIT[ins[0]] == sex:
        return
    said = _SEX_OF_DIGIT[ins[0]]
    other = "1" if sex == "M" else "2"
    raise FieldError(
        problem=f"l'INS commence par {ins[0]} ({_SEX_WORDS[said]}) "
        f"mais le sexe indiqué est {sex} ({_SEX_WORDS.get(sex, sex)})",
        expected="un INS et un sexe qui concordent (1 ou 7 pour un homme, 2 ou 8 pour une femme)",
        # Which of the two lines is wrong is for the writer to check on the card.
        example=f"{format_ins(ins)} avec « Sexe : {said} » ; ou, si c'est bien "
        f"{_SEX_WORDS.get(sex, sex)}, l'INS de sa carte Vitale, qui commence par {other}",
    )


def _check_birth(ins: str, born: date | None) -> None:
    if born is None:
        return
    month = int(ins[3:5])
    known_month = 1 <= month <= 12
    if not (known_month or 20 <= month <= 42 or month >= 50):
        raise _ins_error(
            f"le mois {ins[3:5]} de l'INS n'existe pas (01 à 12 ; 20 à 42 ou "
            "50 et plus pour un mois inconnu)"
        )
    if int(ins[1:3]) != born.year % 100 or (known_month and month != born.month):
        said = f"{ins[3:5]}/{ins[1:3]} (mois/année)" if known_month else f"l'année {ins[1:3]}"
        year = born.year - born.year % 100 + int(ins[1:3])  # the century written, as a guess
        agreeing = (f"{born.day:02d}/{ins[3:5]}/{year}" if known_month
                    else f"{born.day:02d}/{born.month:02d}/{year}")
        expected_start = f"{ins[0]} {born.year % 100:02d}" + (
            f" {born.month:02d}" if known_month else "")
        raise FieldError(
            problem=f"l'INS indique une naissance en {said} mais la date de "
            f"naissance indiquée est le {format_date(born)}",
            expected="un INS dont l'année et le mois (2e à 5e chiffres) concordent avec la "
            "date de naissance",
            example=f"{format_ins(ins)} avec « Né le : {agreeing} » ; ou, si la naissance est "
            f"bien le {format_date(born)}, l'INS de la carte Vitale, qui commence par "
            f"{expected_start}",
        )
