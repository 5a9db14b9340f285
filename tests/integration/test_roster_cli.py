"""``esp-coord roster import|check`` on an extraction file and the example team's configuration."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from esp_coord.entrypoints.cli import main
from esp_coord.offline_config import load_offline_config
from tests.support.annuaire import HUGO, MARC, Row, example_rows, write
from tests.support.config import offline_config
from tests.support.paths import EXAMPLE_CONFIG

TEAM = offline_config()  # the example team: config/esp.example.toml
WITH_RPPS = [m for m in TEAM.members if m.rpps]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(["roster", *argv])
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


@pytest.fixture
def extraction(tmp_path: Path) -> Path:
    return write(tmp_path, example_rows())


def team_config(folder: Path, members_toml: str | None = None, **emails: str) -> Path:
    """The example configuration, its members replaced by ``members_toml``,
    or with some addresses changed (``old="new"``)."""
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    if members_toml is not None:
        head, _, rest = text.partition("[[team.members]]")
        text = head + members_toml + "\n\n[imap]" + rest.partition("\n[imap]")[2]
    for old, new in emails.items():
        text = text.replace(old, new)
    path = folder / "team.toml"
    path.write_text(text, encoding="utf-8")
    return path


def members(out: str) -> list[dict[str, str]]:
    entries = tomllib.loads(out)["team"]["members"]
    assert isinstance(entries, list)
    return entries


def test_import_proposes_the_example_team_ready_to_paste(
        capsys: pytest.CaptureFixture[str], extraction: Path, tmp_path: Path) -> None:
    args = [a for m in WITH_RPPS for a in ("--rpps", str(m.rpps))]
    status, out, err = run(capsys, "import", str(extraction), *args)
    assert (status, err) == (0, "")
    assert members(out) == [{"name": m.name, "email": m.email, "profession": m.profession,
                             "rpps": m.rpps} for m in WITH_RPPS]
    # Claire DURAND has two addresses: both listed, one proposed, and why.
    assert "2 personal addresses" in out and out.count("<- proposed") == 1
    assert "where the rest of the team works" in out
    assert "1 a wrong number of columns, 1 not UTF-8" in out
    assert "# 6 proposed, 1 with several addresses to confirm, 0 not found." in out
    # Pasted into the team's file, it is a valid configuration of the same people.
    pasted = load_offline_config(team_config(tmp_path, out))
    assert [(m.name, m.email, m.profession, m.rpps) for m in pasted.members] == [
        (m.name, m.email, m.profession, m.rpps) for m in WITH_RPPS]


def test_an_rpps_not_found_is_said_and_exits_1(capsys: pytest.CaptureFixture[str],
                                               extraction: Path) -> None:
    status, out, _ = run(capsys, "import", str(extraction), "--rpps", "10012733985",
                         "--rpps", "100 0000 0009")
    assert status == 1
    assert "# RPPS 10000000009: not in the extraction" in out
    assert [m["email"] for m in members(out)] == ["paul.girard@medecin.mssante.test"]


def test_by_name_and_department_several_people_are_all_shown(
        capsys: pytest.CaptureFixture[str], extraction: Path) -> None:
    status, out, _ = run(capsys, "import", str(extraction), "--name", "DURAND",
                         "--postcode", "42")
    assert status == 0 and '# "DURAND" at 42: 2 people: keep the right one.' in out
    assert [m["rpps"] for m in members(out)] == ["10008456237", MARC]
    # The postcode asked for chooses among Claire DURAND's addresses.
    assert members(out)[0]["email"] == "claire.durand@medecin.mssante.test"
    # Someone asked for twice is proposed once.
    status, out, _ = run(capsys, "import", str(extraction), "--rpps", "10008456237",
                         "--name", "DURAND", "--postcode", "42")
    assert status == 0 and '# "DURAND" at 42: 2 people, 1 already above.' in out
    assert [m["rpps"] for m in members(out)] == ["10008456237", MARC]


def test_the_plain_text_file_and_a_name_nobody_has(capsys: pytest.CaptureFixture[str],
                                                   tmp_path: Path) -> None:
    text = write(tmp_path, example_rows(), zip=False)
    status, out, _ = run(capsys, "import", str(text), "--name", "Paul Girard", "--name",
                         "NOBODY", "--postcode", "42110")
    assert status == 1 and '# "NOBODY" at 42110: nobody found.' in out
    assert '# "Paul Girard" at 42110: 1 person.' in out
    assert [m["name"] for m in members(out)] == ["Paul GIRARD"]


def test_a_profession_the_roster_lacks_is_marked_not_guessed(
        capsys: pytest.CaptureFixture[str], extraction: Path) -> None:
    status, out, _ = run(capsys, "import", str(extraction), "--rpps", HUGO)
    assert status == 0 and "The roster has no profession for this one" in out
    assert members(out)[0]["profession"] == "UNKNOWN: Chirurgien-Dentiste (code 40)"


@pytest.mark.parametrize("argv", [
    ["--rpps", "10008456238"],  # wrong Luhn key
    ["--name", "DURAND"],  # no postcode
    ["--name", "A", "--name", "B", "--name", "C", "--postcode", "42", "--postcode", "69"],
    [],
])
def test_wrong_arguments_exit_2(capsys: pytest.CaptureFixture[str], extraction: Path,
                                argv: list[str]) -> None:
    status, out, err = run(capsys, "import", str(extraction), *argv)
    assert (status, out) == (2, "") and err.startswith("esp-coord: ")


def test_an_unreadable_or_foreign_file_exits_2(capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path) -> None:
    status, _, err = run(capsys, "import", str(tmp_path / "none.zip"), "--rpps", HUGO)
    assert status == 2 and "none.zip: cannot be read" in err
    foreign = tmp_path / "PS_LibreAcces_Personne_activite.txt"
    foreign.write_text("Type d'identifiant PP|Identifiant PP|Nom d'exercice\n", "utf-8")
    status, _, err = run(capsys, "check", str(foreign), "--config", str(EXAMPLE_CONFIG))
    assert status == 2 and "not an Extraction_Correspondance_MSSante file" in err


def test_check_the_example_team_against_the_extraction(
        capsys: pytest.CaptureFixture[str], extraction: Path) -> None:
    status, out, _ = run(capsys, "check", str(extraction), "--config", str(EXAMPLE_CONFIG))
    assert status == 0
    assert out.count("\nok ") == len(TEAM.members)
    assert f"{len(TEAM.members)} roster addresses: {len(TEAM.members)} still listed" in out


def test_check_finds_stale_and_changed_addresses(capsys: pytest.CaptureFixture[str],
                                                 tmp_path: Path) -> None:
    karim = "karim.benali@mk.mssante.test"
    rows = [r.__class__(**{**r.__dict__, "address": "karim.benali@cabinet-mk.mssante.test"})
            if isinstance(r, Row) and r.address == karim else r for r in example_rows()]
    # Karim BENALI's old address is now the practice's, not his.
    rows.append(Row(karim, kind="ORG", organisation="CABINET DE KINESITHERAPIE"))
    config = team_config(tmp_path, **{"paul.girard@medecin": "paul.girard@ancien"})
    status, out, _ = run(capsys, "check", str(write(tmp_path, rows)), "--config", str(config))
    assert status == 1
    assert ("MISSING  Paul GIRARD <paul.girard@ancien.mssante.test>: no longer in the "
            "extraction; RPPS 10012733985 now has paul.girard@medecin.mssante.test.") in out
    assert (f"CHANGED  Karim BENALI <{karim}>: still listed, but RPPS 10003312872 now has "
            "karim.benali@cabinet-mk.mssante.test.") in out
    assert f"{len(TEAM.members)} roster addresses: {len(TEAM.members) - 2} still listed" in out


def test_check_with_an_unreadable_config_exits_2(capsys: pytest.CaptureFixture[str],
                                                 extraction: Path, tmp_path: Path) -> None:
    status, out, err = run(capsys, "check", str(extraction), "--config",
                           str(tmp_path / "none.toml"))
    assert (status, out) == (2, "") and "does not exist" in err
