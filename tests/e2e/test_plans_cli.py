"""``esp-coord plans list | show | export --fhir`` on a real SQLite store that
the service's own processor filled from the example mails."""

from __future__ import annotations

import asyncio
import getpass
import json
from contextlib import AsyncExitStack
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fhir.resources.R4B.bundle import Bundle

from esp_coord.bootstrap import make_processor
from esp_coord.crypto import Keyring
from esp_coord.entrypoints.cli import main
from esp_coord.fhir_export import INS_SYSTEM
from esp_coord.offline_config import load_offline_config
from esp_coord.store import Store

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_CONFIG = ROOT / "config" / "esp.example.toml"
PARIS = ZoneInfo("Europe/Paris")
# What the service does with 01, 02 and 07, each processed a minute after it was written.
MAILS = (("01-nouveau-pps", datetime(2026, 11, 23, 9, 14, tzinfo=PARIS)),
         ("02-maj-pps-reponse", datetime(2026, 11, 24, 18, 4, tzinfo=PARIS)),
         ("07-html-outlook", datetime(2026, 11, 27, 10, 0, tzinfo=PARIS)))


def write_config(folder: Path) -> Path:
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    text = text.replace('database_url = "sqlite:///../var/esp-coord.db"',
                        f'database_url = "sqlite:///{folder / "esp.db"}"')
    text = text.replace('key_file = "../var/esp-coord.key"', f'key_file = "{folder / "esp.key"}"')
    path = folder / "esp.toml"
    path.write_text(text, encoding="utf-8")
    return path


async def fill(config_path: Path, example_messages: dict[str, bytes]) -> None:
    config = load_offline_config(config_path)
    Keyring.generate().save(config.key_file)
    store = Store(config.database_url, Keyring.load(config.key_file))
    async with AsyncExitStack() as stack:
        await store.start(stack)
        for stem, at in MAILS:
            processor = make_processor(config, store, now=lambda at=at: at)  # type: ignore[misc]
            outcome = await processor.process(example_messages[stem])
            assert outcome.outcome == "answered"


@pytest.fixture(scope="module")
def config_path(tmp_path_factory: pytest.TempPathFactory,
                example_messages: dict[str, bytes]) -> Path:
    path = write_config(tmp_path_factory.mktemp("plans-cli"))
    asyncio.run(fill(path, example_messages))
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(["plans", *args])
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


def audit_records(config_path: Path) -> list[Any]:
    async def read() -> list[Any]:
        config = load_offline_config(config_path)
        store = Store(config.database_url, Keyring.load(config.key_file))
        async with AsyncExitStack() as stack:
            await store.start(stack)
            async with store.transaction(readonly=True) as tx:
                return tx.audit_records()

    return asyncio.run(read())


def test_list(capsys: pytest.CaptureFixture[str], config_path: Path) -> None:
    code, out, _ = run(capsys, "list", "--config", str(config_path))
    lines = out.splitlines()
    assert code == 0 and len(lines) == 2
    assert lines[0].startswith("PPS-2026-0001") and "MARTIN Jeanne" in lines[0]
    assert "v2" in lines[0]  # created, then updated by 02
    assert "actions en cours" in lines[0] and "(s)" not in out
    assert lines[1].startswith("PPS-2026-0002") and "PETIT Odette" in lines[1]
    code, out, _ = run(capsys, "list", "--config", str(config_path), "--json")
    rows = json.loads(out)
    assert [(r["ref"], r["status"], r["version"]) for r in rows] == [
        ("PPS-2026-0001", "active", 2), ("PPS-2026-0002", "active", 1)]


def test_show(capsys: pytest.CaptureFixture[str], config_path: Path) -> None:
    code, out, _ = run(capsys, "show", "--config", str(config_path), "pps-2026-0001")
    assert code == 0
    assert "Plan PPS-2026-0001 - MARTIN Jeanne" in out
    assert "éducation à l'autosurveillance glycémique" in out  # the action 02 added
    assert "PETIT" not in out and "Pour répondre" not in out
    assert "IDE Julien MARIE\u00a0: patiente motivée, fille présente le mercredi" in out  # 02
    code, out, _ = run(capsys, "show", "--config", str(config_path), "--json", "PPS-2026-0001")
    plan = json.loads(out)
    assert plan["patient"]["ins"] == "248037505611878" and len(plan["versions"]) == 2
    code, out, err = run(capsys, "show", "--config", str(config_path), "PPS-2026-0099")
    assert (code, out) == (1, "") and "PPS-2026-0099" in err


def test_export_fhir_is_recorded(capsys: pytest.CaptureFixture[str], config_path: Path) -> None:
    before = len(audit_records(config_path))
    code, out, _ = run(capsys, "export", "--fhir", "--config", str(config_path), "PPS-2026-0002")
    assert code == 0
    bundle = Bundle.model_validate_json(out)
    assert bundle.type == "collection"
    patients = [e.resource for e in bundle.entry if e.resource.__resource_type__ == "Patient"]
    assert len(patients) == 1
    (identifier,) = patients[0].identifier
    assert (identifier.system, identifier.value) == (INS_SYSTEM, "241062A00402743")
    assert "MARTIN" not in out and "248037505611878" not in out
    records = audit_records(config_path)[before:]
    assert [(r.actor, r.action, r.ref) for r in records] == [
        (f"cli:{getpass.getuser()}".lower(), "cli-export", "PPS-2026-0002")]
    assert "PETIT" not in records[0].detail


def test_show_is_recorded_and_export_needs_a_format(capsys: pytest.CaptureFixture[str],
                                                    config_path: Path) -> None:
    before = len(audit_records(config_path))
    run(capsys, "show", "--config", str(config_path), "PPS-2026-0001")
    assert [r.action for r in audit_records(config_path)[before:]] == ["cli-show"]
    with pytest.raises(SystemExit) as exited:
        main(["plans", "export", "--config", str(config_path), "PPS-2026-0001"])
    assert exited.value.code == 2  # argparse: --fhir is required


def test_no_database_is_not_created(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write_config(tmp_path)
    Keyring.generate().save(tmp_path / "esp.key")
    code, out, err = run(capsys, "list", "--config", str(path))
    assert (code, out) == (2, "") and "no database" in err
    assert not (tmp_path / "esp.db").exists()
