"""People of the team and roster, named as professionals name each other."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from plans.errors import FieldError

__all__ = ["FieldError", "Person", "profession_of", "resolve_person", "parse_people"]


@dataclass(frozen=True)
class Person:
    name: str  # "Claire DURAND"
    email: str
    profession: str  # canonical roster profession: medecin, infirmier, ...
    roles: frozenset[str] = field(default_factory=frozenset)


def profession_of(word: str) -> str | None:
    raise NotImplementedError


def resolve_person(text: str, *, team: Sequence[Person], roster: Sequence[Person]) -> Person:
    raise NotImplementedError


def parse_people(
    text: str, *, team: Sequence[Person], roster: Sequence[Person]
) -> tuple[list[Person], list[FieldError]]:
    raise NotImplementedError
