"""Fixtures of the integration tests: a real Dovecot, the embedded server, the SMTP
front, and the store on each backend (``tests/support/store.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.servers.dovecot import DovecotServer, require_dovecot
from tests.servers.embedded import start_embedded
from tests.servers.smtp_front import SmtpFront
from tests.servers.tls import TLSMaterial
from tests.support.mail import SMTP_USER
from tests.support.store import backend, keyring, postgres_user, store

__all__ = ["backend", "keyring", "postgres_user", "store"]  # the store fixtures, for every test


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


@pytest.fixture
async def front(tls_material: TLSMaterial) -> AsyncIterator[SmtpFront]:
    """The in-process SMTP server (aiosmtpd, STARTTLS, login ``SMTP_USER``), recording."""
    async with SmtpFront(tls_material, auth=SMTP_USER) as server:
        yield server
