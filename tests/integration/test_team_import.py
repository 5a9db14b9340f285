"""A team that ran alone on SQLite moves onto a platform (``esp-coord import``).

The source is the report's scripted history (a plan, a meeting with calendar
answers and minutes, a FAIT, a stranger quarantined, an answer sent) written
by the service's own processor; the platform already serves another team,
whose ids overlap. After the move the team's report is the same figure for
figure, its audit chain verifies with the same head, its plan reads with its
key, and the other team sees nothing of it; a second move, a wrong key or a
platform behind the schema move nothing.
"""

from __future__ import annotations

import dataclasses
import fcntl
from contextlib import AsyncExitStack
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from esp_coord.bootstrap import make_processor
from esp_coord.config import Config, load_config
from esp_coord.crypto import Keyring
from esp_coord.entrypoints.cli import main
from esp_coord.plan_repo import KIND
from esp_coord.report.gather import build_report
from esp_coord.store import Store
from esp_coord.store.engine import make_engine
from esp_coord.store.errors import KeyMismatch
from esp_coord.store.transfer import TransferRefused, transfer_team
from plans.model import Plan
from plans.periods import parse_period
from tests.servers.tls import TLSMaterial
from tests.support.config import offline_config
from tests.support.mail import example
from tests.support.platform import PlatformDb, offline_team_file, platform_db
from tests.support.report_history import THEMES, scripted_history
from tests.support.store import postgres_user

__all__ = ["platform_db", "postgres_user"]
pytestmark = pytest.mark.postgres

TEAM = "esp-val-de-lorge"
T4 = parse_period("T4 2026", today=date(2027, 1, 5))


async def on_platform(config: Config, keyring: Keyring, db: PlatformDb, fn):  # type: ignore[no-untyped-def]
    async with AsyncExitStack() as stack:
        # As a worker connects: row level security applies (not to a superuser).
        store = Store(db.worker_url, keyring, team=config.team_id,
                      engine_options=db.options())
        await store.start(stack)
        return await store.run(fn)


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    captured = capsys.readouterr()
    return int(exit_.value.code or 0), captured.out + captured.err


async def test_a_team_moves_from_sqlite_onto_the_platform_with_everything_it_had(
        tmp_path: Path, tls_material: TLSMaterial, platform_db: PlatformDb,
        capsys: pytest.CaptureFixture[str]) -> None:
    keyring = Keyring.generate()
    keyring.save(tmp_path / "esp.key")
    alone = offline_config(tmp_path, key_file=tmp_path / "esp.key", themes=THEMES)
    before, _ = await scripted_history(alone, keyring, T4)
    async with AsyncExitStack() as stack:
        source = Store(alone.database_url, keyring)
        await source.start(stack)
        chain = await source.run(lambda tx: tx.verify_audit())

    # Another team on the platform first: its ids come before the new ones.
    other = dataclasses.replace(alone, team_id="esp-sud")
    other_key = Keyring.generate()
    async with AsyncExitStack() as stack:
        store = Store(platform_db.worker_url, other_key, team="esp-sud",
                      engine_options=platform_db.options())
        await store.start(stack)
        processor = make_processor(other, store, now=lambda: datetime(2026, 11, 23, 10, 0,
                                                                      tzinfo=UTC))
        async with processor.batch():
            await processor.process(example("01-nouveau-pps.eml"))

    # The team's file in the platform's folder: its id, the platform, the same key.
    path = offline_team_file(tmp_path, TEAM, database_url=platform_db.search_path_url,
                             ca_file=tls_material.ca_file)
    with (tmp_path / "esp.db").open("rb") as serving:  # as a serve still running holds it
        fcntl.flock(serving, fcntl.LOCK_EX)
        code, said = run(["import", "--config", str(path), "--from",
                          str(tmp_path / "esp.db")], capsys)
    assert code == 1 and "still uses" in said and "stop it first" in said
    code, said = run(["import", "--config", str(path), "--from", str(tmp_path / "esp.db")],
                     capsys)
    assert code == 0, said
    assert f"Team {TEAM}:" in said and "rows moved onto the platform" in said
    assert "MARTIN" not in said

    config = load_config(path, default_id=TEAM)
    assert config.team_id == TEAM
    # The same team as before (its themes too), under its platform id.
    moved = dataclasses.replace(alone, team_id=TEAM)
    after = await on_platform(moved, keyring, platform_db,
                              lambda tx: build_report(tx, moved, T4))
    assert [(f.key, f.value, f.breakdown) for s in after.sections for f in s.figures] == [
        (f.key, f.value, f.breakdown) for s in before.sections for f in s.figures]
    moved_chain = await on_platform(config, keyring, platform_db,
                                    lambda tx: tx.verify_audit())
    assert moved_chain.intact and moved_chain.head == chain.head and chain.head[0] > 5
    plan = await on_platform(config, keyring, platform_db,
                             lambda tx: tx.load_document(KIND, "PPS-2026-0001"))
    assert Plan.from_dict(plan.data).patient.family_name == "MARTIN"
    # Its indexes and members followed it to its new id.
    ins = Plan.from_dict(plan.data).patient.ins
    found = await on_platform(moved, keyring, platform_db, lambda tx: (
        tx.find_documents(KIND, blind=("ins", ins)),
        tx.find_documents(KIND, member="julien.marie@infirmier.mssante.test")))
    assert [[d.ref for d in docs] for docs in found] == [["PPS-2026-0001"]] * 2

    # The other team: its own plan, and not one row more.
    theirs = await on_platform(other, other_key, platform_db,
                               lambda tx: tx.find_documents(KIND))
    assert [d.ref for d in theirs] == ["PPS-2026-0001"]
    engine = make_engine(platform_db.worker_url, busy_timeout=5, options=platform_db.options())
    try:
        with engine.begin() as conn:
            conn.execute(text("SELECT set_config('app.team', 'esp-sud', true)"))
            assert conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one() < 5
    finally:
        engine.dispose()

    # Once only.
    code, said = run(["import", "--config", str(path), "--from", str(tmp_path / "esp.db")],
                     capsys)
    assert code == 1 and f"team {TEAM} already has rows" in said and "nothing moved" in said


async def test_a_wrong_key_or_an_old_platform_moves_nothing(
        tmp_path: Path, platform_db: PlatformDb) -> None:
    keyring = Keyring.generate()
    alone = offline_config(tmp_path, key_file=tmp_path / "esp.key")
    await scripted_history(alone, keyring, T4)
    with pytest.raises(KeyMismatch):
        transfer_team(alone.database_url, platform_db.admin_url, team=TEAM,
                      keyring=Keyring.generate(), target_options=platform_db.options())
    with pytest.raises(TransferRefused, match="a platform is on PostgreSQL"):
        transfer_team(alone.database_url, f"sqlite:///{tmp_path / 'other.db'}", team=TEAM,
                      keyring=keyring)
    engine = make_engine(platform_db.admin_url, busy_timeout=5, options=platform_db.options())
    try:
        with engine.begin() as conn:
            conn.execute(text("SELECT set_config('app.team', :t, true)"), {"t": TEAM})
            assert conn.execute(text("SELECT count(*) FROM documents")).scalar_one() == 0
            conn.execute(text("UPDATE alembic_version SET version_num = '0008'"))
    finally:
        engine.dispose()
    with pytest.raises(TransferRefused, match="schema at revision 0008.*esp-coord migrate"):
        transfer_team(alone.database_url, platform_db.admin_url, team=TEAM, keyring=keyring,
                      target_options=platform_db.options())
