"""The embedded mail server of ``esp-coord demo``: IMAP and SMTP on loopback.

Pure Python, in the caller's event loop, no root: pymap's in-memory IMAP
(implicit TLS and STARTTLS, with IDLE, MOVE and UIDPLUS) and an aiosmtpd
submission port (STARTTLS + AUTH) that delivers into the recipients' inboxes.
Every recipient gets a mailbox, created on first delivery, so the demo can
show what each team member received. TLS certificates come from a private CA
made at start (trustme); clients trust ``ca_file``.
"""

from __future__ import annotations

import ssl
import tempfile
from collections.abc import Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from adapters.embedded_imap import MemoryImapServer
from adapters.embedded_smtp import SubmissionServer
from esp_coord.config import Security, ServerSettings


@dataclass(frozen=True)
class ServerCertificate:
    """TLS files of the embedded server: the CA clients trust, the server's chain and key."""

    ca_file: Path
    cert_file: Path
    key_file: Path


def make_certificate(folder: Path, hosts: tuple[str, ...]) -> ServerCertificate:
    """A throwaway CA and a server certificate for ``hosts``, written to ``folder``."""
    import trustme  # only the demo needs it

    # RSA: the only suites an MSSanté client may negotiate are ECDHE-RSA (ECO.1.1.3).
    ca = trustme.CA(organization_name="esp-coord demo", key_type=trustme.KeyType.RSA)
    leaf = ca.issue_cert(*hosts, key_type=trustme.KeyType.RSA)
    files = ServerCertificate(ca_file=folder / "demo-ca.pem", cert_file=folder / "server.pem",
                              key_file=folder / "server.key")
    ca.cert_pem.write_to_path(str(files.ca_file))
    files.cert_file.write_bytes(b"".join(b.bytes() for b in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(str(files.key_file))
    return files


def _server_context(cert: ServerCertificate) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(cert.cert_file), str(cert.key_file))
    return ctx


class EmbeddedMailServer:
    """IMAP + SMTP for the demo and for tests, on loopback.

    ``users`` maps mail addresses (the login names) to passwords; mail to any
    other address is accepted too and kept in a mailbox without login.
    ``certificate``: TLS files to use instead of a fresh private CA.
    """

    def __init__(self, *, users: Mapping[str, str], host: str = "127.0.0.1",
                 certificate: ServerCertificate | None = None) -> None:
        self.host = host
        self.users = {name.lower(): password for name, password in users.items()}
        self._certificate = certificate
        self._imap: MemoryImapServer | None = None
        self._smtp: SubmissionServer | None = None
        self._stack: AsyncExitStack | None = None
        self.imap_port = 0
        self.imap_starttls_port = 0
        self.smtp_port = 0

    @property
    def ca_file(self) -> Path:
        if self._certificate is None:
            raise RuntimeError("the embedded server is not started")
        return self._certificate.ca_file

    # --- lifecycle ------------------------------------------------------------------

    async def start(self, stack: AsyncExitStack) -> None:
        if self._certificate is None:
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="esp-coord-tls-"))
            hosts = tuple(dict.fromkeys((self.host, "127.0.0.1", "localhost")))
            self._certificate = make_certificate(Path(folder), hosts)
        ctx = _server_context(self._certificate)
        self._imap = MemoryImapServer(ctx, host=self.host)
        for name, password in self.users.items():
            await self._imap.add_user(name, password)
        await self._imap.start(stack)
        self._smtp = SubmissionServer(ctx, users=self.users, deliver=self.deliver,
                                      host=self.host)
        await self._smtp.start(stack)
        self.imap_port = self._imap.imap_port
        self.imap_starttls_port = self._imap.imap_starttls_port
        self.smtp_port = self._smtp.smtp_port

    async def __aenter__(self) -> EmbeddedMailServer:
        self._stack = AsyncExitStack()
        try:
            await self.start(self._stack)
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._stack is not None:
            await self._stack.aclose()
            self._stack = None

    # --- mail -----------------------------------------------------------------------

    def _started(self) -> MemoryImapServer:
        if self._imap is None:
            raise RuntimeError("the embedded server is not started")
        return self._imap

    async def add_user(self, address: str, password: str) -> None:
        """A new account that can log in over IMAP and SMTP."""
        self.users[address.lower()] = password
        await self._started().add_user(address, password)

    async def deliver(self, rcpt: str, raw: bytes) -> None:
        """Put ``raw`` in the inbox of ``rcpt`` (created if unknown), as a local
        delivery agent would. IDLE sessions are told at once."""
        imap = self._started()
        rcpt = rcpt.strip().lower()
        if not imap.has_user(rcpt):
            await imap.add_user(rcpt, None)
        await imap.append(rcpt, raw)

    async def messages(self, user: str, folder: str = "INBOX") -> list[bytes]:
        """What ``user`` holds in ``folder``, oldest first (CRLF line ends)."""
        return await self._started().messages(user, folder)

    async def folders(self, user: str) -> list[str]:
        return await self._started().folders(user)

    # --- client settings ------------------------------------------------------------

    def _settings(self, user: str, port: int, security: Security, **overrides: Any) \
            -> ServerSettings:
        user = user.lower()
        values: dict[str, Any] = dict(host=self.host, port=port, security=security,
                                      ca_file=self.ca_file, username=user,
                                      revocation="when-named",
                                      password=self.users.get(user), auth="login",
                                      timeout=10.0)
        values.update(overrides)
        return ServerSettings(**values)

    def imap_settings(self, user: str, security: Security = "implicit",
                      **overrides: Any) -> ServerSettings:
        port = self.imap_port if security == "implicit" else self.imap_starttls_port
        return self._settings(user, port, security, **overrides)

    def smtp_settings(self, user: str, **overrides: Any) -> ServerSettings:
        security = overrides.pop("security", "starttls")
        return self._settings(user, self.smtp_port, security, **overrides)
