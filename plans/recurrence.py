"""Recurrences and due dates: the ``Rhythm`` and ``When`` values of an action.

A ``Rhythm`` is the small subset of an RFC 5545 recurrence rule that French
professionals say in words; ``dateutil.rrule`` computes its dates. Only dates
matter (an action is due on a day), so time zones and daylight saving never
enter here. The words themselves are parsed in ``plans.rhythm``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, Literal

from dateutil.rrule import DAILY, MONTHLY, WEEKLY, YEARLY, rrule

from plans.dates import WEEKDAY_NAMES, format_date, format_time

__all__ = ["MAX_INTERVAL", "SPREAD_WEEK", "Rhythm", "When"]

# rrule's frequencies are the constants 0 (YEARLY) to 6 (SECONDLY).
_FREQS: dict[str, Literal[0, 1, 2, 3, 4, 5, 6]] = {
    "DAILY": DAILY, "WEEKLY": WEEKLY, "MONTHLY": MONTHLY, "YEARLY": YEARLY}
_BYDAY = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
# How "N fois par semaine" spreads over the week: as evenly as working days allow.
SPREAD_WEEK = {
    2: (0, 3),
    3: (0, 2, 4),
    4: (0, 1, 3, 4),
    5: (0, 1, 2, 3, 4),
    6: (0, 1, 2, 3, 4, 5),
    7: (0, 1, 2, 3, 4, 5, 6),
}
_ORDINAL_WORDS = {
    1: "premier",
    2: "deuxième",
    3: "troisième",
    4: "quatrième",
    -1: "dernier",
    -2: "avant-dernier",
}
# Largest interval per unit: beyond, it is a typo rather than a rhythm.
MAX_INTERVAL = {"DAILY": 366, "WEEKLY": 104, "MONTHLY": 60, "YEARLY": 10}


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
        if not 1 <= self.interval <= MAX_INTERVAL[self.freq]:
            raise ValueError(f"interval out of range: {self.interval}")
        if any(not 0 <= d <= 6 for d in self.byweekday):
            raise ValueError("weekday out of range")
        if any(not 1 <= d <= 31 for d in self.bymonthday):
            raise ValueError("month day out of range")
        if self.bysetpos is not None and (self.bysetpos == 0 or not -5 <= self.bysetpos <= 5):
            raise ValueError("bysetpos out of range")

    # -- dates -------------------------------------------------------------

    def _rule(self, start: date, until: date | None, count: int | None) -> rrule:
        kwargs: dict[str, Any] = {
            "dtstart": datetime(start.year, start.month, start.day),
            "interval": self.interval,
        }
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
            elif len(self.byweekday) == 1 and n > 1:
                return f"un {WEEKDAY_NAMES[self.byweekday[0]]} sur {n}"
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
    # « à 14h »: information for whoever does it; reminders still go out on the
    # due day at the team's reminder hour, and dates stay plain days.
    time_of_day: time | None = None

    def describe(self) -> str:
        """« le 15/12/2026 à 14h00 », « chaque lundi à 9h00 jusqu'au 23/02/2027 »."""
        if self.rhythm is None:
            day = f"le {format_date(self.due)}" if self.due else "sans date"
            return day + self.time_suffix()
        text = self.rhythm.describe() + self.time_suffix()
        if self.until is not None:
            text += f" jusqu'au {format_date(self.until)}"
        return text

    def time_suffix(self) -> str:
        """« à 14h00 » with its leading space, or nothing."""
        return f" à {format_time(self.time_of_day)}" if self.time_of_day else ""

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "due": self.due.isoformat() if self.due else None,
            "rhythm": self.rhythm.to_dict() if self.rhythm else None,
            "until": self.until.isoformat() if self.until else None,
        }
        if self.time_of_day is not None:  # absent rather than null: plans stored before times
            d["time"] = self.time_of_day.isoformat("minutes")
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> When:
        return cls(
            due=date.fromisoformat(d["due"]) if d.get("due") else None,
            rhythm=Rhythm.from_dict(d["rhythm"]) if d.get("rhythm") else None,
            until=date.fromisoformat(d["until"]) if d.get("until") else None,
            time_of_day=time.fromisoformat(d["time"]) if d.get("time") else None,
        )
