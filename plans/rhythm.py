"""Recurrences (« chaque semaine », « 2 fois par semaine »...) and when an action is due."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from plans.errors import FieldError

__all__ = ["FieldError", "Rhythm", "When", "parse_rhythm", "parse_when"]


@dataclass(frozen=True)
class Rhythm:
    freq: str  # "DAILY" | "WEEKLY" | "MONTHLY" | "YEARLY"
    interval: int = 1
    byweekday: tuple[int, ...] = ()  # 0 = Monday
    per_week: int | None = None
    bysetpos: int | None = None

    def occurrences(
        self, start: date, *, until: date | None = None, count: int | None = None
    ) -> Iterator[date]:
        raise NotImplementedError

    def next_after(self, start: date, after: date) -> date | None:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def to_rrule(self) -> str:
        """RFC 5545 RRULE value, e.g. ``FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,TH``."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Rhythm:
        raise NotImplementedError


@dataclass(frozen=True)
class When:
    due: date | None
    rhythm: Rhythm | None
    until: date | None

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> When:
        raise NotImplementedError


def parse_rhythm(text: str) -> Rhythm:
    raise NotImplementedError


def parse_when(text: str, *, today: date) -> When:
    raise NotImplementedError
