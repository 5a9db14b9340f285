"""Dates, times and durations as French professionals type them.

Relative dates (``J+10``, ``demain``, ``dans 2 semaines``) count from
``today``: the mail's Date header in the team's timezone, so a mail replayed
later means what it meant when it was written. Only calendar dates are
handled here, which keeps daylight-saving changes out of the picture.
"""

from __future__ import annotations

import re
from datetime import date, time, timedelta

from dateutil.relativedelta import relativedelta

from plans.errors import FieldError
from plans.normalize import fold

__all__ = [
    "MONTHS",
    "WEEKDAYS",
    "FieldError",
    "format_date",
    "format_date_long",
    "number_value",
    "parse_date",
    "parse_date_time",
    "parse_duration",
    "parse_time",
]

MONTH_NAMES = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)
WEEKDAY_NAMES = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")

# Folded spellings -> month number / weekday number (0 = Monday).
MONTHS: dict[str, int] = {fold(name): i for i, name in enumerate(MONTH_NAMES, start=1)}
MONTHS.update(
    {
        "fevr": 2,
        "fev": 2,
        "janv": 1,
        "avr": 4,
        "juil": 7,
        "sept": 9,
        "oct": 10,
        "nov": 11,
        "dec": 12,
        "aout": 8,
    }
)
WEEKDAYS: dict[str, int] = {fold(name): i for i, name in enumerate(WEEKDAY_NAMES)}

_NUMBER_WORDS = {
    "un": 1,
    "une": 1,
    "deux": 2,
    "trois": 3,
    "quatre": 4,
    "cinq": 5,
    "six": 6,
    "sept": 7,
    "huit": 8,
    "neuf": 9,
    "dix": 10,
    "onze": 11,
    "douze": 12,
    "quinze": 15,
    "vingt": 20,
    "trente": 30,
}
# Beyond this, a count is a typo, and dates would overflow.
MAX_COUNT = 9999
# Written years outside this range are typos; it also keeps arithmetic far from date.max.
MIN_YEAR, MAX_YEAR = 1800, 2999

DATE_EXPECTED = "une date au format JJ/MM/AAAA (ou 15 décembre 2026, J+10, demain…)"


def number_value(word: str) -> int | None:
    """``"3"`` or ``"trois"`` -> 3; None when the word is not a count."""
    if word.isdigit() and len(word) <= 4:
        return int(word)
    return _NUMBER_WORDS.get(word)


def format_date(d: date) -> str:
    """``15/12/2026``."""
    return f"{d.day:02d}/{d.month:02d}/{d.year:04d}"


def format_date_long(d: date) -> str:
    """``mardi 15 décembre 2026``, ``mardi 1er décembre 2026``."""
    day = "1er" if d.day == 1 else str(d.day)
    return f"{WEEKDAY_NAMES[d.weekday()]} {day} {MONTH_NAMES[d.month - 1]} {d.year}"


def _quote(text: str) -> str:
    """The user's own text, shortened, to name it in a message."""
    text = " ".join(text.split())
    return f"« {text[:60]}{'…' if len(text) > 60 else ''} »"


def _not_a_date(text: str, today: date) -> FieldError:
    return FieldError(
        problem=f"{_quote(text)} n'est pas une date",
        expected=DATE_EXPECTED,
        example=format_date(today + timedelta(days=14)),
    )


# --- absolute dates ---------------------------------------------------------

_WEEKDAY_RE = "(?:(?P<weekday>" + "|".join(WEEKDAYS) + r")\.?,?\s+)?"
_NUMERIC_DMY = re.compile(
    r"^" + _WEEKDAY_RE + r"(?P<d>\d{1,2})\s*(?P<sep>[/.-])\s*(?P<m>\d{1,2})"
    r"(?:\s*(?P=sep)\s*(?P<y>\d{2}|\d{4}))?$"
)
_NUMERIC_YMD = re.compile(r"^" + _WEEKDAY_RE + r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})$")
_TEXT_DATE = re.compile(
    r"^" + _WEEKDAY_RE + r"(?P<d>\d{1,2}|1er|premier)\s+(?P<month>[a-z]+)\.?(?:\s+(?P<y>\d{4}))?$"
)
_LEADING_WORDS = re.compile(r"^(?:le|du|au|pour le|a partir du|a compter du|des le)\s+")


def impossible_date(day: int, month: int, year: int | None) -> FieldError | None:
    """Why ``day/month/year`` is not a real date, or None when it is."""
    if not 1 <= month <= 12:
        return FieldError(
            problem=f"le mois {month} n'existe pas",
            expected="une date réelle au format JJ/MM/AAAA (mois de 01 à 12)",
            example=f"{min(max(day, 1), 28):02d}/12/{year or 2026:04d}",
        )
    probe_year = year if year is not None else 2024  # a leap year: 29/02 without a year is fine
    try:
        date(probe_year, month, day)
        return None
    except ValueError:
        pass
    where = f"le {day} {MONTH_NAMES[month - 1]}" + (f" {year}" if year is not None else "")
    if day == 29 and month == 2 and year is not None:
        where += f" n'existe pas ({year} n'est pas bissextile)"
    else:
        where += " n'existe pas"
    last = (date(probe_year, month, 1) + relativedelta(months=1, days=-1)).day
    fixed = min(max(day, 1), last)
    return FieldError(
        problem=where,
        expected="une date réelle au format JJ/MM/AAAA",
        example=f"{fixed:02d}/{month:02d}" + (f"/{year:04d}" if year is not None else ""),
    )


def _build(
    text: str,
    day: int,
    month: int,
    year: int | None,
    weekday: str | None,
    today: date,
) -> date:
    problem = impossible_date(day, month, year)
    if problem is not None:
        raise problem
    if year is None:
        # "15/12" or "15 décembre" means the next such day, today included.
        result = None
        year = today.year
        while result is None or result < today:
            try:
                result = date(year, month, day)
            except ValueError:  # 29/02 outside a leap year
                result = None
            year += 1
    else:
        result = date(year, month, day)
    if weekday is not None and WEEKDAYS[weekday] != result.weekday():
        raise FieldError(
            problem=(
                f"{_quote(text)} : le {format_date(result)} est un "
                f"{WEEKDAY_NAMES[result.weekday()]}, pas un {WEEKDAY_NAMES[WEEKDAYS[weekday]]}"
            ),
            expected="un jour de la semaine qui correspond à la date",
            example=format_date_long(result),
        )
    return result


def absolute_date(text: str, *, today: date, short_year: bool = True) -> date | None:
    """A written calendar date, or None when ``text`` is not shaped like one.

    Raises FieldError when it is shaped like a date but is not a real one
    (31/02, wrong weekday), or has a 2-digit year and ``short_year`` is False.
    """
    folded = _LEADING_WORDS.sub("", fold(text).rstrip(".,;"))
    m = _NUMERIC_DMY.match(folded) or _NUMERIC_YMD.match(folded)
    if m is not None:
        day, month = int(m["d"]), int(m["m"])
        y = m["y"]
    else:
        m = _TEXT_DATE.match(folded)
        if m is None or m["month"] not in MONTHS:
            return None
        day = 1 if m["d"] in ("1er", "premier") else int(m["d"])
        month = MONTHS[m["month"]]
        y = m["y"]
    year: int | None
    if y is None:
        year = None
    elif len(y) == 2:
        if not short_year:
            raise FieldError(
                problem=f"l'année « {y} » n'a que 2 chiffres",
                expected="une date avec l'année sur 4 chiffres (JJ/MM/AAAA)",
                example=f"{min(max(day, 1), 28):02d}/{min(max(month, 1), 12):02d}/19{y}",
            )
        year = 2000 + int(y)
    else:
        year = int(y)
        if not MIN_YEAR <= year <= MAX_YEAR:
            raise FieldError(
                problem=f"l'année {year} n'est pas plausible",
                expected=f"une date réelle au format JJ/MM/AAAA, entre {MIN_YEAR} et {MAX_YEAR}",
                example=f"{min(max(day, 1), 28):02d}/{min(max(month, 1), 12):02d}/{today.year}",
            )
    return _build(text, day, month, year, m["weekday"], today)


# --- relative dates ---------------------------------------------------------

_FIXED_WORDS = {
    "aujourd'hui": 0,
    "aujourd hui": 0,
    "ce jour": 0,
    "demain": 1,
    "apres-demain": 2,
    "apres demain": 2,
}
_J_PLUS = re.compile(r"^j\s*\+\s*(\d{1,4})$")
_IN = re.compile(r"^(?:dans|d'ici)\s+(\w+)\s+(jours?|semaines?|mois|ans?|annees?)$")
_NEXT_WEEKDAY = re.compile(r"^(" + "|".join(WEEKDAYS) + r")(?:\s+prochain)?$")


def relative_date(text: str, *, today: date) -> date | None:
    """``J+10``, ``dans 2 semaines``, ``demain``, ``lundi prochain``; None otherwise."""
    folded = fold(text).rstrip(".,;")
    if folded in _FIXED_WORDS:
        return today + timedelta(days=_FIXED_WORDS[folded])
    m = _J_PLUS.match(folded)
    if m is not None:
        return _shift(today, int(m[1]), "jours", text)
    m = _IN.match(folded)
    if m is not None:
        count = number_value(m[1])
        if count is None:
            return None
        return _shift(today, count, m[2], text)
    m = _NEXT_WEEKDAY.match(folded)
    if m is not None:
        ahead = (WEEKDAYS[m[1]] - today.weekday() - 1) % 7 + 1  # strictly after today
        return today + timedelta(days=ahead)
    return None


def _shift(today: date, count: int, unit: str, text: str) -> date:
    if count > MAX_COUNT:
        raise FieldError(
            problem=f"{_quote(text)} est trop loin",
            expected="une date dans les années à venir",
            example="J+10",
        )
    if unit.startswith("jour"):
        delta = relativedelta(days=count)
    elif unit.startswith("semaine"):
        delta = relativedelta(weeks=count)
    elif unit == "mois":
        delta = relativedelta(months=count)
    else:
        delta = relativedelta(years=count)
    try:
        shifted: date = today + delta
        return shifted
    except (OverflowError, ValueError):
        raise FieldError(
            problem=f"{_quote(text)} est trop loin",
            expected="une date dans les années à venir",
            example="J+10",
        ) from None


def parse_date(text: str, *, today: date) -> date:
    """Absolute or relative (to ``today``, the mail's date) French date.

    Accepts 15/12/2026, 15-12-2026, 15.12.2026, 2026-12-15, 15/12/26,
    15/12 (next such day), « 15 décembre 2026 », « 1er décembre 2026 »,
    « jeudi 7 janvier 2027 » (the weekday must agree), J+10, « dans 2
    semaines », demain, aujourd'hui, après-demain, « lundi prochain ».
    """
    found = relative_date(text, today=today) or absolute_date(text, today=today)
    if found is None:
        raise _not_a_date(text, today)
    return found


# --- times, date-times, durations -------------------------------------------

_TIME = re.compile(r"^(\d{1,2})\s*(?:h|:)\s*(?:(\d{2})\s*(?:min|mn|m)?)?$")
_TIME_WORDS = {"midi": time(12, 0), "minuit": time(0, 0)}
TIME_EXPECTED = "une heure comme 12h30, 12:30 ou 8h"


def parse_time(text: str) -> time:
    """``12h30``, ``12:30``, ``12h``, ``8h``, ``midi``."""
    folded = fold(text).rstrip(".,;")
    if folded.startswith("a "):
        folded = folded[2:].lstrip()
    if folded in _TIME_WORDS:
        return _TIME_WORDS[folded]
    m = _TIME.match(folded)
    if m is None:
        raise FieldError(
            problem=f"{_quote(text)} n'est pas une heure", expected=TIME_EXPECTED, example="12h30"
        )
    hour, minute = int(m[1]), int(m[2] or 0)
    if hour > 23 or minute > 59:
        raise FieldError(
            problem=f"{_quote(text)} n'est pas une heure réelle",
            expected=TIME_EXPECTED + " (de 0h00 à 23h59)",
            example="12h30",
        )
    return time(hour, minute)


_DATE_THEN_TIME = re.compile(
    r"^(?P<d>.+?)(?:\s*,\s*|\s+a\s+|\s+-\s+|\s+des\s+|\s+de\s+|\s+)"
    r"(?P<t>\d{1,2}\s*(?:h|:)\s*(?:\d{2})?\s*(?:min|mn)?|midi|minuit)$"
)


def parse_date_time(text: str, *, today: date) -> tuple[date, time | None]:
    """``03/12/2026 à 12h30`` -> (date, time); the time is None when absent."""
    folded = fold(text).rstrip(".,;")
    m = _DATE_THEN_TIME.match(folded)
    if m is None:
        return parse_date(text, today=today), None
    return parse_date(m["d"], today=today), parse_time(m["t"])


_DURATION = re.compile(
    r"^(?:(?P<h>\w+)\s*(?:h|heures?|hrs?)\b\s*)?(?:(?P<m>\d{1,4})\s*(?:min|minutes?|mn|m)?)?$"
)
DURATION_EXPECTED = "une durée comme 1h30, 90 min ou 2 h"


def parse_duration(text: str) -> timedelta:
    """``1h30``, ``1 h 30``, ``90 min``, ``2 h``, ``une heure``, ``1:30``."""
    folded = fold(text).rstrip(".,;")
    folded = re.sub(r"^(\d{1,2}):(\d{2})$", r"\1h\2", folded)
    folded = re.sub(r"(\d)(h|heures?)(?=\d)", r"\1\2 ", folded)
    m = _DURATION.match(folded)
    hours = minutes = None
    if m is not None and (m["h"] or m["m"]):
        hours = number_value(m["h"]) if m["h"] else 0
        minutes = int(m["m"]) if m["m"] else 0
        if m["h"] is None and m["m"] and not re.search(r"(min|minutes?|mn|m)$", folded):
            hours = None  # a bare number has no unit: refuse to guess
    if hours is None or minutes is None:
        raise FieldError(
            problem=f"{_quote(text)} n'est pas une durée",
            expected=DURATION_EXPECTED,
            example="1h30",
        )
    total = timedelta(hours=hours, minutes=minutes)
    if total <= timedelta(0) or total > timedelta(hours=24):
        raise FieldError(
            problem=f"{_quote(text)} n'est pas une durée plausible",
            expected=DURATION_EXPECTED + " (au plus 24 h)",
            example="1h30",
        )
    return total


# --- a new due date (REPORTER) ------------------------------------------------

# A time at the end of the text as written (accents kept, so that an error
# quotes the date as the person typed it): « 15/12/2026 à 14h », « demain, 8h30 ».
# Searched in text that is not folded, so runs of spaces are unbounded: a
# match starts where its spaces start, and the runs of spaces are possessive
# (up to four adjacent runs could share the same spaces in every way: cubic
# on a run of spaces after « 14h » not followed by the end).
_TIME_AT_END = re.compile(
    r"(?<!\s)(?:\s*+,\s*+|\s++(?:à|a|dès|des|de|vers|-)\s++|\s++)"
    r"(?P<t>\d{1,2}\s*+[h:]\s*+(?:\d{2})?\s*+(?:min|mn)?|midi|minuit)\s*+(?:[.,;]\s*+)?$",
    re.IGNORECASE,
)


def format_time(at: time) -> str:
    """``14h00``, ``8h30``."""
    return f"{at.hour}h{at.minute:02d}"


def parse_new_due(text: str, *, today: date) -> tuple[date, time | None]:
    """A new due date, optionally with a time, never before ``today``:
    « 15/12/2026 », « 15/12/2026 à 14h », « demain 8h30 », « J+10 ».
    Errors quote ``text`` as written."""
    text = text.strip()
    m = _TIME_AT_END.search(text)
    day_text = text[: m.start()] if m and m.start() > 0 else text
    day = parse_date(day_text, today=today)
    at = None
    if m and m.start() > 0:
        try:
            at = parse_time(m["t"])
        except FieldError as e:  # the example must be a whole new due date
            raise FieldError(e.problem, e.expected, f"{format_date(day)} à 14h30") from None
    if day < today:
        written = "" if fold(day_text) == format_date(day) else f" (le {format_date(day)})"
        raise FieldError(
            problem=f"{_quote(day_text)} est une date passée{written}",
            expected=f"une date à partir d'aujourd'hui, le {format_date(today)}",
            example=format_date(today + timedelta(days=14)),
        )
    return day, at
