"""The mail servers a domain publishes in DNS: SRV records (RFC 6186, with the
``_submissions`` label and the preference for implicit TLS of RFC 8314).

Four names are looked up, two per direction:

- reading: ``_imaps._tcp`` (implicit TLS) and ``_imap._tcp`` (STARTTLS);
- sending: ``_submissions._tcp`` (implicit TLS) and ``_submission._tcp`` (STARTTLS).

Within one name, records are ordered as RFC 2782 says: the lowest priority
first; among equal priorities a client picks at random in proportion to the
weights, so a proposal to paste shows the heaviest first. A target of ``"."``
means the domain decidedly does not offer that service.

Across the two names of a direction, implicit TLS wins wherever it is offered,
whatever the priorities say: RFC 8314 recommends implicit TLS over STARTTLS.
STARTTLS is proposed only when implicit TLS is not offered, and the service
then requires it (no fall back to clear text). Clear text is never proposed:
no SRV label stands for it, and none is asked for.

Nothing here does I/O but through the ``SrvResolver`` port.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from esp_coord.ports import NoSuchRecord, ResolverError, ResolverTimeout, SrvRecord, SrvResolver

Table = Literal["imap", "smtp"]
TlsMode = Literal["implicit", "starttls"]
Outcome = Literal["offered", "not_offered", "absent", "failed"]


@dataclass(frozen=True, slots=True)
class Service:
    label: str  # "_imaps._tcp"
    table: Table  # the configuration table it fills
    security: TlsMode  # the configuration's ``security`` for it


SERVICES: tuple[Service, ...] = (
    Service("_imaps._tcp", "imap", "implicit"),
    Service("_imap._tcp", "imap", "starttls"),
    Service("_submissions._tcp", "smtp", "implicit"),
    Service("_submission._tcp", "smtp", "starttls"),
)


@dataclass(frozen=True, slots=True)
class Lookup:
    """What one name gave. ``records`` are the usable ones, best first;
    ``unusable`` those whose target is not a host name or whose port is 0."""

    service: Service
    name: str
    outcome: Outcome
    records: tuple[SrvRecord, ...] = ()
    unusable: tuple[SrvRecord, ...] = ()
    error: str = ""  # the resolver's words, when ``outcome == "failed"``
    timed_out: bool = False


@dataclass(frozen=True, slots=True)
class Choice:
    """The server proposed for one table. ``passed_over``: the STARTTLS name of
    the same direction, also offered, left aside for implicit TLS."""

    table: Table
    host: str
    port: int
    security: TlsMode
    lookup: Lookup
    passed_over: Lookup | None = None


@dataclass(frozen=True, slots=True)
class Discovery:
    domain: str
    lookups: tuple[Lookup, ...]
    imap: Choice | None
    smtp: Choice | None

    @property
    def complete(self) -> bool:
        return self.imap is not None and self.smtp is not None

    def of(self, table: Table) -> tuple[Lookup, ...]:
        return tuple(lk for lk in self.lookups if lk.service.table == table)

    def choice(self, table: Table) -> Choice | None:
        return self.imap if table == "imap" else self.smtp

    @property
    def all_failed(self) -> bool:
        return all(lk.outcome == "failed" for lk in self.lookups)


# --- names ----------------------------------------------------------------------

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")


def is_host_name(text: str) -> bool:
    """A host name as RFC 1123 allows it (letters, digits, hyphens), lower case."""
    return len(text) <= 253 and _HOST.match(text) is not None


def normalise_domain(text: str) -> str:
    """The domain to look up, from what the operator typed: a domain or a mail
    address (its domain), any case, a final dot or not, an international name
    (turned into its ASCII form). ``ValueError`` in plain words otherwise."""
    raw = text.strip()
    domain = raw.rpartition("@")[2].rstrip(".").lower()
    if domain and not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise ValueError(f"{raw!r} is not a domain name") from None
    if not is_host_name(domain) or "." not in domain:
        raise ValueError(f"{raw!r} is not a domain name (e.g. esp-valdelorge.mssante.fr)")
    return domain


# --- ordering and choice --------------------------------------------------------


def order(records: Iterable[SrvRecord]) -> list[SrvRecord]:
    """RFC 2782 order: priority ascending, then weight descending (the one a
    weighted random pick favours); ties by target and port, so that the same
    answer always gives the same proposal."""
    return sorted(records, key=lambda r: (r.priority, -r.weight, r.target, r.port))


def classify(service: Service, name: str, records: Iterable[SrvRecord]) -> Lookup:
    """A name's answer as an outcome: offered (usable records, best first), or
    not offered (only "." targets, or nothing usable)."""
    targets = [SrvRecord(r.priority, r.weight, r.port, r.target.rstrip(".").lower() or ".")
               for r in records]
    usable = [r for r in targets if r.target != "." and is_host_name(r.target) and r.port > 0]
    unusable = [r for r in targets if r.target != "." and r not in usable]
    outcome: Outcome = "offered" if usable else "not_offered"
    return Lookup(service, name, outcome, tuple(order(usable)), tuple(order(unusable)))


def choose(lookups: Iterable[Lookup], table: Table) -> Choice | None:
    """Implicit TLS where offered, else STARTTLS where offered, else nothing.
    When the implicit TLS name could not be looked up, nothing either: a
    STARTTLS proposal might be the wrong one."""
    mine = {lk.service.security: lk for lk in lookups if lk.service.table == table}
    implicit, starttls = mine.get("implicit"), mine.get("starttls")
    if implicit is not None and implicit.outcome == "offered":
        best = implicit.records[0]
        passed = starttls if starttls is not None and starttls.outcome == "offered" else None
        return Choice(table, best.target, best.port, "implicit", implicit, passed)
    if implicit is not None and implicit.outcome == "failed":
        return None
    if starttls is not None and starttls.outcome == "offered":
        best = starttls.records[0]
        return Choice(table, best.target, best.port, "starttls", starttls)
    return None


async def _lookup(resolver: SrvResolver, service: Service, domain: str) -> Lookup:
    name = f"{service.label}.{domain}"
    try:
        records = await resolver.srv(name)
    except NoSuchRecord:
        return Lookup(service, name, "absent")
    except ResolverError as e:
        return Lookup(service, name, "failed", error=str(e),
                      timed_out=isinstance(e, ResolverTimeout))
    if not records:  # the port says it raises instead; an empty answer means the same
        return Lookup(service, name, "absent")
    return classify(service, name, records)


async def discover(domain: str, resolver: SrvResolver) -> Discovery:
    """Looks the four names up at once (one timeout bounds them all)."""
    lookups = tuple(await asyncio.gather(*(_lookup(resolver, s, domain) for s in SERVICES)))
    return Discovery(domain, lookups, choose(lookups, "imap"), choose(lookups, "smtp"))


# --- the configuration to paste -------------------------------------------------


def toml_table(choice: Choice) -> str:
    """``[imap]`` or ``[smtp]`` with host, port and security, as
    ``esp_coord.config`` reads them."""
    return (f"[{choice.table}]\n"
            f"host = {json.dumps(choice.host)}\n"  # a JSON string of ASCII is a TOML one
            f"port = {choice.port}\n"
            f"security = {json.dumps(choice.security)}\n")


def toml_block(discovery: Discovery) -> str:
    """The tables found, one blank line apart ("" when none)."""
    return "\n".join(toml_table(c) for c in (discovery.imap, discovery.smtp) if c is not None)
