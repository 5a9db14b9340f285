"""Who writes the mails of each kind of reminder.

A module that creates reminders of a kind registers, at import, the function
that composes them::

    register_composer("meeting_j7", compose_j7)

``compose(tx, reminder, now, config)`` runs inside the dispatch transaction
and returns the answers to send (each with ``to`` set), or ``[]`` to drop the
reminder (plan closed, meeting cancelled, action already done). It may read
and write through ``tx`` (e.g. schedule the next occurrence); it must not do
any other I/O: the transaction can run again after a busy database.

``digest=True`` lets the engine gather that kind into one daily mail per
person when the team asked for digests (``[reminders] digest``).

``rebuild(tx, config, now)``, if given, runs at engine start before anything
is sent: it reconciles the rows of every source of that kind with what the
source wants from now on (a source that only adds rows as its reminders go
out, such as a meeting series, would otherwise stay silent for good after a
stop longer than the rows it had made ahead).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from esp_coord.answers import Answer
from esp_coord.config import Config
from esp_coord.store.reminders import Reminder

if TYPE_CHECKING:
    from esp_coord.ports import UnitOfWork

Composer = Callable[["UnitOfWork", Reminder, datetime, Config], list[Answer]]
Rebuild = Callable[["UnitOfWork", Config, datetime], None]

__all__ = ["Composer", "Rebuild", "Registered", "composer_for", "rebuilds", "register_composer",
           "registered_kinds"]


@dataclass(frozen=True)
class Registered:
    compose: Composer
    digest: bool = False
    rebuild: Rebuild | None = None


_COMPOSERS: dict[str, Registered] = {}


def register_composer(kind: str, fn: Composer, *, digest: bool = False,
                      rebuild: Rebuild | None = None) -> None:
    """Register (or replace, e.g. on module reload in tests) the composer of ``kind``."""
    if not kind or len(kind) > 32:
        raise ValueError("a reminder kind has 1 to 32 characters (column kind)")
    _COMPOSERS[kind] = Registered(fn, digest, rebuild)


def composer_for(kind: str) -> Registered | None:
    return _COMPOSERS.get(kind)


def registered_kinds() -> frozenset[str]:
    return frozenset(_COMPOSERS)


def rebuilds() -> list[Rebuild]:
    """The start-up reconcilers of the registered kinds (see the module docstring)."""
    return [r.rebuild for r in _COMPOSERS.values() if r.rebuild is not None]
