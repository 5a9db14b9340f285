"""Mail servers for the integration tests: a real Dovecot, and the embedded server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.servers.dovecot import DovecotServer, dovecot_available
from tests.servers.embedded import start_embedded
from tests.servers.tls import TLSMaterial

DOVECOT_MISSING = ("NOTICE: Dovecot is not installed (/usr/sbin/dovecot; `make test` installs "
                   "dovecot-imapd and dovecot-lmtpd when run as root): Dovecot tests skipped")


def require_dovecot() -> None:
    if not dovecot_available():
        pytest.skip(DOVECOT_MISSING)


@pytest.fixture
async def dovecot(tmp_path: Path, tls_material: TLSMaterial) -> AsyncIterator[DovecotServer]:
    """A fresh Dovecot (about 0.1 s to start): IMAPS, IMAP+STARTTLS, LMTP."""
    require_dovecot()
    workdir = tmp_path / "dovecot"
    workdir.mkdir()
    async with DovecotServer(workdir, tls_material) as server:
        yield server


@pytest.fixture(params=["dovecot", "embedded"])
async def mail_server(request: pytest.FixtureRequest, tmp_path: Path,
                      tls_material: TLSMaterial) -> AsyncIterator[Any]:
    """Each mail server the mailbox contract must hold for, same attributes on both."""
    if request.param == "dovecot":
        require_dovecot()
        workdir = tmp_path / "dovecot"
        workdir.mkdir()
        async with DovecotServer(workdir, tls_material) as server:
            yield server
        return
    async with start_embedded(tmp_path, tls_material) as server:
        yield server
