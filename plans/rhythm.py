"""Rhythms and due dates as French professionals write them.

« chaque semaine », « 2 fois par semaine pendant 3 mois », « tous les 2 jours
jusqu'au 31/12/2026 », « le premier jeudi de chaque mois »: parsed into the
``Rhythm`` and ``When`` values of ``plans.recurrence`` (re-exported here).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, time

from dateutil.relativedelta import relativedelta

from plans.dates import (  # _DATE_THEN_TIME: parse_date_time's own split, shared
    _DATE_THEN_TIME,
    WEEKDAYS,
    FieldError,
    absolute_date,
    format_date,
    number_value,
    parse_date,
    parse_time,
    relative_date,
)
from plans.normalize import fold
from plans.recurrence import MAX_INTERVAL, SPREAD_WEEK, Rhythm, When

__all__ = [
    "RHYTHM_EXPECTED",
    "WHEN_EXPECTED",
    "FieldError",
    "Rhythm",
    "When",
    "match_rhythm",
    "parse_rhythm",
    "parse_when",
]

RHYTHM_EXPECTED = "un rythme (chaque semaine, tous les 2 jours, chaque lundi, 2 fois par semaine…)"
WHEN_EXPECTED = (
    "une date (15/12/2026, J+10, demain…) ou un rythme (chaque semaine, tous les 2 jours…)"
)


# --- parsing rhythms ----------------------------------------------------------

_WD = "(?:" + "|".join(WEEKDAYS) + ")"
_FIXED: dict[str, Rhythm] = {}
for _words, _rhythm in (
    (
        (
            "tous les jours",
            "chaque jour",
            "quotidien",
            "quotidienne",
            "quotidiennement",
            "journalier",
            "par jour",
            "7j/7",
            "7 jours sur 7",
        ),
        Rhythm("DAILY"),
    ),
    (
        (
            "chaque semaine",
            "toutes les semaines",
            "hebdomadaire",
            "hebdo",
            "par semaine",
            "hebdomadairement",
        ),
        Rhythm("WEEKLY"),
    ),
    (
        ("chaque mois", "tous les mois", "mensuel", "mensuelle", "mensuellement", "par mois"),
        Rhythm("MONTHLY"),
    ),
    (
        (
            "trimestriel",
            "trimestrielle",
            "chaque trimestre",
            "tous les trimestres",
            "par trimestre",
        ),
        Rhythm("MONTHLY", 3),
    ),
    (
        ("semestriel", "semestrielle", "chaque semestre", "tous les semestres", "par semestre"),
        Rhythm("MONTHLY", 6),
    ),
    (
        (
            "annuel",
            "annuelle",
            "annuellement",
            "chaque annee",
            "tous les ans",
            "chaque an",
            "toutes les annees",
            "par an",
        ),
        Rhythm("YEARLY"),
    ),
    (("bihebdomadaire",), Rhythm("WEEKLY", byweekday=SPREAD_WEEK[2], per_week=2)),
    (("bimensuel", "bimensuelle"), Rhythm("MONTHLY", bymonthday=(1, 15), per_month=2)),
    (("un jour sur deux", "un jour sur 2", "1 jour sur 2"), Rhythm("DAILY", 2)),
):
    for _w in _words:
        _FIXED[_w] = _rhythm

_UNITS = {
    "jour": "DAILY",
    "jours": "DAILY",
    "semaine": "WEEKLY",
    "semaines": "WEEKLY",
    "mois": "MONTHLY",
    "an": "YEARLY",
    "ans": "YEARLY",
    "annee": "YEARLY",
    "annees": "YEARLY",
}
_EVERY_N = re.compile(
    r"^(?:tous|toutes|chaque)\s+(?:les\s+)?(\w+)\s+(jours?|semaines?|mois|ans?|annees?)$"
)
_TIMES_PER = re.compile(r"^(\w+)\s+fois\s+(?:par|/)\s*(jour|semaine|mois|an|annee)$")
_WEEKDAY_LIST = re.compile(
    r"^(?P<prefix>chaque|tous\s+les|les|le)?\s*(?P<days>"
    + _WD
    + r"s?(?:\s*(?:,|et)\s*(?:le\s+|les\s+)?"
    + _WD
    + r"s?)*)(?:\s+(?:de\s+)?chaque\s+semaine)?$"
)
_ONE_IN_N = re.compile(r"^un\s+(" + _WD + r")\s+sur\s+(\w+)$")
_ORDINALS = {
    "premier": 1,
    "premiere": 1,
    "1er": 1,
    "1ere": 1,
    "1re": 1,
    "deuxieme": 2,
    "2e": 2,
    "2eme": 2,
    "second": 2,
    "seconde": 2,
    "troisieme": 3,
    "3e": 3,
    "3eme": 3,
    "quatrieme": 4,
    "4e": 4,
    "4eme": 4,
    "dernier": -1,
    "derniere": -1,
    "avant-dernier": -2,
    "avant-derniere": -2,
}
_NTH_WEEKDAY = re.compile(
    r"^(?:le|les|chaque|tous\s+les|toutes\s+les)?\s*("
    + "|".join(map(re.escape, _ORDINALS))
    + r")s?\s+("
    + _WD
    + r")s?\s+(?:de\s+chaque|du|de\s+tous\s+les|de\s+chaque)\s+mois$"
)
_MONTH_DAY = re.compile(
    r"^(?:le|chaque|tous\s+les)\s+(\d{1,2}|1er)\s+(?:de\s+chaque|du|de\s+tous\s+les)\s+mois$"
)


def _count(word: str, text: str, *, low: int, high: int) -> int | None:
    value = number_value(word)
    if value is None:
        return None
    if not low <= value <= high:
        raise FieldError(
            problem=f"« {text} » : {value} est hors des limites ({low} à {high})",
            expected=RHYTHM_EXPECTED,
            example="tous les 2 jours",
        )
    return value


def match_rhythm(text: str) -> Rhythm | None:
    """The rhythm ``text`` says, None when it says none; FieldError when it
    says one that cannot be (« tous les 0 jours »)."""
    folded = fold(text).rstrip(".,;")
    folded = re.sub(r"^(?:a raison d'|a raison de\s+|une fois\s+)", "", folded)
    if folded in _FIXED:
        return _FIXED[folded]
    m = _EVERY_N.match(folded)
    if m is not None:
        freq = _UNITS[m[2]]
        n = _count(m[1], folded, low=1, high=MAX_INTERVAL[freq])
        return Rhythm(freq, n) if n is not None else None
    m = _TIMES_PER.match(folded)
    if m is not None:
        return _times_per(m[1], m[2], folded)
    m = _ONE_IN_N.match(folded)
    if m is not None:
        n = _count(m[2], folded, low=1, high=MAX_INTERVAL["WEEKLY"])
        return Rhythm("WEEKLY", n, byweekday=(WEEKDAYS[m[1]],)) if n is not None else None
    m = _NTH_WEEKDAY.match(folded)
    if m is not None:
        return Rhythm("MONTHLY", byweekday=(WEEKDAYS[m[2]],), bysetpos=_ORDINALS[m[1]])
    m = _MONTH_DAY.match(folded)
    if m is not None:
        day = 1 if m[1] == "1er" else int(m[1])
        if not 1 <= day <= 31:
            return None
        return Rhythm("MONTHLY", bymonthday=(day,))
    m = _WEEKDAY_LIST.match(folded)
    if m is not None:
        names = re.findall(_WD + "s?", m["days"])
        if m["prefix"] is None and len(names) == 1 and not names[0].endswith("s"):
            return None  # "lundi" alone is next Monday, a date
        days = sorted({WEEKDAYS[w.rstrip("s")] for w in names})
        return Rhythm("WEEKLY", byweekday=tuple(days))
    return None


def _times_per(word: str, unit: str, text: str) -> Rhythm | None:
    if unit == "jour":
        n = _count(word, text, low=1, high=24)
        if n is None:
            return None
        return Rhythm("DAILY", per_day=n if n > 1 else None)
    if unit == "semaine":
        n = _count(word, text, low=1, high=7)
        if n is None:
            return None
        return (
            Rhythm("WEEKLY") if n == 1 else Rhythm("WEEKLY", byweekday=SPREAD_WEEK[n], per_week=n)
        )
    if unit == "mois":
        n = _count(word, text, low=1, high=4)
        if n is None:
            return None
        if n == 1:
            return Rhythm("MONTHLY")
        days = tuple(1 + k * 28 // n for k in range(n))
        return Rhythm("MONTHLY", bymonthday=days, per_month=n)
    n = _count(word, text, low=1, high=12)
    if n is None:
        return None
    if 12 % n:
        raise FieldError(
            problem=f"« {text} » ne tombe pas sur des mois entiers",
            expected="1, 2, 3, 4, 6 ou 12 fois par an (ou tous les N mois)",
            example="tous les 3 mois",
        )
    return Rhythm("YEARLY") if n == 1 else Rhythm("MONTHLY", 12 // n)


def parse_rhythm(text: str) -> Rhythm:
    """« chaque semaine », « hebdomadaire », « tous les jours », « quotidien »,
    « tous les N jours/semaines/mois », « toutes les 2 semaines », « chaque
    lundi », « tous les lundis », « mensuel », « trimestriel », « semestriel »,
    « annuel », « N fois par semaine/mois », « le premier jeudi de chaque mois »."""
    found = match_rhythm(text)
    if found is None:
        raise FieldError(
            problem=f"« {' '.join(text.split())[:60]} » n'est pas un rythme",
            expected=RHYTHM_EXPECTED,
            example="chaque semaine",
        )
    return found


# --- parsing "when" -----------------------------------------------------------

_CLAUSE = re.compile(
    r"(?:^|\s|,)\s*(?P<kw>a partir d(?:u|e|')|a compter d(?:u|e|')|des le|debut le|"
    r"jusqu'(?:au|a|le)|jusqu au|jusqu a|jusque|pendant|durant)(?:(?<=')|(?=\s|\d|$))"
)
_SPAN = re.compile(r"^(\w+)\s+(jours?|semaines?|mois|ans?|annees?)$")
_DEADLINE_WORDS = re.compile(r"^(?:avant le|d'ici le|d'ici au|au plus tard le|le)\s+")


def _when_error(text: str) -> FieldError:
    return FieldError(
        problem=f"« {' '.join(text.split())[:60]} » n'est ni une date ni un rythme",
        expected=WHEN_EXPECTED,
        example="chaque semaine",
    )


def _span(value: str, text: str) -> relativedelta:
    m = _SPAN.match(value)
    n = number_value(m[1]) if m else None
    if m is None or n is None or not 1 <= n <= 3660:
        raise FieldError(
            problem=f"« {value} » n'est pas une durée",
            expected="une durée comme « pendant 3 mois » ou « pendant 10 jours »",
            example="chaque semaine pendant 3 mois",
        )
    unit = _UNITS[m[2]]
    if unit == "DAILY":
        return relativedelta(days=n)
    if unit == "WEEKLY":
        return relativedelta(weeks=n)
    if unit == "MONTHLY":
        return relativedelta(months=n)
    if n > 10:
        raise FieldError(
            problem=f"« {value} » est trop long",
            expected="au plus 10 ans",
            example="chaque année pendant 5 ans",
        )
    return relativedelta(years=n)


def _date_value(value: str, today: date) -> date:
    return parse_date(_DEADLINE_WORDS.sub("", value), today=today)


def parse_when(text: str, *, today: date, earliest: date | None = None) -> When:
    """A date, or a rhythm with optional « à partir du <date> », « pendant N
    jours/semaines/mois » and « jusqu'au <date> ». A rhythm starts today unless
    told otherwise, or on ``earliest`` when that is later (the service gives
    the first day whose reminder is still to go out: a rhythm begun after that
    day's reminders would start with an occurrence nobody is told of, « en
    retard » the next morning); ``until`` is included. A time (« à 14h »,
    « 12:30 ») at the end or right after the rhythm is kept as ``time_of_day``."""
    folded, at = _split_time(fold(text).rstrip(".,;"))
    marks = list(_CLAUSE.finditer(folded))
    head = folded[: marks[0].start()].strip(" ,") if marks else folded
    if at is None and marks:
        head, at = _split_time(head)
    return replace(_parse_when(text, folded, head, marks, today, earliest), time_of_day=at)


def _split_time(folded: str) -> tuple[str, time | None]:
    """« demain a 12h30 » -> (« demain », 12:30); the text as is when no time ends it."""
    m = _DATE_THEN_TIME.match(folded)
    if m is None:
        return folded, None
    try:
        return m["d"], parse_time(m["t"])
    except FieldError as exc:  # the example must be a whole "when"
        raise FieldError(exc.problem, exc.expected, f"{m['d']} à 12h30") from None


def _parse_when(text: str, folded: str, head: str, marks: list[re.Match[str]],
                today: date, earliest: date | None) -> When:
    clauses: dict[str, str] = {}
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(folded)
        kw = mark["kw"]
        kind = (
            "start"
            if kw.startswith(("a partir", "a compter", "des", "debut"))
            else "span"
            if kw in ("pendant", "durant")
            else "until"
        )
        if (
            kind in clauses
            or (kind == "span" and "until" in clauses)
            or (kind == "until" and "span" in clauses)
        ):
            raise FieldError(
                problem=f"« {' '.join(text.split())[:60]} » donne deux débuts ou deux fins",
                expected="un seul « à partir du », et « pendant » ou « jusqu'au », pas les deux",
                example="chaque semaine à partir du 01/12/2026 pendant 3 mois",
            )
        clauses[kind] = folded[mark.end() : end].strip(" ,")

    rhythm = match_rhythm(head) if head else None
    if rhythm is None:
        return _single_date(text, head, clauses, today)

    start = (_date_value(clauses["start"], today) if "start" in clauses
             else max(today, earliest or today))
    until: date | None = None
    if "until" in clauses:
        until = _date_value(clauses["until"], today)
    elif "span" in clauses:
        until = start + _span(clauses["span"], text)
    first = (
        rhythm.first_on_or_after(start)
        if until is None
        else next(rhythm.occurrences(start, until=until), None)
    )
    if until is not None and (until < start or first is None):
        raise FieldError(
            problem=f"la fin ({format_date(until)}) arrive avant la première date "
            f"({format_date(start)})",
            expected="une date de fin après le début du rythme",
            example=f"{rhythm.describe()} jusqu'au {format_date(start + relativedelta(months=3))}",
        )
    return When(due=first, rhythm=rhythm, until=until)


def _single_date(text: str, head: str, clauses: dict[str, str], today: date) -> When:
    if "span" in clauses:
        if (
            head
            and absolute_date(head, today=today) is None
            and relative_date(head, today=today) is None
        ):
            raise _when_error(text)
        raise FieldError(
            problem="« pendant » demande un rythme",
            expected="un rythme suivi de sa durée",
            example="chaque semaine pendant 3 mois",
        )
    if head:
        value = _DEADLINE_WORDS.sub("", head)
        due = relative_date(value, today=today) or absolute_date(value, today=today)
        if due is None:
            raise _when_error(text)
        if clauses:
            raise FieldError(
                problem=f"« {' '.join(text.split())[:60]} » : une date unique n'a ni début ni fin",
                expected="une date, ou un rythme avec « à partir du » ou « jusqu'au »",
                example=format_date(due),
            )
        return When(due=due, rhythm=None, until=None)
    # "à partir du 01/12/2026" or "jusqu'au 15/12/2026" alone: one date, a deadline.
    if len(clauses) == 1:
        return When(due=_date_value(next(iter(clauses.values())), today), rhythm=None, until=None)
    raise _when_error(text)
