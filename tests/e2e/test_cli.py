"""The coordinator's commands: keygen, check against real servers, serve's config errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from esp_coord.config import load_config
from esp_coord.entrypoints.cli import _check, main
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp_front import SmtpFront
from tests.servers.tls import TLSMaterial

TEAM = """
[team]
name = "ESP test"
bot_address = "coordination@esp-valdelorge.mssante.test"
trusted_domains = ["*.mssante.test"]
[[team.members]]
name = "Ana COSTA"
email = "ana.costa@esp-valdelorge.mssante.test"
profession = "coordinatrice"
roles = ["coordinator"]
"""


def write_config(tmp_path: Path, dovecot: DovecotServer, smtp: SmtpFront, *,
                 imap_password: str, ca_file: Path) -> Path:
    (tmp_path / "imap.pw").write_text(imap_password, encoding="utf-8")
    (tmp_path / "smtp.pw").write_text("smtp-pw", encoding="utf-8")
    path = tmp_path / "esp.toml"
    path.write_text(TEAM + f"""
[imap]
host = "127.0.0.1"
port = {dovecot.imap_port}
security = "implicit"
ca_file = "{ca_file}"
revocation = "when-named"  # the test PKI names no CRL
username = "{dovecot.username}"
password_file = "imap.pw"
[smtp]
host = "127.0.0.1"
port = {smtp.port}
security = "starttls"
ca_file = "{ca_file}"
revocation = "when-named"  # the test PKI names no CRL
username = "bot"
password_file = "smtp.pw"
[storage]
key_file = "esp.key"
database_url = "sqlite:///esp.db"
""", encoding="utf-8")
    return path


@pytest.fixture
async def smtp(tls_material: TLSMaterial):
    async with SmtpFront(tls_material, auth=("bot", "smtp-pw")) as server:
        yield server


async def test_keygen_then_check_reports_everything_ready(
        tmp_path: Path, dovecot: DovecotServer, smtp: SmtpFront, tls_material: TLSMaterial,
        capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(tmp_path, dovecot, smtp, imap_password=dovecot.password,
                        ca_file=tls_material.ca_file)
    with pytest.raises(SystemExit) as done:
        main(["keygen", "--config", str(path)])
    assert done.value.code == 0
    assert (tmp_path / "esp.key").stat().st_mode & 0o077 == 0
    assert await _check(load_config(path)) == 0
    out = capsys.readouterr().out
    assert "configuration valid" in out and "Everything is ready." in out
    assert "Traités" in out
    # keygen refuses to overwrite the key the data depends on.
    with pytest.raises(SystemExit) as again:
        main(["keygen", "--config", str(path)])
    assert again.value.code == 1


async def test_check_names_each_failure_in_plain_words(
        tmp_path: Path, dovecot: DovecotServer, smtp: SmtpFront, tls_material: TLSMaterial,
        capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(tmp_path, dovecot, smtp, imap_password="wrong",
                        ca_file=tls_material.other_ca_file)
    assert await _check(load_config(path)) == 1
    out = capsys.readouterr().out
    assert "Key file" in out and "keygen" in out
    imap_line = next(line for line in out.splitlines() if line.startswith("IMAP"))
    smtp_line = next(line for line in out.splitlines() if line.startswith("SMTP"))
    assert "certificate" in imap_line.lower()
    assert "certificate" in smtp_line.lower()
    assert "Some checks failed" in out


def test_config_errors_exit_2_naming_the_key(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(TEAM.replace('"coordinatrice"', "12"), encoding="utf-8")
    with pytest.raises(SystemExit) as done:
        main(["check", "--config", str(path)])
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert str(path) in err and "team.members[1].profession" in err and "imap" in err
