"""Teams on one PostgreSQL database: row security, per-team keys, leases, fencing.

The stores connect as a worker role (neither owner nor superuser), as in
production, so that these tests see what row level security lets through.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from esp_coord.crypto import DecryptionError, Keyring
from esp_coord.platform import leases
from esp_coord.store import Store, Tx
from esp_coord.store.database import Database
from esp_coord.store.documents import _document_context as document_context
from esp_coord.store.engine import make_engine
from esp_coord.store.outbox import _context as outbox_context
from esp_coord.store.teams import Fence, LeaseLost
from tests.support.platform import PlatformDb, platform_db
from tests.support.store import call

__all__ = ["platform_db"]
pytestmark = pytest.mark.postgres

T0 = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
PLAN = {"patient": {"name": "MARTIN Jeanne", "ins": "248037505611878"}}
TEAM_TABLES = ("processed_mail", "outbox", "documents", "document_blind", "document_members",
               "document_history", "audit_log", "audit_head", "reminders", "key_fingerprints",
               "counters", "bounced_addresses", "received_documents")


@pytest.fixture
async def database(platform_db: PlatformDb) -> AsyncIterator[Database]:
    async with AsyncExitStack() as stack:
        db = Database(platform_db.worker_url, engine_options=platform_db.options())
        await db.start(stack)
        yield db


async def started(stack: AsyncExitStack, db: Database, team: str, keyring: Keyring,
                  fence: Fence | None = None) -> Store:
    store = db.store(team, keyring, fence=fence)
    await store.start(stack)
    return store


def write_everything(tx: Tx) -> None:
    """A row in every table a mail's handling writes."""
    number = tx.next_number("pps", 2026)
    ref = f"PPS-2026-{number:04d}"
    tx.save_document(kind="pps", ref=ref, data=PLAN, status="active", expected_version=None,
                     at=T0, blind={"ins": "248037505611878"}, members=["ana@x.test"])
    tx.record_processed(dedup_key="k1", message_id="<m1@x.test>", sender="ana@x.test",
                        outcome="answered", folder="Processed", at=T0)
    tx.enqueue(message_id="<a1@bot.test>", sender="bot@x.test", recipients=["ana@x.test"],
               raw=b"Bonjour", at=T0)
    tx.audit("ana@x.test", "create", ref, "<m1@x.test>", "created", T0)
    tx.record_bounce(message_id="<a1@bot.test>", recipient="ana@x.test", status="5.1.1",
                     diagnostic="unknown", at=T0, renotify_after=timedelta(days=7))


async def test_each_team_reads_and_writes_only_its_own_rows(database: Database,
                                                            platform_db: PlatformDb) -> None:
    a_key, b_key = Keyring.generate(), Keyring.generate()
    async with AsyncExitStack() as stack:
        a = await started(stack, database, "team-a", a_key)
        b = await started(stack, database, "team-b", b_key)
        await a.run(write_everything)
        # Team b sees none of it: the same keys and references are free for it.
        assert await b.run(call(Tx.load_document, "pps", "PPS-2026-0001")) is None
        assert await b.run(call(Tx.processed, "k1")) is None
        assert await b.run(call(Tx.outbox_due, T0 + timedelta(days=1))) == []
        assert await b.run(call(Tx.audit_records)) == []
        assert await b.run(call(Tx.address_bounces, "ana@x.test")) is None
        assert await b.run(call(Tx.find_documents, "pps")) == []
        # Its own numbering and audit chain start afresh.
        await b.run(write_everything)
        assert (await b.run(call(Tx.load_document, "pps", "PPS-2026-0001"))) is not None
        assert (await b.run(lambda tx: tx.verify_audit())).intact
        assert (await a.run(lambda tx: tx.verify_audit())).intact
        assert len(await a.run(call(Tx.audit_records))) == 1

    # Without a team, the worker role sees no row of any team table at all,
    # and it cannot write a row for another team than the one it set.
    engine = make_engine(platform_db.worker_url, busy_timeout=5, options=platform_db.options())
    try:
        with engine.connect() as conn:
            for table in TEAM_TABLES:
                assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 0
            conn.execute(text("SELECT set_config('app.team', 'team-b', true)"))
            teams = conn.execute(text("SELECT DISTINCT team FROM documents")).scalars().all()
            assert teams == ["team-b"]
            with pytest.raises(ProgrammingError, match="row-level security"):
                conn.execute(text("INSERT INTO counters (team, kind, year, value) "
                                  "VALUES ('team-a', 'x', 2026, 1)"))
    finally:
        engine.dispose()


async def test_a_row_leaked_from_one_team_is_unreadable_with_another_teams_key(
        database: Database, platform_db: PlatformDb) -> None:
    a_key, b_key = Keyring.generate(), Keyring.generate()
    async with AsyncExitStack() as stack:
        a = await started(stack, database, "team-a", a_key)
        await a.run(write_everything)
    engine = make_engine(platform_db.admin_url, busy_timeout=5, options=platform_db.options())
    try:
        with engine.connect() as conn:  # the owner's view: every team's rows
            token = conn.execute(text("SELECT data_enc FROM documents")).scalar_one()
            raw = conn.execute(text("SELECT raw_enc FROM outbox")).scalar_one()
    finally:
        engine.dispose()
    assert a_key.decrypt(bytes(token), context=document_context("pps", "PPS-2026-0001", 1))
    for key in (b_key, Keyring.generate()):
        with pytest.raises(DecryptionError):
            key.decrypt(bytes(token), context=document_context("pps", "PPS-2026-0001", 1))
        with pytest.raises(DecryptionError):
            key.decrypt(bytes(raw), context=outbox_context("<a1@bot.test>"))


def platform(db: PlatformDb) -> Any:
    return make_engine(db.worker_url, busy_timeout=5, options=db.options())


async def test_a_lease_is_granted_to_one_worker_and_each_grant_has_a_new_token(
        platform_db: PlatformDb) -> None:
    engine = platform(platform_db)
    ttl = timedelta(seconds=30)
    try:
        with engine.begin() as conn:
            leases.register(conn, "w1", "h", 1)
            leases.register(conn, "w2", "h", 2)
            leases.ensure_teams(conn, ["t1", "t2"])
        with engine.begin() as conn:
            first = leases.acquire(conn, "t1", "w1", ttl)
        with engine.begin() as conn:
            assert leases.acquire(conn, "t1", "w2", ttl) is None  # held
            assert leases.renew(conn, "t1", "w1", first or 0, ttl)
            assert not leases.renew(conn, "t1", "w2", first or 0, ttl)
            assert not leases.renew(conn, "t1", "w1", (first or 0) + 1, ttl)
        with engine.begin() as conn:
            leases.release(conn, "t1", "w1", first or 0)
        with engine.begin() as conn:
            second = leases.acquire(conn, "t1", "w2", ttl)
        assert first is not None and second == first + 1
        with engine.begin() as conn:
            snap = leases.snapshot(conn, ttl)
        assert snap.live_workers == ["w1", "w2"]
        assert snap.held() == {"w1": [], "w2": ["t1"]}
        with engine.begin() as conn:
            leases.forget(conn, "w2")
            snap = leases.snapshot(conn, ttl)
        assert snap.live_workers == ["w1"] and not any(lease.live for lease in snap.leases)
    finally:
        engine.dispose()


async def test_a_worker_that_lost_its_lease_commits_nothing(database: Database,
                                                            platform_db: PlatformDb) -> None:
    engine = platform(platform_db)
    lost: list[str] = []
    try:
        with engine.begin() as conn:
            leases.ensure_teams(conn, ["team-a"])
            token = leases.acquire(conn, "team-a", "w1", timedelta(seconds=30))
        assert token is not None
        fence = Fence("team-a", "w1", token, on_lost=lambda: lost.append("lost"))
        async with AsyncExitStack() as stack:
            store = await started(stack, database, "team-a", Keyring.generate(), fence)
            await store.run(call(Tx.next_number, "pps", 2026))  # held: commits
            # w1 is paused past its lease; w2 takes the team over.
            with engine.begin() as conn:
                conn.execute(text("UPDATE team_leases SET expires_at = now() "
                                  "WHERE team = 'team-a'"))
                assert leases.acquire(conn, "team-a", "w2", timedelta(seconds=30)) == token + 1
            with pytest.raises(LeaseLost):
                await store.run(call(Tx.next_number, "pps", 2026))
            batch = store.batch()  # a batch's commit too
            try:
                await batch.run(call(Tx.next_number, "pps", 2026))
                with pytest.raises(LeaseLost):
                    await batch.commit()
            finally:
                batch.close()
            assert lost == ["lost", "lost"]
            # The new holder's numbering goes on from the last commit: 2.
            new = await started(stack, database, "team-a", store.keyring,
                                Fence("team-a", "w2", token + 1))
            assert await new.run(call(Tx.next_number, "pps", 2026)) == 2
    finally:
        engine.dispose()


async def test_a_worker_whose_schema_is_behind_refuses_to_start(
        platform_db: PlatformDb) -> None:
    admin = make_engine(platform_db.admin_url, busy_timeout=5, options=platform_db.options())
    try:
        with admin.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '0008'"))
    finally:
        admin.dispose()
    from esp_coord.store import StoreUnavailable

    async with AsyncExitStack() as stack:
        db = Database(platform_db.worker_url, engine_options=platform_db.options())
        with pytest.raises(StoreUnavailable, match="esp-coord migrate"):
            await db.start(stack)
