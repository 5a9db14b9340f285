"""``esp-coord check --discover`` against a real DNS server (dnsmasq on
127.0.0.1), through the command itself: what it prints and its exit status.
The tests that start dnsmasq carry the ``dnsmasq`` marker and skip, with a
notice, where it is not installed; the silent server needs nothing."""

from __future__ import annotations

import re
import socket
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from esp_coord.entrypoints.cli import main
from tests.servers.dnsmasq import DnsmasqServer, require_dnsmasq

DOMAIN = "esp.test"
Start = Callable[..., DnsmasqServer]


@pytest.fixture
def start_dns(tmp_path: Path) -> Iterator[Start]:
    """Starts a dnsmasq with the ``--srv-host`` values given; stopped after the test."""
    require_dnsmasq()
    started: list[DnsmasqServer] = []

    def start(*srv_hosts: str) -> DnsmasqServer:
        workdir = tmp_path / f"dnsmasq{len(started)}"
        workdir.mkdir()
        server = DnsmasqServer(workdir, domain=DOMAIN, srv_hosts=srv_hosts)
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def discover(capsys: pytest.CaptureFixture[str], resolver: str, *extra: str,
             domain: str = DOMAIN) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exited:
        main(["check", "--discover", domain, "--resolver", resolver, *extra])
    out, err = capsys.readouterr()
    assert err == ""
    return int(exited.value.code or 0), out


def pasted(out: str) -> dict[str, Any]:
    """The TOML tables the report proposes, parsed."""
    start = out.find("\n[")
    assert start >= 0, out
    end = out.find("\n\n", out.rfind("\nsecurity = "))
    return tomllib.loads(out[start:end])


@pytest.mark.dnsmasq
def test_implicit_preferred_and_priorities_respected(
        start_dns: Start, capsys: pytest.CaptureFixture[str]) -> None:
    dns = start_dns(
        # IMAP: implicit TLS on three hosts, STARTTLS ranked first by the domain.
        "_imaps._tcp.esp.test,imap-secours.esp.test,993,20,100",
        "_imaps._tcp.esp.test,imap-leger.esp.test,993,10,1",
        "_imaps._tcp.esp.test,imap.esp.test,993,10,60",
        "_imap._tcp.esp.test,imap.esp.test,143,0,0",
        # Submission: both at the same priority.
        "_submissions._tcp.esp.test,smtp.esp.test,465,0,10",
        "_submission._tcp.esp.test,smtp.esp.test,587,0,10",
    )
    code, out = discover(capsys, dns.address)
    assert code == 0, out
    assert pasted(out) == {
        "imap": {"host": "imap.esp.test", "port": 993, "security": "implicit"},
        "smtp": {"host": "smtp.esp.test", "port": 465, "security": "implicit"},
    }
    # Every record is shown, in RFC 2782 order.
    order = [m.group(1) for m in re.finditer(r"(imap[\w-]*\.esp\.test) port 993", out)]
    assert order[:3] == ["imap.esp.test", "imap-leger.esp.test", "imap-secours.esp.test"]
    assert "RFC 8314 recommends implicit TLS" in out
    assert "_imap._tcp.esp.test: STARTTLS: imap.esp.test port 143 (priority 0" in out
    assert f"asked of the DNS server {dns.address}" in out
    assert '"none"' not in out


@pytest.mark.dnsmasq
def test_dot_target_is_not_offered(start_dns: Start,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    dns = start_dns(
        "_imaps._tcp.esp.test",  # no target: dnsmasq answers "." (not offered)
        "_imap._tcp.esp.test,mail.esp.test,143,0,0",
        "_submissions._tcp.esp.test",
        "_submission._tcp.esp.test",
    )
    code, out = discover(capsys, dns.address)
    assert code == 1, out  # nothing to send with
    assert ('_imaps._tcp.esp.test: implicit TLS: not offered (the domain publishes '
            'the target ".")') in out
    assert pasted(out) == {
        "imap": {"host": "mail.esp.test", "port": 143, "security": "starttls"}}
    assert "The service then requires STARTTLS, never clear text" in out
    assert "Nothing proposed: ask your operator for the submission server" in out
    assert "[smtp]" not in out


@pytest.mark.dnsmasq
def test_no_records_at_all(start_dns: Start, capsys: pytest.CaptureFixture[str]) -> None:
    dns = start_dns()
    code, out = discover(capsys, dns.address)
    assert code == 1
    assert "esp.test publishes no SRV record for mail" in out
    assert "Ask your MSSanté operator for the IMAP server" in out
    assert "the submission server" in out
    assert "[imap]" not in out and "[smtp]" not in out


@pytest.mark.dnsmasq
def test_refused_said_in_plain_words(start_dns: Start,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    dns = start_dns("_imaps._tcp.esp.test,imap.esp.test,993")
    code, out = discover(capsys, dns.address, domain="elsewhere.test")
    assert code == 1
    assert f"the DNS server {dns.address} refused to answer (REFUSED)" in out
    assert "Nothing can be proposed" in out


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A UDP port where something listens and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{sock.getsockname()[1]}"


@pytest.mark.timeout(60)  # bounded: a hang fails with its stack
def test_resolver_not_answering(silent_server: str,
                                capsys: pytest.CaptureFixture[str]) -> None:
    code, out = discover(capsys, silent_server, "--dns-timeout", "0.5")
    assert code == 1
    assert f"the DNS server {silent_server} did not answer within 0.5 s" in out
    assert "Nothing can be proposed" in out
    assert "Ask your MSSanté operator" in out
