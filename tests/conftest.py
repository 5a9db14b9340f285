"""Shared fixtures. Server fixtures live in tests/servers/."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.servers.tls import TLSMaterial, make_tls_material

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
# The shared examples are the source of truth; the repository keeps a copy
# (config/examples) so that a clone without ../shared still runs every test.
EXAMPLES = SHARED / "examples" if (SHARED / "examples").is_dir() else ROOT / "config" / "examples"


@pytest.fixture(scope="session")
def tls_material(tmp_path_factory: pytest.TempPathFactory) -> TLSMaterial:
    return make_tls_material(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def example_messages() -> dict[str, bytes]:
    """The example mails, by file stem."""
    folder = EXAMPLES / "messages"
    return {p.stem: p.read_bytes() for p in sorted(folder.glob("*.eml"))}
