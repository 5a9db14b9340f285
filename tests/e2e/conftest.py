"""Fixtures of the end-to-end tests: a real Dovecot, the SMTP front, the team."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.e2e.harness import Team, lmtp_into
from tests.servers.dovecot import BOT, DovecotServer, dovecot_available
from tests.servers.smtp_front import SmtpFront
from tests.servers.tls import TLSMaterial


@pytest.fixture
async def dovecot(tmp_path: Path, tls_material: TLSMaterial) -> AsyncIterator[DovecotServer]:
    if not dovecot_available():
        pytest.skip("NOTICE: Dovecot is not installed (make test installs it as root): "
                    "end-to-end tests skipped")
    workdir = tmp_path / "dovecot"
    workdir.mkdir()
    async with DovecotServer(workdir, tls_material) as server:
        yield server


@pytest.fixture
async def front(dovecot: DovecotServer, tls_material: TLSMaterial) -> AsyncIterator[SmtpFront]:
    async with SmtpFront(tls_material, deliver=lmtp_into(dovecot, BOT)) as server:
        yield server


@pytest.fixture
async def team(dovecot: DovecotServer, front: SmtpFront, tmp_path: Path) -> AsyncIterator[Team]:
    team = Team(dovecot, front, tmp_path)
    try:
        yield team
    finally:
        await team.stop()
