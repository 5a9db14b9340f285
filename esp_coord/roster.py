"""The team's roster as the rest of the service reads it."""

from __future__ import annotations

from collections.abc import Sequence

from esp_coord.config import Config, Member
from plans.people import Person

__all__ = ["coordination", "names", "people_of", "people_of_members"]


def people_of(config: Config) -> list[Person]:
    """The roster as the plan grammar and renderings know people."""
    return people_of_members(config.members)


def people_of_members(members: Sequence[Member]) -> list[Person]:
    return [Person(name=m.name, email=m.email, profession=m.profession, roles=m.roles)
            for m in members]


def names(config: Config, addresses: Sequence[str]) -> list[tuple[str, str]]:
    """(name, address) pairs, the name empty for an address off the roster."""
    by_address = {m.email: m.name for m in config.members}
    return [(by_address.get(a, ""), a) for a in addresses]


def coordination(config: Config) -> tuple[str, ...]:
    """The coordinators' addresses; the service's own mailbox when the roster
    names none, so that a notice is kept (in its sent folder) rather than lost."""
    return tuple(m.email for m in config.members if m.is_coordinator) or (config.bot_address,)
