"""The configuration file: the example loads, mistakes are named precisely."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest

from esp_coord.config import ConfigError, config_from_dict, domain_is_trusted, load_config
from tests.servers.tls import TLSMaterial

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "esp.example.toml"


@pytest.fixture
def example_data() -> dict:
    return tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))


@pytest.fixture
def example_file(tmp_path: Path, tls_material: TLSMaterial) -> Path:
    """The example as an operator installs it: with the IGC-Santé chain it names."""
    shutil.copy(tls_material.ca_file, tmp_path / "igc-sante-chain.pem")
    path = tmp_path / "esp.toml"
    path.write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    return path


def test_example_config_loads_with_the_example_team(monkeypatch: pytest.MonkeyPatch,
                                                    example_file: Path) -> None:
    monkeypatch.setenv("ESP_COORD_IMAP_PASSWORD", "imap-secret")
    monkeypatch.setenv("ESP_COORD_SMTP_PASSWORD", "smtp-secret")
    config = load_config(example_file)
    assert config.team_name == "ESP du Val de Lorge"
    assert config.timezone.key == "Europe/Paris"
    assert [m.name for m in config.members][:2] == ["Claire DURAND", "Paul GIRARD"]
    assert config.member("ANA.COSTA@esp-valdelorge.mssante.test").is_coordinator
    assert config.member("claire.durand@medecin.mssante.test").is_referent
    assert config.imap.password == "imap-secret" and config.smtp.password == "smtp-secret"
    assert "imap-secret" not in repr(config.imap)
    assert config.folders.processed == "Traités"
    # What MSSanté asks by default: TLS 1.2 only, revocation checked.
    assert config.imap.tls_versions == config.smtp.tls_versions == "1.2"
    assert config.imap.revocation == config.smtp.revocation == "required"
    assert config.imap.ca_file == example_file.parent / "igc-sante-chain.pem"
    assert config.imap.crl_cache == example_file.parent / ".." / "var" / "crl"


def test_roster_matches_the_shared_example_team(monkeypatch: pytest.MonkeyPatch,
                                               example_file: Path) -> None:
    import csv

    monkeypatch.setenv("ESP_COORD_IMAP_PASSWORD", "x")
    monkeypatch.setenv("ESP_COORD_SMTP_PASSWORD", "y")
    config = load_config(example_file)
    with (ROOT / "config" / "examples" / "roster.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert {(r["email"], r["rpps"] or None) for r in rows} == {
        (m.email, m.rpps) for m in config.members}


def test_every_mistake_is_named_with_file_key_and_expectation(example_data: dict) -> None:
    example_data["team"]["timezone"] = "Europe/Lorge"
    example_data["team"]["members"][0]["rpps"] = "10008456238"   # Luhn key broken
    example_data["team"]["members"][1]["email"] = "paul@gmail.com"
    example_data["imap"]["security"] = "tls-please"
    example_data["smtp"]["port"] = 70000
    example_data["imap"]["password"] = "inline"
    with pytest.raises(ConfigError) as info:
        config_from_dict(example_data, path=Path("/etc/esp/team.toml"))
    err = info.value
    text = str(err)
    assert "/etc/esp/team.toml" in text
    keys = " ".join(err.problems)
    for key in ("team.timezone", "team.members[1].rpps", "team.members[2].email",
                "imap.security", "smtp.port", "imap.password", "imap.password_env"):
        assert f"'{key}" in keys or key in keys, key
    assert "Luhn" in keys
    assert "inline" not in keys.replace("no inline password", "")


def test_missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "absent.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[team\nname = 1", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_password_from_file_relative_to_the_config(tmp_path: Path, example_data: dict) -> None:
    (tmp_path / "imap.pw").write_text("from-file\n", encoding="utf-8")
    (tmp_path / "ca.pem").write_text("", encoding="utf-8")
    example_data["imap"] = {"host": "h", "username": "u", "password_file": "imap.pw",
                            "ca_file": "ca.pem"}
    example_data["smtp"] = {"host": "h", "security": "implicit", "auth": "none",
                            "ca_file": "ca.pem"}
    config = config_from_dict(example_data, path=tmp_path / "c.toml")
    assert config.imap.password == "from-file"
    assert config.imap.port == 143 and config.smtp.port == 465


@pytest.mark.parametrize("address, trusted", [
    ("a@medecin.mssante.test", True),
    ("a@x.y.mssante.test", True),
    ("a@mssante.test", False),
    ("a@x.mssante.test.evil.test", False),
    ("a@evilmssante.test", False),
    ("no-at-sign", False),
])
def test_trusted_domains_compare_labels(address: str, trusted: bool) -> None:
    assert domain_is_trusted(address, ("*.mssante.test",)) is trusted


def test_mssante_transport_rules_are_enforced(tmp_path: Path, example_data: dict) -> None:
    (tmp_path / "ca.pem").write_text("", encoding="utf-8")
    example_data["imap"] = {"host": "imap.operateur.test", "security": "none", "auth": "none"}
    example_data["smtp"] = {"host": "smtp.operateur.test", "auth": "none",
                            "tls_versions": "1.1", "revocation": "never"}
    with pytest.raises(ConfigError) as info:
        config_from_dict(example_data, path=tmp_path / "c.toml")
    text = str(info.value)
    assert "imap.security" in text and "only allowed to a server on this machine" in text
    assert "smtp.ca_file" in text and "IGC-Santé" in text
    assert "smtp.tls_versions" in text and "'1.2+'" in text
    assert "smtp.revocation" in text and "'when-named'" in text
    # A relay on this machine may be reached without TLS, and needs no CA.
    example_data["imap"] = {"host": "127.0.0.1", "security": "none", "auth": "none"}
    example_data["smtp"] = {"host": "smtp.operateur.test", "auth": "none", "ca_file": "ca.pem",
                            "tls_versions": "1.2+", "revocation": "when-named"}
    config = config_from_dict(example_data, path=tmp_path / "c.toml")
    assert config.smtp.tls_versions == "1.2+" and config.smtp.revocation == "when-named"


def test_professions_are_the_ones_the_service_knows(example_data: dict) -> None:
    example_data["team"]["members"][2]["profession"] = "IDE"        # a synonym: canonical
    example_data["team"]["members"][3]["profession"] = "plombier"
    example_data["imap"] = example_data["smtp"] = {"host": "127.0.0.1", "security": "none",
                                                   "auth": "none"}
    with pytest.raises(ConfigError) as info:
        config_from_dict(example_data, path=EXAMPLE)
    assert "team.members[4].profession" in str(info.value) and "plombier" in str(info.value)
    assert "team.members[3]" not in str(info.value)
    example_data["team"]["members"][3]["profession"] = "pharmacien"
    config = config_from_dict(example_data, path=EXAMPLE)
    assert config.members[2].profession == "infirmier"
