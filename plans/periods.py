"""Reporting periods as a coordinator names them: a year, a quarter, two dates.

``2026``, ``T3 2026`` (also ``3e trimestre 2026``, ``Q3 2026``),
``du 01/01/2026 au 30/06/2026``, or nothing (the last full quarter). A period
is a pair of days, both included.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from plans.dates import absolute_date, format_date
from plans.errors import FieldError

_YEAR = re.compile(r"(\d{4})")
_QUARTER = re.compile(r"(?:t|q|trimestre\s*)([1-4])\s+(\d{4})|([1-4])\s*(?:e|er|ème|eme)?\s+"
                      r"trimestre\s+(\d{4})")
_BETWEEN = re.compile(r"(?:du\s+)?(\S{6,10})\s+(?:au|à|-)\s+(\S{6,10})")
EXAMPLES = "« 2026 », « T3 2026 » ou « du 01/01/2026 au 30/06/2026 »"


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # included
    label: str

    def __contains__(self, day: date) -> bool:
        return self.start <= day <= self.end

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def quarter(year: int, number: int) -> Period:
    start = date(year, 3 * number - 2, 1)
    following = date(year + (number == 4), 1 if number == 4 else 3 * number + 1, 1)
    return Period(start, following - timedelta(days=1), f"T{number} {year}")


def year(value: int) -> Period:
    return Period(date(value, 1, 1), date(value, 12, 31), f"année {value}")


def last_full_quarter(today: date) -> Period:
    current = (today.month - 1) // 3 + 1
    return quarter(today.year - 1, 4) if current == 1 else quarter(today.year, current - 1)


def parse_period(text: str, *, today: date) -> Period:
    """The period ``text`` names; raises ``FieldError`` with an example."""
    words = " ".join(text.lower().split())[:80]
    if not words:
        return last_full_quarter(today)
    if (m := _QUARTER.fullmatch(words)) is not None:
        number, value = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        return quarter(int(value), int(number))
    if (m := _YEAR.fullmatch(words)) is not None:
        return year(int(m.group(1)))
    if (m := _BETWEEN.fullmatch(words)) is not None:
        start = absolute_date(m.group(1), today=today)
        end = absolute_date(m.group(2), today=today)
        if start is not None and end is not None:
            if end < start:
                raise FieldError(problem="la date de fin précède la date de début",
                                 expected="une date de début puis une date de fin",
                                 example="du 01/01/2026 au 30/06/2026")
            return Period(start, end, f"du {format_date(start)} au {format_date(end)}")
    raise FieldError(problem=f"« {text.strip()[:40]} » n’est pas une période reconnue",
                     expected=EXAMPLES, example="T3 2026")
