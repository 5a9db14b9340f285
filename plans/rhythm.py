"""Recurrences (« chaque semaine », « 2 fois par semaine »...) and when an action is due.

A ``Rhythm`` is a small subset of an RFC 5545 recurrence rule that French
professionals can say in words; ``dateutil.rrule`` computes the dates. Only
dates matter (an action is due on a day), so time zones and daylight saving
never enter here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from dateutil.relativedelta import relativedelta
from dateutil.rrule import DAILY, MONTHLY, WEEKLY, YEARLY, rrule

from plans.dates import (
    WEEKDAY_NAMES,
    WEEKDAYS,
    FieldError,
    absolute_date,
    format_date,
    number_value,
    parse_date,
    relative_date,
)
from plans.normalize import fold

__all__ = ["FieldError", "Rhythm", "When", "parse_rhythm", "parse_when", "WHEN_EXPECTED"]

_FREQS = {"DAILY": DAILY, "WEEKLY": WEEKLY, "MONTHLY": MONTHLY, "YEARLY": YEARLY}
_BYDAY = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
# How "N fois par semaine" spreads over the week: as evenly as working days allow.
_SPREAD_WEEK = {2: (0, 3), 3: (0, 2, 4), 4: (0, 1, 3, 4), 5: (0, 1, 2, 3, 4),
                6: (0, 1, 2, 3, 4, 5), 7: (0, 1, 2, 3, 4, 5, 6)}
_ORDINAL_WORDS = {1: "premier", 2: "deuxième", 3: "troisième", 4: "quatrième", -1: "dernier",
                  -2: "avant-dernier"}
# Largest interval per unit: beyond, it is a typo rather than a rhythm.
_MAX_INTERVAL = {"DAILY": 366, "WEEKLY": 104, "MONTHLY": 60, "YEARLY": 10}

RHYTHM_EXPECTED = "un rythme (chaque semaine, tous les 2 jours, chaque lundi, 2 fois par semaine…)"
WHEN_EXPECTED = "une date (15/12/2026, J+10, demain…) ou un rythme (chaque semaine, tous les 2 jours…)"


@dataclass(frozen=True)
class Rhythm:
    """A recurrence. Extra fields beyond RFC 5545 keep what the user said
    (``per_week``, ``per_month``, ``per_day``) so ``describe()`` says it back."""

    freq: str  # "DAILY" | "WEEKLY" | "MONTHLY" | "YEARLY"
    interval: int = 1
    byweekday: tuple[int, ...] = ()  # 0 = Monday
    per_week: int | None = None  # "2 fois par semaine": byweekday holds the spread days
    bysetpos: int | None = None  # "le premier jeudi de chaque mois": 1; "dernier": -1
    bymonthday: tuple[int, ...] = ()  # "le 15 de chaque mois": (15,)
    per_month: int | None = None  # "2 fois par mois": bymonthday holds the spread days
    per_day: int | None = None  # "3 fois par jour": still one due date per day

    def __post_init__(self) -> None:
        if self.freq not in _FREQS:
            raise ValueError(f"unknown frequency {self.freq!r}")
        if not 1 <= self.interval <= _MAX_INTERVAL[self.freq]:
            raise ValueError(f"interval out of range: {self.interval}")
        if any(not 0 <= d <= 6 for d in self.byweekday):
            raise ValueError("weekday out of range")
        if any(not 1 <= d <= 31 for d in self.bymonthday):
            raise ValueError("month day out of range")
        if self.bysetpos is not None and (self.bysetpos == 0 or not -5 <= self.bysetpos <= 5):
            raise ValueError("bysetpos out of range")

    # -- dates -------------------------------------------------------------

    def _rule(self, start: date, until: date | None, count: int | None) -> rrule:
        kwargs: dict[str, Any] = {"dtstart": datetime(start.year, start.month, start.day),
                                  "interval": self.interval}
        if self.byweekday:
            kwargs["byweekday"] = self.byweekday
        if self.bysetpos is not None:
            kwargs["bysetpos"] = self.bysetpos
        if self.bymonthday:
            kwargs["bymonthday"] = self.bymonthday
        elif not self.byweekday and start.day > 28 and self.freq in ("MONTHLY", "YEARLY"):
            # RFC 5545 skips months without a 31st; a monthly visit moves to the
            # month's last day instead.
            kwargs["bymonthday"] = tuple(range(28, start.day + 1))
            kwargs["bysetpos"] = -1
            if self.freq == "YEARLY":
                kwargs["bymonth"] = start.month
        if until is not None:
            kwargs["until"] = datetime(until.year, until.month, until.day)
        if count is not None:
            kwargs["count"] = count
        return rrule(_FREQS[self.freq], **kwargs)

    def occurrences(
        self, start: date, *, until: date | None = None, count: int | None = None
    ) -> Iterator[date]:
        """Dates from ``start`` (included when it fits the rhythm) up to ``until``
        (included) or ``count`` dates; endless when neither is given."""
        for moment in self._rule(start, until, count):
            yield moment.date()

    def next_after(self, start: date, after: date) -> date | None:
        """First occurrence strictly after ``after`` for a rhythm started on ``start``."""
        found = self._rule(start, None, None).after(
            datetime(after.year, after.month, after.day), inc=False
        )
        return found.date() if found is not None else None

    def first_on_or_after(self, start: date) -> date | None:
        """The first due date of a rhythm started on ``start``."""
        return next(self.occurrences(start, count=1), None)

    # -- words -------------------------------------------------------------

    def describe(self) -> str:
        """French: « chaque semaine », « 2 fois par semaine », « tous les 3 mois »."""
        n = self.interval
        if self.freq == "DAILY":
            if self.per_day:
                return f"{self.per_day} fois par jour"
            return "tous les jours" if n == 1 else f"tous les {n} jours"
        if self.freq == "WEEKLY":
            if self.per_week:
                text = f"{self.per_week} fois par semaine"
            elif self.byweekday:
                text = "chaque " + _join([WEEKDAY_NAMES[d] for d in self.byweekday])
            else:
                return "chaque semaine" if n == 1 else f"toutes les {n} semaines"
            return text if n == 1 else f"{text}, une semaine sur {n}"
        if self.freq == "MONTHLY":
            every = "chaque mois" if n == 1 else f"tous les {n} mois"
            if self.bysetpos is not None and self.byweekday:
                days = _join([WEEKDAY_NAMES[d] for d in self.byweekday])
                of = "de chaque mois" if n == 1 else f"du mois, tous les {n} mois"
                return f"le {_ORDINAL_WORDS.get(self.bysetpos, str(self.bysetpos))} {days} {of}"
            if self.per_month:
                return f"{self.per_month} fois par mois"
            if self.bymonthday:
                days = _join(["1er" if d == 1 else str(d) for d in self.bymonthday])
                return f"le {days} de chaque mois" if n == 1 else f"le {days}, {every}"
            return every
        return "chaque année" if n == 1 else f"tous les {n} ans"

    def to_rrule(self) -> str:
        """RFC 5545 RRULE value: ``FREQ=WEEKLY;INTERVAL=1``, ``FREQ=WEEKLY;BYDAY=MO,TH``.

        INTERVAL is written when it is not 1 or when nothing else follows FREQ."""
        parts = [f"FREQ={self.freq}"]
        by: list[str] = []
        if self.byweekday:
            by.append("BYDAY=" + ",".join(_BYDAY[d] for d in self.byweekday))
        if self.bymonthday:
            by.append("BYMONTHDAY=" + ",".join(str(d) for d in self.bymonthday))
        if self.bysetpos is not None:
            by.append(f"BYSETPOS={self.bysetpos}")
        if self.interval != 1 or not by:
            parts.append(f"INTERVAL={self.interval}")
        return ";".join(parts + by)

    def to_dict(self) -> dict[str, Any]:
        return {
            "freq": self.freq,
            "interval": self.interval,
            "byweekday": list(self.byweekday),
            "per_week": self.per_week,
            "bysetpos": self.bysetpos,
            "bymonthday": list(self.bymonthday),
            "per_month": self.per_month,
            "per_day": self.per_day,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Rhythm:
        return cls(
            freq=d["freq"],
            interval=int(d.get("interval", 1)),
            byweekday=tuple(d.get("byweekday") or ()),
            per_week=d.get("per_week"),
            bysetpos=d.get("bysetpos"),
            bymonthday=tuple(d.get("bymonthday") or ()),
            per_month=d.get("per_month"),
            per_day=d.get("per_day"),
        )


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " et " + words[-1]


@dataclass(frozen=True)
class When:
    """When an action is due: one date, or a rhythm from its first date."""

    due: date | None  # the single date, or the first occurrence of the rhythm
    rhythm: Rhythm | None
    until: date | None  # last possible date of the rhythm, included

    def describe(self) -> str:
        """« le 15/12/2026 », « chaque semaine jusqu'au 23/02/2027 »."""
        if self.rhythm is None:
            return f"le {format_date(self.due)}" if self.due else "sans date"
        text = self.rhythm.describe()
        if self.until is not None:
            text += f" jusqu'au {format_date(self.until)}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "due": self.due.isoformat() if self.due else None,
            "rhythm": self.rhythm.to_dict() if self.rhythm else None,
            "until": self.until.isoformat() if self.until else None,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> When:
        return cls(
            due=date.fromisoformat(d["due"]) if d.get("due") else None,
            rhythm=Rhythm.from_dict(d["rhythm"]) if d.get("rhythm") else None,
            until=date.fromisoformat(d["until"]) if d.get("until") else None,
        )


# --- parsing rhythms ----------------------------------------------------------

_WD = "(?:" + "|".join(WEEKDAYS) + ")"
_FIXED: dict[str, Rhythm] = {}
for _words, _rhythm in (
    (("tous les jours", "chaque jour", "quotidien", "quotidienne", "quotidiennement",
      "journalier", "par jour", "7j/7", "7 jours sur 7"), Rhythm("DAILY")),
    (("chaque semaine", "toutes les semaines", "hebdomadaire", "hebdo", "par semaine",
      "hebdomadairement"), Rhythm("WEEKLY")),
    (("chaque mois", "tous les mois", "mensuel", "mensuelle", "mensuellement", "par mois"),
     Rhythm("MONTHLY")),
    (("trimestriel", "trimestrielle", "chaque trimestre", "tous les trimestres", "par trimestre"),
     Rhythm("MONTHLY", 3)),
    (("semestriel", "semestrielle", "chaque semestre", "tous les semestres", "par semestre"),
     Rhythm("MONTHLY", 6)),
    (("annuel", "annuelle", "annuellement", "chaque annee", "tous les ans", "chaque an",
      "toutes les annees", "par an"), Rhythm("YEARLY")),
    (("bihebdomadaire",), Rhythm("WEEKLY", byweekday=_SPREAD_WEEK[2], per_week=2)),
    (("bimensuel", "bimensuelle"), Rhythm("MONTHLY", bymonthday=(1, 15), per_month=2)),
    (("un jour sur deux", "un jour sur 2", "1 jour sur 2"), Rhythm("DAILY", 2)),
):
    for _w in _words:
        _FIXED[_w] = _rhythm

_UNITS = {"jour": "DAILY", "jours": "DAILY", "semaine": "WEEKLY", "semaines": "WEEKLY",
          "mois": "MONTHLY", "an": "YEARLY", "ans": "YEARLY", "annee": "YEARLY",
          "annees": "YEARLY"}
_EVERY_N = re.compile(r"^(?:tous|toutes|chaque)\s+(?:les\s+)?(\w+)\s+(jours?|semaines?|mois|ans?|annees?)$")
_TIMES_PER = re.compile(r"^(\w+)\s+fois\s+(?:par|/)\s*(jour|semaine|mois|an|annee)$")
_WEEKDAY_LIST = re.compile(
    r"^(?P<prefix>chaque|tous\s+les|les|le)?\s*(?P<days>" + _WD + r"s?(?:\s*(?:,|et)\s*(?:le\s+|les\s+)?" + _WD
    + r"s?)*)(?:\s+(?:de\s+)?chaque\s+semaine)?$"
)
_ONE_IN_N = re.compile(r"^un\s+(" + _WD + r")\s+sur\s+(\w+)$")
_ORDINALS = {"premier": 1, "premiere": 1, "1er": 1, "1ere": 1, "1re": 1, "deuxieme": 2, "2e": 2,
             "2eme": 2, "second": 2, "seconde": 2, "troisieme": 3, "3e": 3, "3eme": 3,
             "quatrieme": 4, "4e": 4, "4eme": 4, "dernier": -1, "derniere": -1,
             "avant-dernier": -2, "avant-derniere": -2}
_NTH_WEEKDAY = re.compile(
    r"^(?:le|les|chaque|tous\s+les|toutes\s+les)?\s*(" + "|".join(map(re.escape, _ORDINALS))
    + r")s?\s+(" + _WD + r")s?\s+(?:de\s+chaque|du|de\s+tous\s+les|de\s+chaque)\s+mois$"
)
_MONTH_DAY = re.compile(r"^(?:le|chaque|tous\s+les)\s+(\d{1,2}|1er)\s+(?:de\s+chaque|du|de\s+tous\s+les)\s+mois$")


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
        n = _count(m[1], folded, low=1, high=_MAX_INTERVAL[freq])
        return Rhythm(freq, n) if n is not None else None
    m = _TIMES_PER.match(folded)
    if m is not None:
        return _times_per(m[1], m[2], folded)
    m = _ONE_IN_N.match(folded)
    if m is not None:
        n = _count(m[2], folded, low=1, high=_MAX_INTERVAL["WEEKLY"])
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
        return Rhythm("WEEKLY") if n == 1 else Rhythm("WEEKLY", byweekday=_SPREAD_WEEK[n], per_week=n)
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
        raise FieldError(problem=f"« {value} » est trop long", expected="au plus 10 ans",
                         example="chaque année pendant 5 ans")
    return relativedelta(years=n)


def _date_value(value: str, today: date) -> date:
    return parse_date(_DEADLINE_WORDS.sub("", value), today=today)


def parse_when(text: str, *, today: date) -> When:
    """A date, or a rhythm with optional « à partir du <date> », « pendant N
    jours/semaines/mois » and « jusqu'au <date> ». A rhythm starts today unless
    told otherwise; ``until`` is included."""
    folded = fold(text).rstrip(".,;")
    marks = list(_CLAUSE.finditer(folded))
    head = folded[: marks[0].start()].strip(" ,") if marks else folded
    clauses: dict[str, str] = {}
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(folded)
        kw = mark["kw"]
        kind = ("start" if kw.startswith(("a partir", "a compter", "des", "debut"))
                else "span" if kw in ("pendant", "durant") else "until")
        if kind in clauses or (kind == "span" and "until" in clauses) or (
            kind == "until" and "span" in clauses
        ):
            raise FieldError(
                problem=f"« {' '.join(text.split())[:60]} » donne deux débuts ou deux fins",
                expected="un seul « à partir du », et « pendant » ou « jusqu'au », pas les deux",
                example="chaque semaine à partir du 01/12/2026 pendant 3 mois",
            )
        clauses[kind] = folded[mark.end():end].strip(" ,")

    rhythm = match_rhythm(head) if head else None
    if rhythm is None:
        return _single_date(text, head, clauses, today)

    start = _date_value(clauses["start"], today) if "start" in clauses else today
    until: date | None = None
    if "until" in clauses:
        until = _date_value(clauses["until"], today)
    elif "span" in clauses:
        until = start + _span(clauses["span"], text)
    first = rhythm.first_on_or_after(start) if until is None else next(
        rhythm.occurrences(start, until=until), None)
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
        if head and absolute_date(head, today=today) is None and relative_date(head, today=today) is None:
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
