"""Shared fixtures. Server fixtures live in tests/servers/."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.servers.tls import TLSMaterial, make_tls_material

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
EXAMPLES = SHARED / "examples"


@pytest.fixture(scope="session")
def tls_material(tmp_path_factory: pytest.TempPathFactory) -> TLSMaterial:
    return make_tls_material(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def example_messages() -> dict[str, bytes]:
    """The example mails of ../shared/examples/messages, by file stem."""
    folder = EXAMPLES / "messages"
    if not folder.is_dir():
        pytest.skip(f"NOTICE: {folder} is absent: example-based tests skip")
    return {p.stem: p.read_bytes() for p in sorted(folder.glob("*.eml"))}
