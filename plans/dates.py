"""Dates, times and durations as professionals type them (French)."""

from __future__ import annotations

from datetime import date, time, timedelta

from plans.errors import FieldError

__all__ = ["FieldError", "parse_date", "parse_time", "parse_date_time", "parse_duration",
           "format_date", "format_date_long"]


def parse_date(text: str, *, today: date) -> date:
    """Absolute or relative (to ``today``, the mail's date) French date."""
    raise NotImplementedError


def parse_time(text: str) -> time:
    """``12h30``, ``12:30``, ``12h``, ``8h``."""
    raise NotImplementedError


def parse_date_time(text: str, *, today: date) -> tuple[date, time | None]:
    """``03/12/2026 à 12h30`` -> (date, time); time is None when absent."""
    raise NotImplementedError


def parse_duration(text: str) -> timedelta:
    """``1h30``, ``90 min``, ``2 h``."""
    raise NotImplementedError


def format_date(d: date) -> str:
    """``15/12/2026``."""
    return d.strftime("%d/%m/%Y")


def format_date_long(d: date) -> str:
    """``mardi 15 décembre 2026``."""
    raise NotImplementedError
