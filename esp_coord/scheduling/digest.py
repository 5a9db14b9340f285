"""Digests: everything due for one person, in one mail that reads at a glance.

A reminder kind that joins a digest (``registry.Registered.digest``) gives,
for each of its due rows, an ``Entry``: the section it belongs to (a plan, a
meeting), its lines, how late it is and the lines to send back. The engine
gathers the entries due for one person (``ReminderEngine._send_digest``) and
the ``Digest`` of that name writes the mail (``Digest.write``). This module
orders and lays them out, the same for every digest:

- one section per plan or meeting, with its heading once;
- meetings first (they are on a day and hour), then the plans, those with
  the most overdue item first; within a section, overdue items first, the
  most overdue first;
- each item with its ready-to-send line under it (« FAIT 3 PPS-2026-0001 »),
  indented so that it can be copied as it is;
- recalls (``Entry.recall``: an item already told, overdue for weeks) after
  the day's items, one line each (and its reply), so that an old item never
  crowds the new.

Entries carry no greeting and no typography: the digest is passed through
``french`` once, as a whole.

A digest may go ``into`` another one: when a person has entries of both in
the same morning, they get one mail, the host's, with the other's entries as
a ``Part`` after its own (the team follow-up of a referent who also has
actions of their own that day: one mail a day, at most).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from esp_coord.answers import Answer
from esp_coord.config import Config
from esp_coord.outgoing import OutAttachment
from plans.typography import french

if TYPE_CHECKING:
    from esp_coord.ports import UnitOfWork

__all__ = ["Digest", "Entry", "Part", "digest_answer", "late_words", "layout", "merged",
           "single_section"]

MEETING, PLAN = 0, 1


@dataclass(frozen=True)
class Entry:
    """One item of a digest (see the module docstring)."""

    section: str
    """What it is about, "PPS-2026-0001" or "RCP-2026-001": entries of one
    section are shown together under its heading."""
    heading: str
    """The section's title line (« PPS-2026-0001 - MARTIN Jeanne »)."""
    lines: tuple[str, ...]
    """The item: its first line says what, the others give details."""
    replies: tuple[str, ...] = ()
    """Lines to send back as they are (« FAIT 3 PPS-2026-0001 »)."""
    late: int = 0
    """Days overdue; 0 for an item due now or coming."""
    kind: int = PLAN
    """``MEETING`` (shown first) or ``PLAN``."""
    recall: bool = False
    """Already told and still overdue: one line among the recalls."""
    attachments: tuple[OutAttachment, ...] = ()
    label: str = ""
    """What the subject may say of it (« réunion RCP-2026-001 demain »): no
    patient data, subjects are not encrypted end to end."""
    about: str = ""
    """What it reminds of (« PPS-2026-0001:3 », an action): of several entries
    about the same thing of which one is overdue (its due day and its overdue
    notice, both missed during a stop), the digest shows that one, the most
    overdue; entries not overdue all stay (a daily action's Saturday and
    Sunday, told on Friday)."""


@dataclass(frozen=True)
class Part:
    """Another digest's entries in a host digest's mail (``Digest.into``)."""

    summary: str
    """What the subject adds (« suivi : 2 actions en retard »)."""
    opening: tuple[str, ...]
    """The lines before its entries: what they are."""
    entries: tuple[Entry, ...]


Write = Callable[["UnitOfWork", str, Sequence[Entry], datetime, Config, Sequence[Part]],
                 Answer]
PartOf = Callable[["UnitOfWork", str, Sequence[Entry], datetime, Config], Part]


@dataclass(frozen=True)
class Digest:
    """A digest: how its mail is written from the entries due for one person
    (and the ``Part`` of other digests that went into it)."""

    write: Write
    into: str | None = None
    """The digest whose mail this one joins when both are due (module docstring)."""
    part: PartOf | None = None
    """Its entries as a ``Part`` of that mail; required with ``into``."""

    def __post_init__(self) -> None:
        if (self.into is None) != (self.part is None):
            raise ValueError("a digest that goes into another gives its part, and only then")


def late_words(days: int) -> str:
    """« en retard de 4 jours », « en retard depuis 3 semaines »: in weeks past
    two of them, which is how late a colleague would say it."""
    if days >= 14:
        return f"en retard depuis {days // 7} semaines"
    return f"en retard de {days} jour{'s' if days > 1 else ''}"


def _sections(entries: Sequence[Entry]) -> list[list[Entry]]:
    grouped: dict[str, list[Entry]] = {}
    for entry in entries:
        grouped.setdefault(entry.section, []).append(entry)
    for items in grouped.values():
        items.sort(key=lambda e: -e.late)
    return sorted(grouped.values(),
                  key=lambda items: (items[0].kind, -items[0].late, items[0].section))


def merged(entries: Sequence[Entry]) -> list[Entry]:
    """``entries`` with, for each ``about`` with an overdue entry, that one
    only (the most overdue, a new one before a recall), in their order."""
    best: dict[str, Entry] = {}
    for entry in entries:
        if not entry.about or not entry.late:
            continue
        known = best.get(entry.about)
        if known is None or (entry.recall, -entry.late) < (known.recall, -known.late):
            best[entry.about] = entry
    return [e for e in entries if not e.about or best.get(e.about, e) is e]


def layout(entries: Sequence[Entry]) -> list[str]:
    """The body lines of ``entries`` (module docstring), without greeting."""
    entries = merged(entries)
    fresh = [e for e in entries if not e.recall]
    recalls = [e for e in entries if e.recall]
    lines: list[str] = []
    for items in _sections(fresh):
        lines.append(items[0].heading)
        for entry in items:
            first, *rest = entry.lines
            lines.append(f"  • {first}")
            lines += [f"    {line}" for line in rest]
            lines += [f"      {reply}" for reply in entry.replies]
        lines.append("")
    if recalls:
        lines += ["Toujours en retard (déjà signalé) :"]
        for items in _sections(recalls):
            for entry in items:
                lines.append(f"  • {entry.section} - {entry.lines[0]}")
                lines += [f"      {reply}" for reply in entry.replies]
        lines.append("")
    return lines


def single_section(entries: Sequence[Entry]) -> str | None:
    """The one section every entry belongs to, or None."""
    sections = {e.section for e in entries}
    return sections.pop() if len(sections) == 1 else None


def digest_answer(*, recipient: str, subject: str, opening: Sequence[str],
                  entries: Sequence[Entry], closing: Sequence[str], config: Config,
                  tag: str, parts: Sequence[Part] = ()) -> Answer:
    """The digest mail: greeting, ``opening``, the entries laid out, each of
    ``parts`` (its opening and its entries), ``closing``.

    When every entry (parts' included) is about one plan, the Message-ID
    starts with its reference, so that a reply « FAIT 3 » finds the plan
    without writing it."""
    member = config.member(recipient)
    greeting = f"Bonjour {member.name}," if member else "Bonjour,"
    body = [greeting, "", *opening, "", *layout(entries)]
    for part in parts:
        body += [*part.opening, "", *layout(part.entries)]
    text = "\n".join([*body, *closing]).rstrip()
    everything = [*entries, *(e for part in parts for e in part.entries)]
    only = single_section(everything)
    if only is not None and only.startswith("PPS-"):
        tag = f"{only}.rappel.{tag}"
    attachments = _attachments(everything)
    return Answer(subject=french(subject), text=french(text + "\n"), to=(recipient,),
                  attachments=attachments, message_id_tag=tag,
                  auto_submitted="auto-generated")


def _attachments(entries: Sequence[Entry]) -> tuple[OutAttachment, ...]:
    """The entries' files. Of several invitations, only the first is also the
    mail's calendar alternative (a client shows one), and each file is named
    after its meeting."""
    files = [(e.section, a) for e in entries for a in e.attachments]
    if len(files) < 2:
        return tuple(a for _, a in files)
    out = []
    for n, (section, attachment) in enumerate(files):
        stem, dot, ext = attachment.filename.rpartition(".")
        name = f"{stem}-{section}.{ext}" if dot else f"{attachment.filename}-{section}"
        out.append(replace(attachment, filename=name,
                           inline_alternative=attachment.inline_alternative and n == 0))
    return tuple(out)
