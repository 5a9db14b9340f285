"""DNS SRV discovery on a stub resolver: RFC 2782 order, RFC 8314's preference
for implicit TLS, "." targets, failures, and the TOML block."""

from __future__ import annotations

import argparse
import asyncio
import tomllib
from typing import Any

import pytest

from esp_coord.discovery import (
    SERVICES,
    Discovery,
    classify,
    discover,
    normalise_domain,
    order,
    toml_block,
)
from esp_coord.entrypoints.cli import main
from esp_coord.entrypoints.cli_discover import nameserver, render
from esp_coord.ports import (
    NoSuchRecord,
    ResolverError,
    ResolverTimeout,
    ResolverUnavailable,
    SrvRecord,
)

DOMAIN = "esp.test"


def srv(target: str, port: int, priority: int = 0, weight: int = 0) -> SrvRecord:
    return SrvRecord(priority, weight, port, target)


class StubResolver:
    """Answers from a table; a name absent from it has no record."""

    def __init__(self, answers: dict[str, list[SrvRecord] | ResolverError]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    async def srv(self, name: str) -> list[SrvRecord]:
        self.asked.append(name)
        answer = self.answers.get(name)
        if answer is None:
            raise NoSuchRecord(f"{name}: no such name")
        if isinstance(answer, ResolverError):
            raise answer
        return list(answer)


def run(answers: dict[str, list[SrvRecord] | ResolverError]) -> Discovery:
    resolver = StubResolver({f"{k}.{DOMAIN}": v for k, v in answers.items()})
    found = asyncio.run(discover(DOMAIN, resolver))
    assert sorted(resolver.asked) == sorted(f"{s.label}.{DOMAIN}" for s in SERVICES)
    return found


def tables(found: Discovery) -> dict[str, Any]:
    return tomllib.loads(toml_block(found))


# --- RFC 2782 order -----------------------------------------------------------------


def test_order_is_priority_then_heaviest_weight() -> None:
    records = [srv("c.esp.test", 993, 10, 50), srv("a.esp.test", 993, 0, 1),
               srv("b.esp.test", 993, 0, 60), srv("d.esp.test", 993, 0, 0)]
    assert [r.target for r in order(records)] == [
        "b.esp.test", "a.esp.test", "d.esp.test", "c.esp.test"]


def test_order_is_the_same_whatever_the_order_received() -> None:
    records = [srv("b.esp.test", 993, 1, 5), srv("a.esp.test", 993, 1, 5),
               srv("a.esp.test", 1993, 1, 5)]
    assert order(records) == order(list(reversed(records)))
    assert [(r.target, r.port) for r in order(records)] == [
        ("a.esp.test", 993), ("a.esp.test", 1993), ("b.esp.test", 993)]


def test_lowest_priority_of_a_name_is_proposed() -> None:
    found = run({"_imaps._tcp": [srv("backup.esp.test", 993, 20, 100),
                                 srv("imap.esp.test", 993, 10, 0)]})
    assert found.imap is not None and found.imap.host == "imap.esp.test"
    assert [r.target for r in found.imap.lookup.records] == ["imap.esp.test", "backup.esp.test"]


# --- which service: RFC 8314 ----------------------------------------------------------


def test_implicit_tls_preferred_even_when_starttls_has_the_better_priority() -> None:
    found = run({
        "_imaps._tcp": [srv("imap.esp.test", 993, 50)],
        "_imap._tcp": [srv("imap.esp.test", 143, 0)],
        "_submissions._tcp": [srv("smtp.esp.test", 465, 50)],
        "_submission._tcp": [srv("smtp.esp.test", 587, 0)],
    })
    assert found.complete
    assert tables(found) == {
        "imap": {"host": "imap.esp.test", "port": 993, "security": "implicit"},
        "smtp": {"host": "smtp.esp.test", "port": 465, "security": "implicit"},
    }
    assert found.imap is not None and found.imap.passed_over is not None
    assert found.imap.passed_over.service.label == "_imap._tcp"
    assert "RFC 8314 recommends implicit TLS" in render(found, "the stub")


def test_starttls_when_it_is_all_that_is_offered() -> None:
    found = run({"_imap._tcp": [srv("mail.esp.test", 143)],
                 "_submission._tcp": [srv("mail.esp.test", 587)]})
    assert tables(found) == {
        "imap": {"host": "mail.esp.test", "port": 143, "security": "starttls"},
        "smtp": {"host": "mail.esp.test", "port": 587, "security": "starttls"},
    }
    assert "never clear text" in render(found, "the stub")


def test_dot_target_means_not_offered() -> None:
    found = run({"_imaps._tcp": [srv(".", 0)],
                 "_imap._tcp": [srv("mail.esp.test", 143)],
                 "_submissions._tcp": [srv(".", 0)],
                 "_submission._tcp": [srv(".", 0)]})
    by_label = {lk.service.label: lk for lk in found.lookups}
    assert by_label["_imaps._tcp"].outcome == "not_offered"
    assert found.imap is not None and found.imap.security == "starttls"
    assert found.smtp is None and not found.complete
    text = render(found, "the stub")
    assert 'not offered (the domain publishes the target ".")' in text
    assert "ask your operator for the submission server" in text
    assert tables(found) == {
        "imap": {"host": "mail.esp.test", "port": 143, "security": "starttls"}}


def test_dot_beside_real_records_is_ignored() -> None:
    lookup = classify(SERVICES[0], "_imaps._tcp.esp.test",
                      [srv(".", 0), srv("imap.esp.test.", 993)])
    assert lookup.outcome == "offered"
    assert [r.target for r in lookup.records] == ["imap.esp.test"]


@pytest.mark.parametrize("bad", [
    srv("imap.esp.test", 0),  # no port
    srv("imap\\032evil.esp.test", 993),  # dnspython's escape of an odd byte
    srv("-imap.esp.test", 993),
    srv('imap.esp.test"\n[x]', 993),
])
def test_unusable_records_are_shown_not_proposed(bad: SrvRecord) -> None:
    found = run({"_imaps._tcp": [bad], "_imap._tcp": [srv("imap.esp.test", 143)]})
    assert found.imap is not None
    assert (found.imap.host, found.imap.port, found.imap.security) == (
        "imap.esp.test", 143, "starttls")
    imaps = found.lookups[0]
    assert imaps.outcome == "not_offered" and imaps.unusable
    assert "ignored:" in render(found, "the stub")


def test_never_a_clear_text_proposal() -> None:
    found = run({"_imap._tcp": [srv("mail.esp.test", 143)],
                 "_submission._tcp": [srv("mail.esp.test", 25)]})
    assert {t["security"] for t in tables(found).values()} == {"starttls"}


# --- nothing, or failures -------------------------------------------------------------


def test_nothing_published() -> None:
    found = run({})
    assert found.imap is None and found.smtp is None and toml_block(found) == ""
    text = render(found, "the stub")
    assert "publishes no SRV record" in text
    assert "Ask your MSSanté operator" in text and "[imap]" not in text


def test_timeout_everywhere_said_in_plain_words() -> None:
    late = ResolverTimeout("the DNS server 192.0.2.1:53 did not answer within 5 s")
    found = run({s.label: late for s in SERVICES})
    assert found.all_failed and all(lk.timed_out for lk in found.lookups)
    text = render(found, "the DNS server 192.0.2.1:53")
    assert "did not answer within 5 s" in text
    assert "Nothing can be proposed" in text and "--resolver HOST:PORT" not in text
    assert "--resolver HOST:PORT" in render(found, "the system's DNS resolver")


def test_implicit_lookup_failed_means_no_starttls_proposal() -> None:
    found = run({"_imaps._tcp": ResolverUnavailable("the DNS server x failed to answer"),
                 "_imap._tcp": [srv("imap.esp.test", 143)],
                 "_submissions._tcp": [srv("smtp.esp.test", 465)],
                 "_submission._tcp": ResolverUnavailable("the DNS server x failed")})
    assert found.imap is None  # implicit TLS might be offered: no guess
    assert found.smtp is not None and found.smtp.security == "implicit"
    assert "could not be looked up" in render(found, "the stub")


def test_target_outside_the_domain_is_pointed_out() -> None:
    found = run({"_imaps._tcp": [srv("imap.operator.example", 993)]})
    assert "imap.operator.example is outside esp.test" in render(found, "the stub")


# --- inputs ---------------------------------------------------------------------------


@pytest.mark.parametrize(("typed", "domain"), [
    ("esp.test", "esp.test"),
    (" ESP.Test. ", "esp.test"),
    ("coordination@esp-valdelorge.mssante.fr", "esp-valdelorge.mssante.fr"),
    ("maison-santé.fr", "xn--maison-sant-lbb.fr"),
])
def test_normalise_domain(typed: str, domain: str) -> None:
    assert normalise_domain(typed) == domain


@pytest.mark.parametrize("typed", ["", "localhost", "esp..test", "esp_test.fr", "a b.fr", "@"])
def test_normalise_domain_refuses(typed: str) -> None:
    with pytest.raises(ValueError, match="not a domain name"):
        normalise_domain(typed)


@pytest.mark.parametrize(("text", "parsed"), [
    ("127.0.0.1:5353", ("127.0.0.1", 5353)),
    ("127.0.0.1", ("127.0.0.1", 53)),
    ("[::1]:5353", ("::1", 5353)),
    ("::1", ("::1", 53)),
])
def test_resolver_option(text: str, parsed: tuple[str, int]) -> None:
    assert nameserver(text) == parsed


@pytest.mark.parametrize("text", ["dns.example:53", "127.0.0.1:0", "127.0.0.1:x", "[::1]x"])
def test_resolver_option_refuses(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        nameserver(text)


@pytest.mark.parametrize("argv", [
    ["check"],  # neither --config nor --discover
    ["check", "--config", "x.toml", "--discover", "esp.test"],
    ["check", "--config", "x.toml", "--resolver", "127.0.0.1:53"],
    ["check", "--discover", "esp.test", "--resolver", "dns.example"],
])
def test_check_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_malformed_domain_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["check", "--discover", "not a domain"])
    assert exited.value.code == 2
    assert "not a domain name" in capsys.readouterr().err
