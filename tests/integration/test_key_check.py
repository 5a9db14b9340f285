"""The store refuses a key file other than the one that wrote the database, on
SQLite and PostgreSQL, before it writes or migrates anything; SQLite files are
private (mode 0600)."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection, inspect, text

from esp_coord.crypto import DecryptionError, Keyring
from esp_coord.store import KeyMismatch, Store, Tx
from esp_coord.store.engine import MIGRATIONS, make_engine
from tests.support.store import Backend, call

TEAM_TABLES = ("processed_mail", "outbox", "documents", "document_blind", "document_members",
               "document_history", "audit_log", "audit_head", "reminders")

T0 = datetime(2026, 11, 23, 8, 15, tzinfo=UTC)
INS = "248037505611878"
PLAN = {"patient": {"name": "MARTIN Jeanne", "ins": INS, "birth": "1948-03-07"}}


def ring(keys: dict[int, bytes], index: bytes, current: int | None = None) -> Keyring:
    return Keyring(keys=keys, current=current or max(keys), index_key=index)


K1, K1_OTHER, K2, K2_OTHER, IDX, IDX_OTHER = (os.urandom(32) for _ in range(6))
A = ring({1: K1}, IDX)  # the key file that wrote the database
B = ring({1: K1_OTHER}, IDX_OTHER)  # another team's (or a fresh keygen's) key file
A_ROTATED = ring({1: K1, 2: K2}, IDX)  # A after keygen --rotate
SECRETS = [K1, K1_OTHER, K2, K2_OTHER, IDX, IDX_OTHER]


def secret_spellings() -> list[str]:
    return [s for key in SECRETS for s in (key.hex(), base64.b64encode(key).decode())]


async def save_plan(store: Store, ref: str, ins: str = INS) -> None:
    await store.run(call(Tx.save_document, kind="plan", ref=ref, data=PLAN, status="active",
                         expected_version=None, at=T0, blind={"ins": ins},
                         members=["ana@x.test"]))


async def started(backend: Backend, keyring: Keyring) -> AsyncExitStack:
    stack = AsyncExitStack()
    store = backend.store(keyring)
    await store.start(stack)
    stack.store = store  # type: ignore[attr-defined]
    return stack


async def snapshot(backend: Backend) -> dict[str, Any]:
    """Every table's rows (and, on SQLite, the file's bytes and the folder)."""
    engine = make_engine(backend.url, busy_timeout=5, options=backend.options)
    try:
        with engine.connect() as conn:
            tables = {name: sorted(map(tuple, conn.execute(text(f'SELECT * FROM "{name}"'))),
                                   key=repr)
                      for name in sorted(inspect(conn).get_table_names())}
    finally:
        engine.dispose()
    found: dict[str, Any] = {"tables": tables}
    if backend.name == "sqlite":
        path = Path(backend.url.split(":///", 1)[1])
        found["bytes"] = hashlib.sha256(path.read_bytes()).hexdigest()
        found["files"] = sorted(p.name for p in path.parent.iterdir())
    return found


async def revision(backend: Backend) -> str | None:
    tables = (await snapshot(backend))["tables"]
    return tables["alembic_version"][0][0] if "alembic_version" in tables else None


async def build_0003(backend: Backend, writers: list[tuple[Keyring, str]],
                     outbox: Keyring | None = None) -> None:
    """A database as the code before revision 0004 left it: migrated to 0003,
    with a plan written by each (keyring, ref), and an outbox row."""
    engine = make_engine(backend.url, busy_timeout=5, options=backend.options)

    def upgrade(sync: Connection) -> None:
        config = AlembicConfig()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = sync
        command.upgrade(config, "0003")

    try:
        with engine.begin() as conn:
            upgrade(conn)
        # Today's code writes the rows. It also writes each row's team (which
        # 0009 adds): the column is there for the writes only.
        with team_column_for_the_writes(engine):
            for keyring, ref in writers:
                with engine.begin() as conn:
                    conn.info["team"] = "default"
                    Tx(conn, keyring).save_document(
                        kind="plan", ref=ref, data=PLAN, status="active",
                        expected_version=None, at=T0, blind={"ins": INS})
            if outbox is not None:
                with engine.begin() as conn:
                    conn.info["team"] = "default"
                    Tx(conn, outbox).enqueue(message_id="<a1@bot.test>", sender="bot@x.test",
                                             recipients=["ana@x.test"], raw=b"Bonjour", at=T0)
    finally:
        engine.dispose()


@contextmanager
def team_column_for_the_writes(engine: Any) -> Iterator[None]:
    with engine.begin() as conn:
        tables = [t for t in inspect(conn).get_table_names() if t in TEAM_TABLES]
        for table in tables:
            conn.execute(text(f"ALTER TABLE {table} ADD COLUMN team VARCHAR(64)"))
    yield
    with engine.begin() as conn:
        for table in tables:
            conn.execute(text(f"ALTER TABLE {table} DROP COLUMN team"))


async def fingerprint_rows(backend: Backend) -> dict[tuple[str, int], str]:
    rows = (await snapshot(backend))["tables"]["key_fingerprints"]
    return {(kind, key_id): fingerprint for kind, key_id, fingerprint, *_ in rows}


async def test_the_first_start_records_fingerprints_never_keys(backend: Backend) -> None:
    async with await started(backend, A):
        pass
    rows = await fingerprint_rows(backend)
    assert rows == A.fingerprints()
    assert set(rows) == {("data", 1), ("index", 0)}
    dump = repr((await snapshot(backend))["tables"])
    for spelling in secret_spellings():
        assert spelling not in dump
    before = await snapshot(backend)
    async with await started(backend, A):  # the same key file: nothing new to record
        pass
    assert (await snapshot(backend))["tables"] == before["tables"]


async def test_another_key_file_is_refused_and_changes_nothing(backend: Backend) -> None:
    async with await started(backend, A) as stack:
        await save_plan(stack.store, "PPS-2026-0001")  # type: ignore[attr-defined]
    before = await snapshot(backend)
    store = backend.store(ring({1: K1_OTHER}, IDX_OTHER))
    with pytest.raises(KeyMismatch) as refused:
        async with AsyncExitStack() as stack:
            await store.start(stack)
    message = str(refused.value)
    assert "key id 1 differs" in message and "the blind-index key differs" in message
    assert "nothing was changed" in message and "another key file" in message
    if backend.name == "sqlite":
        assert backend.url.split(":///", 1)[1] in message
    else:
        assert "postgresql://" in message and "psycopg" not in message
    for spelling in [*secret_spellings(), *B.fingerprints().values(), *A.fingerprints().values()]:
        assert spelling not in message
    assert "MARTIN" not in message and INS not in message
    assert await snapshot(backend) == before  # byte for byte on SQLite
    # With the right key file back, everything is there, found by its blind index.
    async with await started(backend, A) as stack:
        found = await stack.store.run(  # type: ignore[attr-defined]
            call(Tx.find_documents, "plan", blind=("ins", INS)))
        assert [d.ref for d in found] == ["PPS-2026-0001"] and found[0].data == PLAN


async def test_a_rotated_key_file_is_accepted_one_missing_an_id_is_not(
        backend: Backend) -> None:
    async with await started(backend, A) as stack:
        await save_plan(stack.store, "PPS-2026-0001")  # type: ignore[attr-defined]
    async with await started(backend, A_ROTATED) as stack:
        await save_plan(stack.store, "PPS-2026-0002", ins="1" * 15)  # type: ignore[attr-defined]
    assert await fingerprint_rows(backend) == A_ROTATED.fingerprints()
    before = await snapshot(backend)
    with pytest.raises(KeyMismatch, match="key id 2 is missing from the key file"):
        async with await started(backend, A):  # the key file from before the rotation
            pass
    # Another rotation of A (a second keygen --rotate on an old copy): id 2 differs.
    with pytest.raises(KeyMismatch, match=r"key id 2 differs(?!.*key id 1)"):
        async with await started(backend, ring({1: K1, 2: K2_OTHER}, IDX)):
            pass
    assert await snapshot(backend) == before
    async with await started(backend, A_ROTATED) as stack:
        docs = await stack.store.run(call(Tx.find_documents, "plan"))  # type: ignore[attr-defined]
        assert [d.ref for d in docs] == ["PPS-2026-0001", "PPS-2026-0002"]


async def test_the_blind_index_key_must_match(backend: Backend) -> None:
    async with await started(backend, A) as stack:
        await save_plan(stack.store, "PPS-2026-0001")  # type: ignore[attr-defined]
    before = await snapshot(backend)
    with pytest.raises(KeyMismatch) as refused:
        async with await started(backend, ring({1: K1}, IDX_OTHER)):
            pass
    assert "the blind-index key differs" in str(refused.value)
    assert "key id" not in str(refused.value)
    assert await snapshot(backend) == before


async def test_a_database_from_before_0004_is_checked_by_decrypting_then_recorded(
        backend: Backend) -> None:
    await build_0003(backend, [(A, "PPS-2026-0001")], outbox=A)
    before = await snapshot(backend)
    assert "key_fingerprints" not in before["tables"]
    with pytest.raises(KeyMismatch, match="key id 1 differs"):
        async with await started(backend, B):
            pass
    assert await snapshot(backend) == before  # not even migrated
    assert await revision(backend) == "0003"
    async with await started(backend, A) as stack:
        doc = await stack.store.run(  # type: ignore[attr-defined]
            call(Tx.load_document, "plan", "PPS-2026-0001"))
        assert doc is not None and doc.data == PLAN
    assert await revision(backend) != "0003"
    assert await fingerprint_rows(backend) == A.fingerprints()
    with pytest.raises(KeyMismatch):  # from now on, by fingerprint
        async with await started(backend, B):
            pass


async def test_before_0004_every_key_id_in_use_must_decrypt(backend: Backend) -> None:
    await build_0003(backend, [(A, "PPS-2026-0001"), (A_ROTATED, "PPS-2026-0002")])
    before = await snapshot(backend)
    with pytest.raises(KeyMismatch,
                       match="key id 2, used by the stored data, is missing from the key file"):
        async with await started(backend, A):
            pass
    with pytest.raises(KeyMismatch, match="key id 2 differs"):
        async with await started(backend, ring({1: K1, 2: K2_OTHER}, IDX)):
            pass
    assert await snapshot(backend) == before
    async with await started(backend, A_ROTATED):
        pass
    assert await fingerprint_rows(backend) == A_ROTATED.fingerprints()


async def test_before_0004_an_outbox_alone_is_checked_too(backend: Backend) -> None:
    await build_0003(backend, [], outbox=A)
    with pytest.raises(KeyMismatch, match="key id 1 differs"):
        async with await started(backend, B):
            pass
    assert await revision(backend) == "0003"


async def test_before_0004_with_nothing_encrypted_any_key_file_is_recorded(
        backend: Backend) -> None:
    await build_0003(backend, [])
    async with await started(backend, B):
        pass
    assert await fingerprint_rows(backend) == B.fingerprints()


async def test_a_store_without_key_check_neither_refuses_nor_records(
        backend: Backend) -> None:
    async with AsyncExitStack() as stack:
        await backend.store(B, check_keys=False).start(stack)
    assert await fingerprint_rows(backend) == {}
    async with await started(backend, A) as stack:
        await save_plan(stack.store, "PPS-2026-0001")  # type: ignore[attr-defined]
    async with AsyncExitStack() as stack:
        reader = backend.store(B, check_keys=False)
        await reader.start(stack)
        with pytest.raises(DecryptionError):
            await reader.run(call(Tx.load_document, "plan", "PPS-2026-0001"))
    assert await fingerprint_rows(backend) == A.fingerprints()


# --- file modes (SQLite) -------------------------------------------------------


@contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_a_new_sqlite_database_and_its_companions_are_mode_600(tmp_path: Path) -> None:
    db = tmp_path / "var" / "esp.db"
    with umask(0o022):
        async with AsyncExitStack() as stack:
            store = Store(f"sqlite:///{db}", A)
            await store.start(stack)
            await save_plan(store, "PPS-2026-0001")
            async with store.transaction() as tx:  # a reader keeps the WAL in use
                tx.load_document("plan", "PPS-2026-0001")
                companions = sorted(p.name for p in db.parent.iterdir())
                assert companions == ["esp.db", "esp.db-shm", "esp.db-wal"]
                assert {p: oct(mode(db.parent / p)) for p in companions} == {
                    p: "0o600" for p in companions}
    assert mode(db) == 0o600


async def test_an_existing_readable_sqlite_database_is_made_private(tmp_path: Path) -> None:
    db = tmp_path / "esp.db"
    async with AsyncExitStack() as stack:
        await Store(f"sqlite:///{db}", A).start(stack)
    journal = tmp_path / "esp.db-journal"
    journal.write_bytes(b"")  # a companion left behind, readable by all
    os.chmod(db, 0o644)
    os.chmod(journal, 0o664)
    async with AsyncExitStack() as stack:
        await Store(f"sqlite:///{db}", A).start(stack)
        assert mode(db) == 0o600 and mode(journal) == 0o600
