"""What ``serve`` and ``status`` say to the operator of a platform.

SQLite serves one team in one process: a second ``serve`` on the same file
and several teams on SQLite are refused plainly. ``status`` shows workers,
leases, teams, backlog and the last error per team.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from esp_coord.crypto import Keyring
from esp_coord.entrypoints.cli import main
from esp_coord.platform import leases
from esp_coord.store.engine import make_engine
from tests.servers.dovecot import free_port
from tests.servers.tls import TLSMaterial
from tests.support.platform import PlatformDb, platform_db

__all__ = ["platform_db"]

ESP_COORD = Path(sys.executable).parent / "esp-coord"


def team_file(folder: Path, name: str, ca_file: Path, *, bot: str | None = None,
              database_url: str = "sqlite:///esp.db") -> Path:
    """A team whose servers do not answer (a closed port): enough to serve."""
    port = free_port("127.0.0.1")
    (folder / "imap.pw").write_text("pw", encoding="utf-8")
    Keyring.generate().save(folder / f"{name}.key", overwrite=True)
    path = folder / f"{name}.toml"
    path.write_text(f"""
[team]
name = "ESP {name}"
bot_address = "{bot or f'coordination@{name}.mssante.test'}"
trusted_domains = ["*.mssante.test"]
[[team.members]]
name = "Ana COSTA"
email = "ana.costa@esp-valdelorge.mssante.test"
profession = "coordinatrice"
roles = ["coordinator"]
[imap]
host = "127.0.0.1"
port = {port}
security = "implicit"
ca_file = "{ca_file}"
username = "bot"
password_file = "imap.pw"
[smtp]
host = "127.0.0.1"
port = {port}
security = "implicit"
ca_file = "{ca_file}"
auth = "none"
[storage]
key_file = "{name}.key"
database_url = "{database_url}"
""", encoding="utf-8")
    return path


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    captured = capsys.readouterr()
    return int(exit_.value.code or 0), captured.out + captured.err


def test_several_teams_on_sqlite_are_refused_plainly(
        tmp_path: Path, tls_material: TLSMaterial, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("nord", "sud"):
        team_file(tmp_path, name, tls_material.ca_file)
    code, said = run(["serve", "--teams", str(tmp_path)], capsys)
    assert code == 2
    assert "2 teams on sqlite: several teams need PostgreSQL" in said
    assert "Traceback" not in said


def test_two_teams_with_one_mailbox_or_one_key_are_refused(
        tmp_path: Path, tls_material: TLSMaterial, capsys: pytest.CaptureFixture[str]) -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    team_file(tmp_path, "nord", tls_material.ca_file, bot="bot@esp.mssante.test",
              database_url=url)
    team_file(tmp_path, "sud", tls_material.ca_file, bot="bot@esp.mssante.test",
              database_url=url)
    code, said = run(["serve", "--teams", str(tmp_path)], capsys)
    assert code == 2 and "each team has its own mailbox" in said
    team_file(tmp_path, "sud", tls_material.ca_file, database_url=url)
    (tmp_path / "sud.key").write_bytes((tmp_path / "nord.key").read_bytes())
    code, said = run(["serve", "--teams", str(tmp_path)], capsys)
    assert code == 2 and "each team has its own key" in said


async def test_a_second_serve_on_the_same_sqlite_file_is_refused(
        tmp_path: Path, tls_material: TLSMaterial, capsys: pytest.CaptureFixture[str]) -> None:
    config = team_file(tmp_path, "nord", tls_material.ca_file)
    log = (tmp_path / "first.log").open("wb")
    first = await asyncio.create_subprocess_exec(
        str(ESP_COORD), "serve", "--config", str(config), stdout=log, stderr=log,
        env={**os.environ})
    try:
        for _ in range(300):
            if "esp-coord serving" in (tmp_path / "first.log").read_text(errors="replace"):
                break
            assert first.returncode is None, (tmp_path / "first.log").read_text()
            await asyncio.sleep(0.1)
        code, said = await asyncio.to_thread(run, ["serve", "--config", str(config)], capsys)
        assert code == 2
        assert "another esp-coord serve already uses" in said
        assert "several workers need PostgreSQL" in said
    finally:
        first.send_signal(signal.SIGTERM)
        assert await first.wait() == 0
        log.close()


@pytest.mark.postgres
def test_status_shows_workers_leases_backlog_and_last_errors(
        platform_db: PlatformDb, capsys: pytest.CaptureFixture[str]) -> None:
    engine = make_engine(platform_db.worker_url, busy_timeout=5, options=platform_db.options())
    ttl = timedelta(seconds=30)
    try:
        with engine.begin() as conn:
            leases.register(conn, "machine-1:4242:ab", "machine-1", 4242)
            leases.ensure_teams(conn, ["esp-nord", "esp-sud"])
            token = leases.acquire(conn, "esp-nord", "machine-1:4242:ab", ttl)
            assert token is not None
            error_at = conn.execute(text("SELECT now()")).scalar_one()
            leases.report(conn, "esp-nord", "machine-1:4242:ab", token, backlog=7,
                          error=("mailbox: authentication refused", error_at))
    finally:
        engine.dispose()
    code, said = run(["status", "--database-url", platform_db.search_path_url], capsys)
    assert code == 0, said
    lines = said.splitlines()
    assert lines[0] == "Workers (1 alive):"
    assert "machine-1:4242:ab" in lines[1] and "alive" in lines[1] and "1 team(s)" in lines[1]
    nord = next(line for line in lines if line.strip().startswith("esp-nord"))
    assert "machine-1:4242:ab" in nord and f"token {token}" in nord and "backlog 7" in nord
    assert any("last error" in line and "authentication refused" in line for line in lines)
    sud = next(line for line in lines if line.strip().startswith("esp-sud"))
    assert "(nobody)" in sud and "backlog -" in sud
