"""Shared fixtures. Server fixtures live in tests/servers/."""

from __future__ import annotations

import pytest

from tests.servers.tls import TLSMaterial, make_tls_material
from tests.support.paths import EXAMPLES


@pytest.fixture(scope="session")
def tls_material(tmp_path_factory: pytest.TempPathFactory) -> TLSMaterial:
    return make_tls_material(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def example_messages() -> dict[str, bytes]:
    """The example mails, by file stem."""
    folder = EXAMPLES / "messages"
    return {p.stem: p.read_bytes() for p in sorted(folder.glob("*.eml"))}
