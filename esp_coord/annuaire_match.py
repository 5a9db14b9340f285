"""The team in the Annuaire Santé's extraction: whom to propose, what changed.

Pure functions over the mailboxes ``esp_coord.annuaire`` reads. One pass over
the file keeps only the lines of the people asked for, and at most
``MAX_PER_KEY`` of them each: a person has a handful of addresses, and a
file repeating one RPPS on every line must not fill the memory.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from esp_coord.annuaire import Mailbox
from esp_coord.config import Member
from plans.normalize import fold

__all__ = ["MAX_PER_KEY", "Finding", "Found", "NameQuery", "Proposal", "check", "find",
           "people", "propose"]

MAX_PER_KEY = 50


@dataclass(frozen=True)
class NameQuery:
    """« DURAND » (or « Claire DURAND ») with a mailbox at a postcode; a
    postcode of two or three digits is a department."""

    name: str
    postcode: str

    def matches(self, box: Mailbox) -> bool:
        # The postcode first: one string comparison rules out nearly every line.
        if not box.postcode.startswith(self.postcode):
            return False
        wanted = fold(self.name)
        last, first = fold(box.last_name), fold(box.first_name)
        return wanted in (last, f"{first} {last}", f"{last} {first}")


@dataclass
class Found:
    by_rpps: dict[str, list[Mailbox]] = field(default_factory=dict)
    by_name: dict[NameQuery, list[Mailbox]] = field(default_factory=dict)
    dropped: int = 0  # lines over MAX_PER_KEY for one person or query

    def _keep(self, bucket: list[Mailbox], box: Mailbox) -> None:
        if len(bucket) < MAX_PER_KEY:
            bucket.append(box)
        else:
            self.dropped += 1


def find(boxes: Iterable[Mailbox], *, rpps: Collection[str] = (),
         names: Collection[NameQuery] = ()) -> Found:
    """The mailboxes of each RPPS and each name query, in file order."""
    found = Found(by_rpps={r: [] for r in rpps}, by_name={q: [] for q in names})
    for box in boxes:
        if box.rpps is not None and box.rpps in found.by_rpps:
            found._keep(found.by_rpps[box.rpps], box)
        for query in names:
            if query.matches(box):
                found._keep(found.by_name[query], box)
    return found


def people(boxes: Iterable[Mailbox]) -> list[list[Mailbox]]:
    """The boxes grouped by person: by RPPS, else by name (a personal mailbox
    with no national id), organisation mailboxes without either on their own."""
    groups: dict[tuple[str, str], list[Mailbox]] = {}
    for box in boxes:
        if box.rpps is not None:
            key = ("rpps", box.rpps)
        elif box.last_name:
            key = ("name", fold(box.name))
        else:
            key = ("box", box.address)
        groups.setdefault(key, []).append(box)
    return list(groups.values())


@dataclass(frozen=True)
class Proposal:
    """One person's roster entry: the address proposed and why."""

    rpps: str | None
    name: str
    profession: str | None  # None: the roster has no word for it
    profession_code: str
    profession_label: str
    chosen: Mailbox | None  # None: no personal mailbox
    reason: str  # why this one, when there were several
    personal: tuple[Mailbox, ...]  # each personal address once, file order
    other: tuple[Mailbox, ...]  # ORG/APP boxes listed under the person: never proposed


def propose(boxes: Sequence[Mailbox], *, postcode: str | None = None,
            area: Collection[str] = ()) -> Proposal:
    """One person's proposal from their boxes (one group of ``people``).

    Among several personal addresses: the only one at ``postcode``, else the
    only one in ``area`` (where the rest of the team works), else the first
    listed; the reason says which rule chose it."""
    seen: set[str] = set()
    personal: list[Mailbox] = []
    for box in boxes:
        # An address is listed once per structure it is attached to: one address.
        if box.personal and box.address not in seen:
            seen.add(box.address)
            personal.append(box)
    other = tuple(b for b in boxes if not b.personal)
    chosen, reason = _choose(personal, postcode, area)
    who = chosen or (personal[0] if personal else boxes[0])
    # Lines of one person do not all carry the profession: any that does says it.
    job = who if who.profession_code else next((b for b in boxes if b.profession_code), who)
    return Proposal(rpps=who.rpps, name=who.name, profession=job.profession,
                    profession_code=job.profession_code,
                    profession_label=job.profession_label, chosen=chosen, reason=reason,
                    personal=tuple(personal), other=other)


def _choose(personal: list[Mailbox], postcode: str | None,
            area: Collection[str]) -> tuple[Mailbox | None, str]:
    if len(personal) <= 1:
        return (personal[0] if personal else None), ""
    if postcode:
        here = [b for b in personal if b.postcode.startswith(postcode)]
        if len(here) == 1:
            return here[0], f"the only one at postcode {postcode}"
    near = [b for b in personal if b.postcode and b.postcode in area]
    if len(near) == 1:
        return near[0], f"the only one at {near[0].postcode}, where the rest of the team works"
    return personal[0], ("the first listed: nothing in the extraction says which one they "
                         "read, ask them")


@dataclass(frozen=True)
class Finding:
    """What the extraction says of one roster member's address."""

    member: Member
    status: Literal["ok", "missing", "moved", "other_person"]
    now: tuple[str, ...] = ()  # the personal addresses the member's RPPS has now
    holder: str | None = None  # other_person: the RPPS the address is listed under


def check(boxes: Iterable[Mailbox], members: Sequence[Member]) -> list[Finding]:
    """Each member's address against the extraction, in roster order.

    ``missing``: the address is listed nowhere; ``moved``: it is still listed,
    but the member's RPPS has other personal addresses now; ``other_person``:
    it is listed under another RPPS only."""
    found = Found(by_rpps={m.rpps: [] for m in members if m.rpps})
    listed: dict[str, list[Mailbox]] = {m.email: [] for m in members}
    for box in boxes:
        if box.address in listed:
            found._keep(listed[box.address], box)
        if box.rpps is not None and box.rpps in found.by_rpps:
            found._keep(found.by_rpps[box.rpps], box)
    findings = []
    for m in members:
        mine = found.by_rpps.get(m.rpps, []) if m.rpps else []
        now = tuple(dict.fromkeys(b.address for b in mine if b.personal))
        boxes_of_address = listed[m.email]
        holders = {b.rpps for b in boxes_of_address if b.rpps is not None}
        if not boxes_of_address:
            findings.append(Finding(m, "missing", now))
        elif m.rpps and holders and m.rpps not in holders:
            findings.append(Finding(m, "other_person", now, holder=min(holders)))
        elif m.rpps and now and m.email not in now:
            findings.append(Finding(m, "moved", now))
        else:
            findings.append(Finding(m, "ok", now))
    return findings
