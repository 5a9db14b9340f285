"""A real DNS server for the discovery tests: dnsmasq, on a free port of
127.0.0.1, answering only from the records it is started with.

It reads no configuration file, no /etc/hosts, no /etc/resolv.conf and
forwards nothing: a name of the test domain it has no record for is NXDOMAIN
(``--local``), any other name is REFUSED. It stays in the foreground (no
daemon), writes its pid file and log in the test's folder and, as root, drops
to nobody.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DNSMASQ = Path("/usr/sbin/dnsmasq")

DNSMASQ_MISSING = ("NOTICE: dnsmasq is not installed (/usr/sbin/dnsmasq; `make test` installs "
                   "Debian's dnsmasq-base when run as root): DNS discovery tests skipped")


def dnsmasq_available() -> bool:
    return DNSMASQ.is_file() and os.access(DNSMASQ, os.X_OK)


def require_dnsmasq() -> None:
    """Skips the test, with a visible notice, where dnsmasq is not installed."""
    import pytest

    if not dnsmasq_available():
        pytest.skip(DNSMASQ_MISSING)


def free_dns_port(host: str = "127.0.0.1") -> int:
    """A port free for both UDP and TCP on ``host`` (DNS listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((host, 0))
            port: int = udp.getsockname()[1]
            with socket.socket() as tcp:
                try:
                    tcp.bind((host, port))
                except OSError:
                    continue
        return port
    raise RuntimeError("no free port")


def _drop_to() -> list[str]:
    """As root, dnsmasq changes to an unprivileged user after binding: name one
    that exists (Debian's nobody and nogroup). Otherwise it stays who it is."""
    if os.getuid() != 0:
        return []
    user = pwd.getpwnam("nobody")
    try:
        group = grp.getgrnam("nogroup").gr_name
    except KeyError:
        group = grp.getgrgid(user.pw_gid).gr_name
    return [f"--user={user.pw_name}", f"--group={group}"]


class DnsmasqServer:
    """``with DnsmasqServer(workdir, srv_hosts=[...]) as dns:``; ``dns.address``
    is ``127.0.0.1:PORT``, for ``--resolver``.

    ``srv_hosts`` are dnsmasq's ``--srv-host`` values:
    ``_service._tcp.DOMAIN[,TARGET[,PORT[,PRIORITY[,WEIGHT]]]]`` (no target:
    the record says "not offered", target ".")."""

    host = "127.0.0.1"

    def __init__(self, workdir: Path, *, domain: str = "esp.test",
                 srv_hosts: Sequence[str] = ()) -> None:
        self.workdir = workdir
        self.domain = domain
        self.srv_hosts = tuple(srv_hosts)
        self.port = free_dns_port(self.host)
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def command(self) -> list[str]:
        return [str(DNSMASQ), "--keep-in-foreground", "--conf-file=/dev/null",
                "--no-resolv", "--no-hosts", "--no-poll",
                f"--listen-address={self.host}", "--bind-interfaces", f"--port={self.port}",
                f"--local=/{self.domain}/",
                f"--pid-file={self.workdir / 'dnsmasq.pid'}",
                f"--log-facility={self.workdir / 'dnsmasq.log'}", "--log-queries",
                *_drop_to(), *(f"--srv-host={s}" for s in self.srv_hosts)]

    def start(self, timeout: float = 10.0) -> None:
        with open(self.workdir / "stderr.log", "wb") as stderr:
            self._proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                          stdout=subprocess.DEVNULL, stderr=stderr)
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self._proc.poll() is not None:
                raise RuntimeError(f"dnsmasq exited ({self._proc.returncode}): {self.log()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"dnsmasq did not answer within {timeout} s: {self.log()}")
            time.sleep(0.05)

    def _answers(self) -> bool:
        """Any answer to a question about the test domain: dnsmasq is listening."""
        import dns.exception
        import dns.message
        import dns.query

        query = dns.message.make_query(f"ready.{self.domain}", "A")
        try:
            dns.query.udp(query, self.host, timeout=0.2, port=self.port)
        except (dns.exception.DNSException, OSError):
            return False
        return True

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait()

    def log(self) -> str:
        parts = []
        for name in ("stderr.log", "dnsmasq.log"):
            p = self.workdir / name
            if p.exists():
                parts.append(p.read_text(errors="replace")[-4000:])
        return "\n".join(parts)

    def __enter__(self) -> DnsmasqServer:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
