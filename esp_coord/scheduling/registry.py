"""Who writes the mails of each kind of reminder.

A module that creates reminders declares its kinds, and the composition
root (``esp_coord.bootstrap``) gathers them into the ``Composers`` the
reminder engine is built with: nothing registers itself at import::

    KINDS = {"meeting_j7": Registered(compose_j7)}

``compose(tx, reminder, now, config)`` runs inside the dispatch transaction
and returns the answers to send (each with ``to`` set), or ``[]`` to drop the
reminder (plan closed, meeting cancelled, action already done). It may read
and write through ``tx`` (e.g. schedule the next occurrence); it must not do
any other I/O: the transaction can run again after a busy database.

``digest="rappels"`` (a digest's name) and ``item`` let the engine gather
that kind into one mail per person and digest (a digest that goes ``into``
another shares that one's mail) when the person takes digests
(``[reminders] digest``, on by default): ``item(tx, reminder, now, config)``
returns the reminder's ``digest.Entry`` (or None to drop it, as ``compose``
returns ``[]``), and the ``Digest`` of that name, declared by one of the
modules, writes the mail from every entry due for that person
(``esp_coord.scheduling.digest``). ``compose`` stays the one-mail form, for
people who asked for a mail per reminder.

``rebuild(tx, config, now)``, if given, runs at engine start before anything
is sent: it reconciles the rows of every source of that kind with what the
source wants from now on (a source that only adds rows as its reminders go
out, such as a meeting series, would otherwise stay silent for good after a
stop longer than the rows it had made ahead).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from esp_coord.answers import Answer
from esp_coord.config import Config
from esp_coord.scheduling.digest import Digest, Entry
from esp_coord.store.reminders import Reminder

if TYPE_CHECKING:
    from esp_coord.ports import UnitOfWork

Composer = Callable[["UnitOfWork", Reminder, datetime, Config], list[Answer]]
ItemComposer = Callable[["UnitOfWork", Reminder, datetime, Config], Entry | None]
Rebuild = Callable[["UnitOfWork", Config, datetime], None]

__all__ = ["Composer", "Composers", "ItemComposer", "Rebuild", "Registered"]


@dataclass(frozen=True)
class Registered:
    compose: Composer
    digest: str | None = None
    item: ItemComposer | None = None
    rebuild: Rebuild | None = None

    def __post_init__(self) -> None:
        if (self.digest is None) != (self.item is None):
            raise ValueError("a kind that joins a digest gives its item composer, and only then")


class Composers(Mapping[str, Registered]):
    """The reminder kinds the engine knows, each with its composer, and the
    digests they join."""

    def __init__(self, *declared: Mapping[str, Registered],
                 digests: Mapping[str, Digest] | None = None) -> None:
        self._kinds: dict[str, Registered] = {}
        self.digests: dict[str, Digest] = dict(digests or {})
        for name, digest in self.digests.items():
            host = self.digests.get(digest.into) if digest.into is not None else None
            if digest.into is not None and (host is None or host.into is not None):
                raise ValueError(f"digest {name!r} goes into {digest.into!r}, which is not a "
                                 "declared digest of its own")
        for kinds in declared:
            for kind, registered in kinds.items():
                self.add(kind, registered)

    def add(self, kind: str, registered: Registered) -> None:
        if not kind or len(kind) > 32:
            raise ValueError("a reminder kind has 1 to 32 characters (column kind)")
        if kind in self._kinds:
            raise ValueError(f"reminder kind {kind!r} declared twice")
        if registered.digest is not None and registered.digest not in self.digests:
            raise ValueError(f"reminder kind {kind!r} joins an undeclared digest "
                             f"{registered.digest!r}")
        self._kinds[kind] = registered

    def digest_kinds(self, name: str) -> list[str]:
        """The kinds gathered in the digest ``name``."""
        return [kind for kind, r in self._kinds.items() if r.digest == name]

    def one_mail(self, name: str) -> list[str]:
        """The digests that make one mail with ``name``: their host first, then
        those that go into it (``Digest.into``), in declaration order."""
        host = self.digests[name].into or name
        return [host, *(n for n, d in self.digests.items() if d.into == host)]

    def __getitem__(self, kind: str) -> Registered:
        return self._kinds[kind]

    def __iter__(self) -> Iterator[str]:
        return iter(self._kinds)

    def __len__(self) -> int:
        return len(self._kinds)

    def rebuilds(self) -> list[Rebuild]:
        """The start-up reconcilers (see the module docstring)."""
        return [r.rebuild for r in self._kinds.values() if r.rebuild is not None]
