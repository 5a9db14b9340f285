"""The embedded mail server as a test server, shaped like the Dovecot fixture.

Same attributes as the Dovecot test server (host, ports, ca_file, the bot's
username and password, deliver, imap_settings, smtp_settings), so that the
mailbox contract tests run unchanged against both.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapters.embedded import EmbeddedMailServer, ServerCertificate
from esp_coord.config import Security, ServerSettings
from tests.servers.tls import TLSMaterial

BOT = "coordination@esp-valdelorge.mssante.test"
BOT_PASSWORD = "embedded-test-password"


@dataclass
class EmbeddedTestServer:
    server: EmbeddedMailServer
    username: str = BOT
    password: str = BOT_PASSWORD
    kind: str = "embedded"

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def imap_port(self) -> int:
        return self.server.imap_port

    @property
    def imap_starttls_port(self) -> int:
        return self.server.imap_starttls_port

    @property
    def smtp_port(self) -> int:
        return self.server.smtp_port

    @property
    def ca_file(self) -> Path:
        return self.server.ca_file

    async def deliver(self, raw: bytes, rcpt: str | None = None) -> None:
        await self.server.deliver(rcpt or self.username, raw)

    async def messages(self, folder: str = "INBOX", user: str | None = None) -> list[bytes]:
        return await self.server.messages(user or self.username, folder)

    def imap_settings(self, security: Security = "implicit", **overrides: Any) -> ServerSettings:
        return self.server.imap_settings(self.username, security, **overrides)

    def smtp_settings(self, **overrides: Any) -> ServerSettings:
        return self.server.smtp_settings(self.username, **overrides)


@asynccontextmanager
async def start_embedded(tmp_path: Path, tls_material: TLSMaterial) -> AsyncIterator[
        EmbeddedTestServer]:
    """The embedded server with the test PKI's server certificate, the bot as its user."""
    del tmp_path  # everything lives in memory; kept for symmetry with Dovecot
    certificate = ServerCertificate(ca_file=tls_material.ca_file,
                                    cert_file=tls_material.server_cert,
                                    key_file=tls_material.server_key)
    async with EmbeddedMailServer(users={BOT: BOT_PASSWORD}, certificate=certificate) as server:
        yield EmbeddedTestServer(server)
