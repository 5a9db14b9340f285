"""``esp-coord check --discover DOMAIN``: the mail servers DOMAIN publishes in
DNS (SRV records, RFC 6186 and RFC 8314), said in plain words, and the
``[imap]`` and ``[smtp]`` tables to paste into the configuration. Needs no
configuration; ``--resolver HOST:PORT`` asks that DNS server instead of the
system's.

Exit status: 0 both an IMAP and a submission server were found; 1 something
is missing or DNS did not answer (what to ask the operator is said); 2 a
malformed domain or option.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import sys
from typing import Any

from esp_coord.discovery import (
    Choice,
    Discovery,
    Lookup,
    Table,
    discover,
    normalise_domain,
    toml_block,
)
from esp_coord.ports import ResolverError, SrvRecord

DEFAULT_TIMEOUT = 5.0

_DIRECTION = {"imap": "Reading mail (IMAP)", "smtp": "Sending mail (submission)"}
_TLS = {"implicit": "implicit TLS", "starttls": "STARTTLS"}
_ASK = {
    "imap": "the IMAP server: its host name, and port 993 with implicit TLS or "
            "143 with STARTTLS",
    "smtp": "the submission server: its host name, and port 465 with implicit TLS or "
            "587 with STARTTLS",
}


def nameserver(text: str) -> tuple[str, int]:
    """``--resolver``: ``ADDRESS``, ``ADDRESS:PORT`` or ``[IPv6]:PORT`` (port 53
    when omitted). An IP address: the DNS server's own name would need DNS."""
    host, port = text.strip(), "53"
    if host.startswith("["):
        host, _, rest = host[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise argparse.ArgumentTypeError(f"{text!r}: expected [ADDRESS]:PORT")
            port = rest[1:]
    elif host.count(":") == 1:
        host, _, port = host.partition(":")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected the DNS server's IP address, e.g. 127.0.0.1:5353") from None
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r}: the port must be between 1 and 65535")
    return str(address), int(port)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 120:
        raise argparse.ArgumentTypeError(f"{text!r}: a number of seconds, up to 120")
    return value


def add_arguments(parser: Any, source: Any) -> None:
    """The options of ``check`` for discovery; ``source`` is the group where
    ``--discover`` stands instead of ``--config``."""
    source.add_argument("--discover", metavar="DOMAIN",
                        help="instead of checking a configuration: look up the mail servers "
                             "DOMAIN publishes in DNS (SRV records) and print the [imap] and "
                             "[smtp] tables to paste")
    parser.add_argument("--resolver", metavar="HOST:PORT", type=nameserver,
                        help="with --discover: ask this DNS server (an IP address, port 53 "
                             "by default) instead of the system's")
    parser.add_argument("--dns-timeout", metavar="SECONDS", type=_seconds,
                        help=f"with --discover: give up on DNS after this long "
                             f"(default {DEFAULT_TIMEOUT:g})")


def check_usage(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """``--resolver`` and ``--dns-timeout`` only go with ``--discover``."""
    if getattr(args, "command", None) != "check" or args.discover is not None:
        return
    for option, value in (("--resolver", args.resolver), ("--dns-timeout", args.dns_timeout)):
        if value is not None:
            parser.error(f"check: {option} goes with --discover DOMAIN")


def run(args: argparse.Namespace) -> int:
    from adapters.dns_srv import DnsSrvResolver, describe_nameserver

    try:
        domain = normalise_domain(args.discover)
    except ValueError as e:
        print(f"esp-coord: {e}", file=sys.stderr)
        return 2
    where = describe_nameserver(args.resolver)
    try:
        resolver = DnsSrvResolver(args.resolver, timeout=args.dns_timeout or DEFAULT_TIMEOUT)
    except ResolverError as e:
        print(f"Cannot look up {domain} in DNS: {e}. Give a DNS server with "
              "--resolver HOST:PORT, or ask your operator for the servers (see below).")
        print(_nothing_found(("imap", "smtp")))
        return 1
    found = asyncio.run(discover(domain, resolver))
    print(render(found, where))
    return 0 if found.complete else 1


# --- the report -----------------------------------------------------------------


def _record(r: SrvRecord) -> str:
    return f"{r.target} port {r.port} (priority {r.priority}, weight {r.weight})"


def _lookup_lines(lk: Lookup) -> list[str]:
    head = f"  {lk.name}: {_TLS[lk.service.security]}: "
    if lk.outcome == "absent":
        return [head + "no record."]
    if lk.outcome == "failed":
        return [head + f"no answer: {lk.error}."]
    lines = []
    if lk.outcome == "not_offered":
        lines.append(head + ("not offered (the domain publishes the target \".\")."
                             if not lk.unusable else "nothing usable."))
    else:
        lines.append(head + _record(lk.records[0]) + ".")
        lines += [f"      then {_record(r)}." for r in lk.records[1:]]
    lines += [f"      ignored: {_record(r)}: not a usable host name and port." for r in lk.unusable]
    return lines


def _verdict(found: Discovery, table: Table) -> str:
    choice = found.choice(table)
    if choice is None:
        lookups = found.of(table)
        if any(lk.outcome == "failed" and lk.service.security == "implicit" for lk in lookups):
            return ("  Nothing proposed: whether implicit TLS is offered could not be looked "
                    "up. Try again.")
        return f"  Nothing proposed: ask your operator for {_ASK[table]}."
    text = f"  Proposed: {choice.host} port {choice.port}, {_TLS[choice.security]}"
    if choice.passed_over is not None:
        text += (". STARTTLS is offered too, but RFC 8314 recommends implicit TLS: "
                 "it is preferred whatever the priorities")
    elif choice.security == "starttls":
        text += (": the domain offers no implicit TLS. The service then requires "
                 "STARTTLS, never clear text")
    return text + "." + _outside(found.domain, choice)


def _outside(domain: str, choice: Choice) -> str:
    if choice.host == domain or choice.host.endswith("." + domain):
        return ""
    return f" {choice.host} is outside {domain}: make sure it is your operator's."


def _nothing_found(tables: tuple[Table, ...]) -> str:
    wanted = "; and ".join(_ASK[t] for t in tables)
    return (f"Ask your MSSanté operator for {wanted}; and how the service logs in "
            "(a password, or an IGC-Santé client certificate).")


def render(found: Discovery, where: str) -> str:
    """The report: what each name gave, what is proposed, the tables to paste."""
    lines = [f"Mail servers of {found.domain} in DNS (SRV records, RFC 6186 and RFC 8314), "
             f"asked of {where}:"]
    if found.all_failed:
        errors = sorted({lk.error for lk in found.lookups})
        hint = ("that this machine reaches a DNS server (or give one with --resolver HOST:PORT)"
                if where.startswith("the system's") else "the address given with --resolver")
        lines += [f"  No answer: {'; '.join(errors)}.",
                  f"Nothing can be proposed. Check {hint} and try again, or:",
                  _nothing_found(("imap", "smtp"))]
        return "\n".join(lines)
    if all(lk.outcome == "absent" for lk in found.lookups):
        lines += [f"  None: {found.domain} publishes no SRV record for mail (it may be "
                  "mistyped, or its operator does not publish them).",
                  _nothing_found(("imap", "smtp"))]
        return "\n".join(lines)
    for table in ("imap", "smtp"):
        lines += ["", _DIRECTION[table] + ":"]
        for lk in found.of(table):
            lines += _lookup_lines(lk)
        lines.append(_verdict(found, table))
    block = toml_block(found)
    if block:
        tables = [f"[{c.table}]" for c in (found.imap, found.smtp) if c is not None]
        lines += ["",
                  "To paste into the configuration, in place of its " + " and ".join(tables)
                  + (" tables" if len(tables) > 1 else " table")
                  + "; then add the login (username with password_file or password_env) "
                    "or the client certificate, as in config/esp.example.toml:",
                  "", block.rstrip("\n"), "",
                  "DNS answers are not authenticated here (DNSSEC is not checked): confirm "
                  "these host names with your MSSanté operator, then run "
                  "esp-coord check --config FILE."]
    return "\n".join(lines)
