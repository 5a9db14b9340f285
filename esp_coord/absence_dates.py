"""The dates of an absence, read from a member's out-of-office reply (pure).

The intake recognises the reply (``intake.automatic``: RFC 3834 headers,
vendor headers, or a subject such as « Absence du 20/12 au 04/01 »); this
reads, from its subject and the first ``MAX_CHARS`` of its text, the period
its author wrote, in French or in English, as mail clients' templates and
people word it:

- a period: « absente du 20/12 au 04/01 inclus », « du lundi 20 décembre au
  4 janvier », « entre le 20/12 et le 04/01 », "from December 20 to January
  4", "between 20 December and 4 January";
- an end: « jusqu'au 4 janvier », "until January 4th", "through 04/01/2027"
  (from the day of the reply);
- a return: « de retour le 5 janvier », « reprise le lundi 5 janvier »,
  "back on January 5", "returning Monday 5 January" (the day before it is
  the last one away).

Dates without a year are the nearest such day (a start) or the next one
within half a year (an end); numeric dates are day first, as in France. Nothing is guessed
beyond that: no period, no absence (the reply is ignored as before). The
scan is one pass over words (``_WORD`` is linear), whatever the text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from plans.dates import MONTHS, WEEKDAYS
from plans.normalize import fold

__all__ = ["MAX_CHARS", "Period", "read_period"]

MAX_CHARS = 4000
_WORD = re.compile(r"\d{1,4}(?:[/.-]\d{1,2}(?:[/.-]\d{2,4})?)?(?:er|st|nd|rd|th)?"
                   r"|[a-z]+(?:'[a-z]+)?|(?<= )-(?= )")
_ENGLISH_MONTHS = {name: n for n, names in enumerate((
    ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",),
    ("june", "jun"), ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"),
    ("october", "oct"), ("november", "nov"), ("december", "dec")), start=1) for name in names}
_MONTH_WORDS = {**_ENGLISH_MONTHS, **MONTHS}
_ENGLISH_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_WORDS = frozenset((*WEEKDAYS, *_ENGLISH_DAYS, "the", "le", "on"))
_PERIOD_OPEN = frozenset(("du", "from", "between", "entre"))
_PERIOD_CLOSE = frozenset(("au", "to", "until", "till", "through", "thru", "and", "et",
                           "jusqu'au", "-"))
_UNTIL = frozenset(("jusqu'au", "until", "till", "through", "thru", "jusqu'a"))
_RETURN = frozenset(("retour", "reprise", "back", "return", "returning", "rentre", "rentree"))
# Words that may sit between a return word and its date (« de retour au
# cabinet le 5 », "back in the office on Monday").
_FILLER = frozenset(("le", "on", "the", "au", "a", "in", "office", "cabinet", "prevu", "prevue",
                     "des", "from", "will", "be", "i", "je", "serai", "sera", "l'", "bureau",
                     "work", "at", "de", "mon", "poste"))
_MAX_FILLER = 4


@dataclass(frozen=True)
class Period:
    start: date
    end: date   # included


def read_period(subject: str, text: str, *, received: date) -> Period | None:
    """The period an out-of-office reply announces (module docstring), or None.
    ``received``: the reply's day (the start when only an end is written)."""
    words = _WORD.findall(fold(f"{subject}\n{text[:MAX_CHARS]}").replace("jusqu au", "jusqu'au"))
    found = _period(words, received) or _until(words, received) or _return(words, received)
    if found is None or found.end < found.start or found.end < received:
        return None
    return found


def _period(words: Sequence[str], received: date) -> Period | None:
    for i, word in enumerate(words):
        if word not in _PERIOD_OPEN:
            continue
        start, j = _date_at(words, i + 1, received, nearest=True)
        if start is None or j >= len(words) or words[j] not in _PERIOD_CLOSE:
            continue
        j += 1
        if j < len(words) and words[j] in ("le", "the"):
            j += 1
        end, _ = _date_at(words, j, start, nearest=False)
        if end is not None:
            return Period(start, end)
    return None


def _until(words: Sequence[str], received: date) -> Period | None:
    for i, word in enumerate(words):
        if word in _UNTIL:
            end, _ = _date_at(words, i + 1, received, nearest=False)
            if end is not None:
                return Period(received, end)
    return None


def _return(words: Sequence[str], received: date) -> Period | None:
    for i, word in enumerate(words):
        if word not in _RETURN:
            continue
        j = i + 1
        while j < len(words) and j - i <= _MAX_FILLER and words[j] in _FILLER:
            j += 1
        back, _ = _date_at(words, j, received, nearest=False)
        if back is not None and back > received:
            return Period(received, back - timedelta(days=1))
    return None


def _date_at(words: Sequence[str], i: int, ref: date, *, nearest: bool
             ) -> tuple[date | None, int]:
    """The date written from ``words[i]`` (a weekday or « le » may come first)
    and the index after it; (None, i) when there is none."""
    while i < len(words) and words[i] in _DAY_WORDS:
        i += 1
    if i >= len(words):
        return None, i
    word = words[i]
    numeric = re.fullmatch(r"(\d{1,2})[/.-](\d{1,2})(?:[/.-](\d{2,4}))?", word)
    if numeric:
        day, month = int(numeric[1]), int(numeric[2])
        year = _year(numeric[3])
        return _build(day, month, year, ref, nearest), i + 1
    number = _day_number(word)
    if number is not None and i + 1 < len(words) and words[i + 1] in _MONTH_WORDS:
        year, after = _year_at(words, i + 2)
        return _build(number, _MONTH_WORDS[words[i + 1]], year, ref, nearest), after
    if word in _MONTH_WORDS and i + 1 < len(words):
        number = _day_number(words[i + 1])
        if number is not None:
            year, after = _year_at(words, i + 2)
            return _build(number, _MONTH_WORDS[word], year, ref, nearest), after
    return None, i


def _day_number(word: str) -> int | None:
    digits = word.removesuffix("er").removesuffix("st").removesuffix("nd").removesuffix(
        "rd").removesuffix("th")
    if digits.isdigit() and len(digits) <= 2:
        return int(digits)
    return 1 if word == "premier" else None


def _year(text: str | None) -> int | None:
    if text is None:
        return None
    return 2000 + int(text) if len(text) == 2 else int(text)


def _year_at(words: Sequence[str], i: int) -> tuple[int | None, int]:
    if i < len(words) and re.fullmatch(r"\d{4}", words[i]):
        return int(words[i]), i + 1
    return None, i


def _build(day: int, month: int, year: int | None, ref: date, nearest: bool) -> date | None:
    """``day/month/year``, or without a year the nearest such day to ``ref``
    (``nearest``) or the first on or after it."""
    years = [year] if year is not None else [ref.year - 1, ref.year, ref.year + 1]
    found = []
    for y in years:
        try:
            found.append(date(y, month, day))
        except ValueError:
            continue
    if not found:
        return None
    if year is not None:
        return found[0]
    if nearest:
        return min(found, key=lambda d: abs((d - ref).days))
    # Without a year, an end more than half a year ahead is a day already
    # past (« jusqu'au 4 décembre » read on the 15th), not next year's.
    after = [d for d in found if ref <= d <= ref + timedelta(days=183)]
    return min(after) if after else None
