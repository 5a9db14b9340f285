"""``esp-coord audit verify|show`` on a real SQLite database: output and exit codes."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from esp_coord.crypto import Keyring
from esp_coord.entrypoints.cli import main
from esp_coord.store import Store

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 23, 8, 12, 44, tzinfo=UTC)
ANA = "ana.costa@esp-valdelorge.mssante.test"


def write_config(tmp_path: Path) -> Path:
    text = (ROOT / "config" / "esp.example.toml").read_text(encoding="utf-8")
    head, _, _ = text.partition("[storage]")
    path = tmp_path / "esp.toml"
    path.write_text(head + '[storage]\ndatabase_url = "sqlite:///var/esp.db"\n'
                    'key_file = "var/esp.key"\n', encoding="utf-8")
    return path


async def _fill(db: Path, n: int) -> None:
    async with AsyncExitStack() as stack:
        store = Store(f"sqlite:///{db}", Keyring.generate())
        await store.start(stack)
        for i in range(n):
            await store.run(lambda tx, i=i: tx.audit(
                ANA, "status", f"PPS-2026-000{i % 2 + 1}", f"<m{i}@x.test>", f"version {i}",
                T0 + timedelta(minutes=i)))


@pytest.fixture
def team_db(tmp_path: Path) -> tuple[Path, Path]:
    config = write_config(tmp_path)
    db = tmp_path / "var" / "esp.db"
    asyncio.run(_fill(db, 5))
    return config, db


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        main(list(argv))
    out, err = capsys.readouterr()
    return int(done.value.code or 0), out, err


def test_verify_reports_an_intact_chain_and_its_head(team_db, capsys) -> None:
    config, _ = team_db
    code, out, _ = run(capsys, "audit", "verify", "--config", str(config))
    assert code == 0
    assert "5 records, chain intact." in out
    head = re.search(r"Head: (5:[0-9a-f]{64})", out)
    assert head is not None
    code, out, _ = run(capsys, "audit", "verify", "--config", str(config),
                       "--anchor", head.group(1))
    assert code == 0 and "Anchor 5 found" in out


@pytest.mark.parametrize(("tampering", "broken", "reason"), [
    ("UPDATE audit_log SET detail = 'version 7' WHERE id = 2", 2, "edited"),
    ("DELETE FROM audit_log WHERE id = 3", 4, "record 3 is missing"),
    ("DELETE FROM audit_log WHERE id = 5", 5, "deleted"),
], ids=["edited", "deleted", "last-deleted"])
def test_verify_names_the_broken_record(team_db, capsys, tampering: str, broken: int,
                                        reason: str) -> None:
    config, db = team_db
    with sqlite3.connect(db) as conn:
        conn.execute(tampering)
    code, out, _ = run(capsys, "audit", "verify", "--config", str(config))
    assert code == 1
    assert f"BROKEN at record {broken}" in out and reason in out


def test_verify_refuses_bad_input_with_exit_2(tmp_path: Path, capsys) -> None:
    config = write_config(tmp_path)
    # No database yet: not silently created and reported as an empty chain.
    code, _, err = run(capsys, "audit", "verify", "--config", str(config))
    assert code == 2 and "no database" in err
    assert not (tmp_path / "var" / "esp.db").exists()
    code, _, err = run(capsys, "audit", "verify", "--config", str(tmp_path / "nope.toml"))
    assert code == 2
    code, _, err = run(capsys, "audit", "verify", "--config", str(config), "--anchor", "x")
    assert code == 2 and "--anchor" in err


def test_show_lists_one_plan_one_line_per_record(team_db, capsys) -> None:
    config, _ = team_db
    code, out, _ = run(capsys, "audit", "show", "pps-2026-0002", "--config", str(config))
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 2
    first = lines[0].split("\t")
    # Local time of the team (Europe/Paris), actor, action, detail, source mail.
    assert first == ["#2", "2026-11-23 09:13:44 CET", ANA, "status", "PPS-2026-0002",
                     "version 1", "<m1@x.test>"]
    assert lines[1].startswith("#4\t")
    code, out, err = run(capsys, "audit", "show", "PPS-2026-0999", "--config", str(config))
    assert code == 1 and out == "" and "No audit record" in err


def test_show_by_actor_everywhere_or_on_one_plan(team_db, capsys) -> None:
    config, db = team_db
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE audit_log SET actor = 'lea@x.test' WHERE id = 3")
    code, out, _ = run(capsys, "audit", "show", "--actor", ANA, "--config", str(config))
    assert code == 0 and [line.split("\t")[0] for line in out.splitlines()] == [
        "#1", "#2", "#4", "#5"]
    code, out, _ = run(capsys, "audit", "show", "PPS-2026-0001", "--actor", "LEA@x.test",
                       "--config", str(config))
    assert code == 0 and [line.split("\t")[0] for line in out.splitlines()] == ["#3"]
    code, _, err = run(capsys, "audit", "show", "--config", str(config))
    assert code == 2 and "REF" in err
