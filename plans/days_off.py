"""Days off: weekends and French public holidays, per territory (pure).

A reminder that falls on a day off goes out on the previous working day; the
due date itself never moves (``previous_working_day``). Public holidays come
from the ``holidays`` package (France and its subdivisions), in French:
Alsace-Moselle adds Good Friday and Saint Stephen's day (26 December), each
overseas territory its own days (the abolition of slavery: 27 May in
Guadeloupe, 22 May in Martinique, 10 June in Guyane, 20 December at La
Réunion, 27 April at Mayotte...).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from types import MappingProxyType

import holidays

__all__ = ["DAY_NAMES", "MAX_SHIFT", "TERRITORIES", "DaysOff"]

# Territory as a team writes it -> the ``holidays`` subdivision (None: the
# national days only). Department numbers are accepted as well.
TERRITORIES: Mapping[str, str | None] = MappingProxyType({
    "metropole": None,
    "alsace-moselle": "57", "57": "57", "67": "6AE", "68": "6AE",
    "guadeloupe": "971", "971": "971",
    "martinique": "972", "972": "972",
    "guyane": "973", "973": "973",
    "la-reunion": "974", "reunion": "974", "974": "974",
    "mayotte": "976", "976": "976",
    "saint-barthelemy": "BL", "saint-martin": "MF", "saint-pierre-et-miquelon": "PM",
    "nouvelle-caledonie": "NC", "polynesie-francaise": "PF", "wallis-et-futuna": "WF",
})
DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# A reminder never moves further back than this (a team whose every day is off).
MAX_SHIFT = 14


@functools.lru_cache(maxsize=64)
def _holidays(subdivision: str | None, year: int) -> Mapping[date, str]:
    found = holidays.country_holidays("FR", subdiv=subdivision, years=year, language="fr")
    return MappingProxyType(dict(found.items()))


@dataclass(frozen=True)
class DaysOff:
    """The days a team gets no reminder: ``weekdays`` (0 = Monday) and, with
    ``holidays``, the public holidays of ``territory`` (a key of ``TERRITORIES``)."""

    weekdays: frozenset[int] = frozenset({5, 6})
    holidays: bool = True
    territory: str = "metropole"

    def __post_init__(self) -> None:
        if self.territory not in TERRITORIES:
            raise ValueError(f"unknown territory {self.territory!r}")
        if any(not 0 <= d <= 6 for d in self.weekdays):
            raise ValueError("weekday out of range")

    @classmethod
    def none(cls) -> DaysOff:
        """Every day is a working day."""
        return cls(weekdays=frozenset(), holidays=False)

    @classmethod
    def of(cls, names: Iterable[str], territory: str = "metropole") -> DaysOff:
        """From the configuration's words: day names (``DAY_NAMES``) and "holidays"."""
        words = set(names)
        return cls(weekdays=frozenset(DAY_NAMES.index(w) for w in words if w in DAY_NAMES),
                   holidays="holidays" in words, territory=territory)

    def holiday(self, day: date) -> str | None:
        """The French name of the public holiday ``day`` is, or None."""
        if not self.holidays:
            return None
        return _holidays(TERRITORIES[self.territory], day.year).get(day)

    def is_off(self, day: date) -> bool:
        return day.weekday() in self.weekdays or self.holiday(day) is not None

    def why(self, day: date) -> str | None:
        """« jour férié (Noël) », « jour de repos de l'équipe », or None for a
        working day."""
        name = self.holiday(day)
        if name is not None:
            return f"jour férié ({name})"
        if day.weekday() in self.weekdays:
            return "jour de repos de l'équipe"
        return None

    def previous_working_day(self, day: date) -> date:
        """``day`` if it is a working day, else the last one before it (at
        most ``MAX_SHIFT`` days back: ``day`` itself past that)."""
        for back in range(MAX_SHIFT + 1):
            candidate = day - timedelta(days=back)
            if not self.is_off(candidate):
                return candidate
        return day
