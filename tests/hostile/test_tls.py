"""TLS below 1.2 is refused, for IMAP and SMTP, implicit TLS and STARTTLS, in
plain words and before any credential leaves the client; no fallback.

Untrusted and expired certificates are covered by tests/integration
(test_imap_adapter.py, test_smtp_adapter.py) and the ``check`` command by
tests/e2e/test_cli.py; the service-level test here shows a wrong CA keeps
the service running, saying why, and reading nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
import warnings
from dataclasses import replace

import pytest

from adapters.imap import ImapMailbox
from adapters.smtp import SendTemporaryError, SmtpSender
from esp_coord.config import Folders, ServerSettings
from esp_coord.ports import MailboxTLSError
from tests.e2e.harness import Team, wait_until
from tests.servers.tls import TLSMaterial

OLD_TLS = r"only offers (an old TLS version|TLS 1\.[01]); MSSanté requires TLS 1\.2"


def old_tls_context(tls: TLSMaterial) -> ssl.SSLContext:
    """A server that speaks TLS 1.0 and 1.1 only (OpenSSL needs SECLEVEL 0)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # that is the point
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    ctx.load_cert_chain(str(tls.server_cert), str(tls.server_key))
    return ctx


class OldTlsServer:
    """A mail server whose TLS stops at 1.1, in a thread with blocking sockets
    (as real servers do, it sends its "protocol version" alert before closing;
    asyncio's TLS server would only reset the connection).

    ``protocol`` "imap" or "smtp"; ``implicit`` TLS from the first byte, else
    a plaintext greeting and STARTTLS. Records the plaintext lines it read and
    the TLS version each handshake ended with.
    """

    GREETING = {"imap": b"* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n",
                "smtp": b"220 old.test ESMTP\r\n"}

    def __init__(self, tls: TLSMaterial, protocol: str, *, implicit: bool) -> None:
        self.ctx = old_tls_context(tls)
        self.protocol = protocol
        self.implicit = implicit
        self.received: list[bytes] = []
        self.handshakes: list[str] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> OldTlsServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            conn.settimeout(5)
            with contextlib.suppress(OSError), conn:
                if self.implicit:
                    self._handshake(conn)
                else:
                    self._plaintext(conn)

    def _handshake(self, conn: socket.socket) -> None:
        try:
            with self.ctx.wrap_socket(conn, server_side=True) as tls:
                self.handshakes.append(str(tls.version()))
                # As a real server would: the session works (a client that
                # accepts TLS 1.1 gets an answer).
                tls.sendall(self.GREETING[self.protocol])
        except ssl.SSLError:
            self.handshakes.append("refused")

    def _plaintext(self, conn: socket.socket) -> None:
        conn.sendall(self.GREETING[self.protocol])
        stream = conn.makefile("rb")
        while line := stream.readline():
            self.received.append(line)
            word = line.upper()
            tag = line.split(b" ", 1)[0]
            if self.protocol == "smtp" and word.startswith((b"EHLO", b"HELO")):
                conn.sendall(b"250-old.test\r\n250 STARTTLS\r\n")
            elif self.protocol == "smtp" and word.startswith(b"STARTTLS"):
                conn.sendall(b"220 2.0.0 go ahead\r\n")
                return self._handshake(conn)
            elif b"STARTTLS" in word:
                conn.sendall(tag + b" OK Begin TLS negotiation now\r\n")
                return self._handshake(conn)
            elif b"CAPABILITY" in word:
                conn.sendall(b"* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\n"
                             + tag + b" OK done\r\n")
            elif self.protocol == "smtp":
                conn.sendall(b"530 5.7.0 Must issue a STARTTLS command first\r\n")
            else:
                conn.sendall(tag + b" BAD no\r\n")
        return None

    def credentials_seen(self) -> bool:
        return any(w in line.upper() for line in self.received
                   for w in (b"LOGIN", b"AUTH", b"MAIL FROM", b"PASS"))


def _permissive_handshake(port: int, tls: TLSMaterial) -> str:
    """Control: a client that accepts TLS 1.1 gets it, so the refusals below
    are our client's doing."""
    ctx = ssl.create_default_context(cafile=str(tls.ca_file))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
            ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls_socket:
        return str(tls_socket.version())


@pytest.mark.parametrize("security", ["implicit", "starttls"])
async def test_imap_below_tls_1_2_is_refused(tls_material: TLSMaterial, security: str) -> None:
    with OldTlsServer(tls_material, "imap", implicit=security == "implicit") as server:
        if security == "implicit":
            assert await asyncio.to_thread(_permissive_handshake, server.port,
                                           tls_material) == "TLSv1.1"
        settings = ServerSettings(host="127.0.0.1", port=server.port, security=security,
                                  ca_file=tls_material.ca_file, username="u",
                                  password="secret", timeout=5)
        with pytest.raises(MailboxTLSError, match=OLD_TLS):
            await ImapMailbox(settings, Folders()).connect()
        await wait_until(lambda: "refused" in server.handshakes, 5, "the server's side")
        assert not server.credentials_seen()


@pytest.mark.parametrize("security", ["implicit", "starttls"])
async def test_smtp_below_tls_1_2_is_refused(tls_material: TLSMaterial, security: str) -> None:
    with OldTlsServer(tls_material, "smtp", implicit=security == "implicit") as server:
        settings = ServerSettings(host="127.0.0.1", port=server.port, security=security,
                                  ca_file=tls_material.ca_file, username="bot",
                                  password="secret", timeout=5)
        sender = SmtpSender(settings)
        try:
            with pytest.raises(SendTemporaryError, match=OLD_TLS):
                await sender.send(b"Subject: x\r\n\r\nx\r\n", sender="bot@x.test",
                                  recipients=["a@x.test"])
        finally:
            await sender.close()
        await wait_until(lambda: "refused" in server.handshakes, 5, "the server's side")
        assert not server.credentials_seen()


async def test_service_with_an_untrusted_imap_certificate_says_so_and_reads_nothing(
        team: Team, tls_material: TLSMaterial, caplog: pytest.LogCaptureFixture) -> None:
    team.config = replace(team.config, imap=replace(team.config.imap,
                                                    ca_file=tls_material.other_ca_file))
    await team.dovecot.deliver(b"From: Claire DURAND <claire.durand@medecin.mssante.test>\r\n"
                               b"Subject: AIDE\r\nMessage-ID: <tls-1@medecin.mssante.test>\r\n"
                               b"\r\nAIDE\r\n")
    await team.start()
    await wait_until(lambda: "not signed by an authority we trust" in caplog.text, 10,
                     "the TLS error in the log")
    assert team.service is not None
    assert not any(t.done() for t in team.service._tasks)  # still running, retrying
    assert team.service.mailroom.processed == 0
    assert await team.dovecot.folder_count("INBOX") == 1
    assert team.front.messages == []
