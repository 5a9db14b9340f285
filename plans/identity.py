"""Patient identity values: sex, birth date, INS (NIR)."""

from __future__ import annotations

from datetime import date

from plans.errors import FieldError

__all__ = ["FieldError", "parse_sex", "parse_birth_date", "parse_ins", "format_ins"]


def parse_sex(text: str) -> str:
    raise NotImplementedError


def parse_birth_date(text: str, *, today: date) -> date:
    raise NotImplementedError


def parse_ins(text: str, *, sex: str | None, birth_date: date | None) -> str:
    raise NotImplementedError


def format_ins(ins: str) -> str:
    raise NotImplementedError
