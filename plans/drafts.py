"""What the plan-mail grammar produces: drafts, line errors and warnings.

A ``Parsed`` holds either a value (``PlanDraft`` for ``NOUVEAU PPS``,
``PlanUpdate`` for ``MAJ``) or the complete list of ``LineError``: all or
nothing, so that a mail with any error changes nothing. Warnings (unknown key
kept as a note, profession of a protocol nobody fills...) never block.

A ``LineError`` renders itself in French (``plans.render.render_errors``):
the line number and the text as written, what is wrong, what was expected and
a full corrected example line (``Né le : 28/02/1937``). ``line`` is None for
something missing from the whole mail (no ``INS`` line at all).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Generic, TypeVar

from plans.model import Patient
from plans.rhythm import When

__all__ = ["ActionDraft", "LineError", "LineWarning", "Parsed", "PlanDraft", "PlanUpdate"]

T = TypeVar("T")


@dataclass(frozen=True)
class LineError:
    line: int | None
    text: str  # the line as written ("" when something is missing)
    problem: str  # French: what is wrong
    expected: str  # French: what was expected
    example: str  # a full corrected line: "Né le : 28/02/1937"
    field: str = ""  # canonical field ("birth_date", "action"...), "" when none

    @property
    def message(self) -> str:
        """One-line French summary (for ``esp-coord parse``)."""
        return f"{self.problem} ; attendu : {self.expected} ; exemple : {self.example}"


@dataclass(frozen=True)
class LineWarning:
    line: int | None
    text: str
    message: str  # French

    def __str__(self) -> str:
        where = f"ligne {self.line} : " if self.line else ""
        return where + self.message


@dataclass(frozen=True)
class ActionDraft:
    assignee: str | None  # address; None only for protocol follow-ups nobody fills
    what: str
    when: When
    protocol: str | None = None  # the protocol that brought it
    profession: str | None = None  # for a protocol follow-up: who should do it
    line: int | None = None


@dataclass
class PlanDraft:
    patient: Patient
    consent: bool
    referent: str
    team: list[str]  # addresses, in order: sender, "Équipe" members, then others
    problems: list[str] = field(default_factory=list)
    objectives: list[str] = field(default_factory=list)
    preferences: list[str] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    actions: list[ActionDraft] = field(default_factory=list)  # the mail's, then protocols'
    protocols: list[str] = field(default_factory=list)
    review_date: date | None = None
    themes: list[str] = field(default_factory=list)  # among the team's declared themes


@dataclass
class PlanUpdate:
    referent: str | None = None
    team: list[str] = field(default_factory=list)  # addresses to add (sender included)
    problems: list[str] = field(default_factory=list)
    objectives: list[str] = field(default_factory=list)
    preferences: list[str] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    actions: list[ActionDraft] = field(default_factory=list)
    protocols: list[str] = field(default_factory=list)
    review_date: date | None = None
    themes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not any((self.referent, self.problems, self.objectives, self.preferences,
                        self.alerts, self.notes, self.actions, self.protocols,
                        self.review_date, self.themes))


@dataclass
class Parsed(Generic[T]):
    value: T | None
    errors: list[LineError] = field(default_factory=list)
    warnings: list[LineWarning] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and self.value is not None
