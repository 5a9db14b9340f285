"""Absences of the team's members, and who covers for them (pure).

A member declares an absence (``ABSENCE du 20/12/2026 au 04/01/2027``, maybe
with « Remplaçant : Dr GIRARD »), or the service reads its dates from the
member's out-of-office reply (``esp_coord.absence_dates``). During an
absence the member gets no reminder: what falls due for them goes to their
substitute, or else to the plan's referent and the coordination
(``Absences.cover``), marked as covering for them.

``Absences`` is the team's list, stored as one document; it changes only
through its methods, which keep it ordered (by start) and bounded (an
absence over long ago is forgotten, ``KEEP_AFTER``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from plans.dates import format_date, parse_date
from plans.errors import FieldError
from plans.normalize import fold
from plans.people import Person, resolve_person

__all__ = ["AUTO_REPLY", "DECLARED", "KEEP_AFTER", "MAX_AUTO_DAYS", "MAX_DAYS", "Absence",
           "Absences", "AbsenceRequest", "parse_absence"]

DECLARED, AUTO_REPLY = "declared", "auto-reply"
MAX_DAYS = 366          # a declared absence: a year at most (beyond, a typo)
MAX_AUTO_DAYS = 92      # read from an out-of-office reply: three months at most
KEEP_AFTER = timedelta(days=90)   # an absence ended longer ago is forgotten


@dataclass(frozen=True)
class Absence:
    member: str                 # the absent member's address
    start: date
    end: date                   # included
    substitute: str | None = None
    source: str = DECLARED      # DECLARED | AUTO_REPLY
    at: datetime | None = None  # when it was declared or read

    def covers(self, day: date) -> bool:
        return self.start <= day <= self.end

    def describe(self) -> str:
        """« du 20/12/2026 au 04/01/2027 », « le 24/12/2026 »."""
        if self.start == self.end:
            return f"le {format_date(self.start)}"
        return f"du {format_date(self.start)} au {format_date(self.end)}"

    def to_dict(self) -> dict[str, Any]:
        return {"member": self.member, "start": self.start.isoformat(),
                "end": self.end.isoformat(), "substitute": self.substitute,
                "source": self.source, "at": self.at.isoformat() if self.at else None}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Absence:
        return cls(d["member"], date.fromisoformat(d["start"]), date.fromisoformat(d["end"]),
                   d.get("substitute"), d.get("source", DECLARED),
                   datetime.fromisoformat(d["at"]) if d.get("at") else None)


@dataclass
class Absences:
    """The team's absences (see the module docstring)."""

    items: list[Absence] = field(default_factory=list)

    # --- reading ----------------------------------------------------------------

    def of(self, member: str) -> list[Absence]:
        return [a for a in self.items if a.member == member.lower()]

    def on(self, member: str, day: date) -> Absence | None:
        """The member's absence covering ``day``, if any."""
        return next((a for a in self.of(member) if a.covers(day)), None)

    def away(self, member: str, *days: date) -> Absence | None:
        """The member's absence covering any of ``days``."""
        for day in days:
            found = self.on(member, day)
            if found is not None:
                return found
        return None

    def current_and_coming(self, today: date) -> list[Absence]:
        return [a for a in self.items if a.end >= today]

    def cover(self, member: str, days: Sequence[date], fallback: Iterable[str]) -> list[str]:
        """Who gets what falls due for ``member`` on ``days``: the member when
        present; else their substitute when present; else those of
        ``fallback`` (the plan's referent, the coordination) who are present,
        never the absent member."""
        absence = self.away(member, *days)
        if absence is None:
            return [member]
        if absence.substitute and self.away(absence.substitute, *days) is None:
            return [absence.substitute]
        out: list[str] = []
        for other in fallback:
            if other != member and other not in out and self.away(other, *days) is None:
                out.append(other)
        return out

    def covered_by(self, member: str, day: date) -> set[str]:
        """Whom ``member`` covers for on ``day`` as their named substitute."""
        return {a.member for a in self.items if a.substitute == member.lower() and a.covers(day)}

    # --- changes ------------------------------------------------------------------

    def declare(self, absence: Absence, today: date) -> list[Absence]:
        """Add ``absence``. A declared one replaces the member's absences it
        overlaps; one read from an auto-reply replaces the member's other
        auto-reply ones it overlaps, and gives way to a declared one (what the
        member wrote wins). Returns the absences it replaced."""
        mine = [a for a in self.of(absence.member)
                if a.start <= absence.end and absence.start <= a.end]
        if absence.source == AUTO_REPLY:
            if any(a.source == DECLARED for a in mine):
                return []
            mine = [a for a in mine if a.source == AUTO_REPLY]
        self.items = [a for a in self.items if a not in mine] + [absence]
        self._tidy(today)
        return mine

    def cancel(self, member: str, today: date, day: date | None = None) -> list[Absence]:
        """The member's current and coming absences (the one covering ``day``
        when given) are removed; returns them."""
        gone = [a for a in self.of(member) if a.end >= today and (day is None or a.covers(day))]
        self.items = [a for a in self.items if a not in gone]
        return gone

    def _tidy(self, today: date) -> None:
        self.items = sorted((a for a in self.items if a.end >= today - KEEP_AFTER),
                            key=lambda a: (a.start, a.member))

    # --- storage ----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {"absences": [a.to_dict() for a in self.items]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Absences:
        return cls([Absence.from_dict(a) for a in d.get("absences", [])])


# --- the ABSENCE command ----------------------------------------------------------


@dataclass(frozen=True)
class AbsenceRequest:
    start: date
    end: date
    substitute: Person | None


_MAX_TEXT = 200  # a period is a few words: longer is not one (and costs nothing)
_ENDS = ("au", "jusqu'au", "-")
_STARTS = ("du", "de", "le", "depuis")
_SUBSTITUTE_KEYS = ("remplacant", "remplacante", "remplace par", "remplacee par", "suppleant",
                    "suppleante", "substitute")
PERIOD_EXPECTED = "« du 20/12/2026 au 04/01/2027 », « le 24/12/2026 » ou « jusqu'au 04/01/2027 »"


def _substitute_line(lines: Iterable[tuple[int, str]]) -> str | None:
    for _, text in lines:
        key, sep, value = text.partition(":")
        if sep and fold(key).strip(" -*•") in _SUBSTITUTE_KEYS:
            return value.strip()
    return None


def parse_absence(args: str, lines: Iterable[tuple[int, str]], *, today: date,
                  sender: Person, roster: Sequence[Person]) -> AbsenceRequest:
    """``ABSENCE du 20/12/2026 au 04/01/2027`` (``args``: what follows the
    word, as written) and maybe a line « Remplaçant : Dr GIRARD ». Raises
    ``FieldError`` (period missing, unreadable, in the past, too long,
    substitute unknown or oneself)."""
    lines = list(lines)
    text = " ".join(args.split()).strip(" :")
    if not text:
        # « ABSENCE » alone in the subject: the period on a body line.
        text = next((" ".join(t.split()) for _, t in lines
                     if t.strip() and ":" not in t.split()[0]), "")
    words = fold(text[:_MAX_TEXT]).replace("jusqu au", "jusqu'au").split()
    # « Absence » as the subject and the command again on the body's line
    # (« ABSENCE du 20/12 au 04/01 »): the period is what follows it.
    if words[:1] == ["absence"]:
        words = words[1:]
    if words[:2] in (["a", "partir"], ["a", "compter"]):
        words = words[2:]
    while words and words[0] in _STARTS:
        words = words[1:]
    cut = next((i for i, w in enumerate(words) if w in _ENDS), None)
    try:
        if cut == 0:                      # « jusqu'au 04/01/2027 »
            start, end = today, parse_date(" ".join(words[1:]), today=today)
        elif cut is not None:             # « du 20/12/2026 au 04/01/2027 »
            start = parse_date(" ".join(words[:cut]), today=today)
            end = parse_date(" ".join(words[cut + 1:]), today=start)
        elif words:                       # « le 24/12/2026 »
            start = end = parse_date(" ".join(words), today=today)
        else:
            raise FieldError("la période d'absence manque", PERIOD_EXPECTED,
                             "ABSENCE du 20/12/2026 au 04/01/2027")
    except FieldError as e:
        raise FieldError(e.problem, PERIOD_EXPECTED, "ABSENCE du 20/12/2026 au 04/01/2027"
                         ) from None
    if end < start:
        raise FieldError(f"la fin ({format_date(end)}) précède le début ({format_date(start)})",
                         "une fin le même jour ou après le début",
                         f"ABSENCE du {format_date(start)} au {format_date(start + timedelta(7))}")
    if end < today:
        raise FieldError(f"l'absence est déjà finie (le {format_date(end)})",
                         "une absence en cours ou à venir",
                         f"ABSENCE du {format_date(today)} au {format_date(today + timedelta(7))}")
    if (end - start).days >= MAX_DAYS:
        raise FieldError("une absence de plus d'un an", "une période d'un an au plus",
                         f"ABSENCE du {format_date(start)} au "
                         f"{format_date(start + timedelta(14))}")
    substitute = None
    written = _substitute_line(lines)
    if written:
        substitute = resolve_person(written, team=[], roster=roster)
        if substitute.email == sender.email:
            raise FieldError("vous vous nommez vous-même remplaçant(e)",
                             "une autre personne de l'annuaire de l'équipe",
                             "Remplaçant : Dr GIRARD")
    return AbsenceRequest(max(start, today), end, substitute)

