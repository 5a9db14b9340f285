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


def _needs_dovecot(item: pytest.Item) -> bool:
    # "dovecot" is the fixture of a real server; "front" and "team" of the
    # end-to-end tests depend on it, so it is in their closure too.
    if "dovecot" in getattr(item, "fixturenames", ()):
        return True
    callspec = getattr(item, "callspec", None)
    return callspec is not None and callspec.params.get("mail_server") == "dovecot"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``dovecot`` on every test that starts a real Dovecot through a fixture
    (tests that start one themselves carry the marker in their module); a
    ``sql_only`` test is not made for the memory store at all (deselected,
    not skipped: there is nothing there to run)."""
    kept, dropped = [], []
    for item in items:
        if _needs_dovecot(item) and item.get_closest_marker("dovecot") is None:
            item.add_marker(pytest.mark.dovecot)
        callspec = getattr(item, "callspec", None)
        on_memory = callspec is not None and callspec.params.get("backend") == "memory"
        (dropped if on_memory and item.get_closest_marker("sql_only") else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
