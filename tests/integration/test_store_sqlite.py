"""SQLite specifics: nothing in clear on disk, key rotation, lock waits, settings."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from esp_coord.crypto import Keyring
from esp_coord.store import KeyMismatch, Store, StoreBusy, Tx
from tests.support.store import call

T0 = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
PATIENT_STRINGS = [
    "MARTIN Jeanne",
    "248037505611878",
    "1948-03-07",
    "07/03/1948",
    "chute dans la salle de bain",
    "Jeanne",
]


def patient_plan() -> dict[str, object]:
    return {
        "patient": {"name": "MARTIN Jeanne", "ins": "248037505611878", "birth": "1948-03-07"},
        "notes": "Mme MARTIN Jeanne (née le 07/03/1948) : chute dans la salle de bain.",
    }


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "not" / "yet" / "there" / "esp.db"


@pytest.fixture
async def started(db_path: Path) -> AsyncIterator[tuple[Store, Keyring]]:
    keyring = Keyring.generate()
    async with AsyncExitStack() as stack:
        store = Store(f"sqlite:///{db_path}", keyring)
        await store.start(stack)
        yield store, keyring


async def test_no_patient_data_in_clear_on_disk(db_path: Path) -> None:
    keyring = Keyring.generate()
    async with AsyncExitStack() as stack:
        store = Store(f"sqlite:///{db_path}", keyring)
        await store.start(stack)
        async with store.transaction() as tx:
            tx.save_document(
                kind="pps", ref="PPS-2026-0001", data=patient_plan(), status="active",
                expected_version=None, at=T0,
                blind={"ins": "248037505611878", "identity": "MARTIN Jeanne|1948-03-07"},
                members=["dr.house@mssante.fr"],
            )
            tx.add_history(kind="pps", ref="PPS-2026-0001", version=1,
                                 author="dr.house@mssante.fr", source_message_id="<m1@x>",
                                 at=T0, change=patient_plan())
            body = ("Subject: [PPS-2026-0001] Plan de MARTIN Jeanne\r\n\r\n"
                    "INS 248037505611878, née le 07/03/1948, chute dans la salle de bain.\r\n")
            tx.enqueue(message_id="<a1@bot>", sender="bot@x", recipients=["p@x"],
                             raw=body.encode(), at=T0)
        # Reading back works: the test below is not passing by storing nothing.
        doc = await store.run(call(Tx.load_document, "pps", "PPS-2026-0001"))
        assert doc is not None and doc.data == patient_plan()
        (item,) = await store.run(call(Tx.outbox_due, T0))
        assert b"MARTIN Jeanne" in item.raw
    # Closed: the WAL was checkpointed into the main file and removed.
    files = sorted(db_path.parent.iterdir())
    assert [f.name for f in files] == ["esp.db"]
    content = db_path.read_bytes()
    assert b"PPS-2026-0001" in content  # the file really holds the rows
    for text in PATIENT_STRINGS:
        for encoding in ("utf-8", "utf-16-le", "utf-16-be"):
            assert text.encode(encoding) not in content, (text, encoding)


async def test_key_rotation_with_stored_data(db_path: Path) -> None:
    url = f"sqlite:///{db_path}"
    old = Keyring.generate()
    async with AsyncExitStack() as stack:
        store = Store(url, old)
        await store.start(stack)
        await store.run(call(Tx.save_document, kind="pps", ref="OLD", data={"v": "old"},
                             status="draft", expected_version=None, at=T0,
                             blind={"ins": "248037505611878"}))
        await store.run(call(Tx.enqueue, message_id="<o@b>", sender="b", recipients=["r"],
                             raw=b"old body", at=T0))
    new = old.rotate()
    async with AsyncExitStack() as stack:
        store = Store(url, new)
        await store.start(stack)
        await store.run(call(Tx.save_document, kind="pps", ref="NEW", data={"v": "new"},
                             status="draft", expected_version=None, at=T0))
        async with store.transaction() as tx:
            assert (tx.load_document("pps", "OLD")).data == {"v": "old"}  # type: ignore[union-attr]
            assert (tx.load_document("pps", "NEW")).data == {"v": "new"}  # type: ignore[union-attr]
            # Blind indexes do not depend on the data key.
            found = tx.find_documents("pps", blind=("ins", "248037505611878"))
            assert [d.ref for d in found] == ["OLD"]
            assert [i.raw for i in tx.outbox_due(T0)] == [b"old body"]
            tokens = dict((tx.connection.exec_driver_sql(
                "SELECT ref, data_enc FROM documents")).all())
        assert Keyring.token_key_id(tokens["OLD"]) == old.current_key_id
        assert Keyring.token_key_id(tokens["NEW"]) == new.current_key_id != old.current_key_id
    # Without the keys, the data stays closed: another key file is refused at start.
    async with AsyncExitStack() as stack:
        store = Store(url, Keyring.generate())
        with pytest.raises(KeyMismatch, match="key id 1 differs"):
            await store.start(stack)


@contextmanager
def write_lock(path: Path) -> Iterator[sqlite3.Connection]:
    """Another process's writer, as far as SQLite can tell."""
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        other.execute("BEGIN IMMEDIATE")
        yield other
    finally:
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()


async def test_busy_database_waits_and_succeeds(
    started: tuple[Store, Keyring], db_path: Path
) -> None:
    store, _ = started
    events: list[str] = []

    def commit() -> None:
        other.execute("COMMIT")
        events.append("other writer done")

    with write_lock(db_path) as other:
        asyncio.get_running_loop().call_later(0.4, commit)
        number = await store.run(call(Tx.next_number, "PPS", 2026))
        events.append("transaction done")
    assert number == 1
    assert events == ["other writer done", "transaction done"], \
        "the transaction did not wait for the lock"


async def test_busy_database_retries_then_gives_up(db_path: Path) -> None:
    async with AsyncExitStack() as stack:
        # A short busy timeout makes each attempt give up quickly, so the
        # retry loop (not SQLite's own wait) is what gets through.
        store = Store(f"sqlite:///{db_path}", Keyring.generate(),
                      busy_timeout=0.02, retry_delay=0.05)
        await store.start(stack)
        attempts: list[int] = []

        def work(tx: Tx) -> int:
            attempts.append(1)
            return tx.next_number("PPS", 2026)

        with write_lock(db_path):
            with pytest.raises(StoreBusy):
                await store.run(work, attempts=2)
            assert attempts == []  # BEGIN IMMEDIATE failed: work never started
        with write_lock(db_path) as other:
            asyncio.get_running_loop().call_later(0.3, other.execute, "COMMIT")
            assert await store.run(work, attempts=30) == 1
        # Transaction-level errors are StoreBusy too, outside run().
        with write_lock(db_path):
            with pytest.raises(StoreBusy):
                async with store.transaction():
                    pass
        # Nothing was written by the failed attempts.
        assert await store.run(work) == 2
        assert store.engine.pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_sqlite_settings(started: tuple[Store, Keyring], db_path: Path) -> None:
    store, _ = started
    assert db_path.is_file()  # parent folders were created
    async with store.transaction(readonly=True) as tx:
        pragma = tx.connection.exec_driver_sql
        assert pragma("PRAGMA journal_mode").scalar_one() == "wal"
        assert pragma("PRAGMA foreign_keys").scalar_one() == 1
        assert pragma("PRAGMA busy_timeout").scalar_one() == 5000
        assert pragma("PRAGMA synchronous").scalar_one() == 2  # FULL
    # Deleting a document takes its indexes, members and history along.
    async with store.transaction() as tx:
        tx.save_document(kind="pps", ref="D", data={}, status="draft",
                               expected_version=None, at=T0, blind={"ins": "1"},
                               members=["a@x"])
        tx.add_history(kind="pps", ref="D", version=1, author="a@x",
                             source_message_id=None, at=T0, change={})
        tx.connection.exec_driver_sql("DELETE FROM documents")
        for table in ("document_blind", "document_members", "document_history"):
            count = (tx.connection.exec_driver_sql(f"SELECT count(*) FROM {table}"))
            assert count.scalar_one() == 0, table


async def test_store_not_started_and_double_start(db_path: Path) -> None:
    store = Store(f"sqlite:///{db_path}", Keyring.generate())
    assert not db_path.parent.exists()  # nothing happens before start()
    with pytest.raises(Exception, match="not started"):
        async with store.transaction():
            pass
    async with AsyncExitStack() as stack:
        await store.start(stack)
        with pytest.raises(Exception, match="already started"):
            await store.start(stack)
    await store.close()  # idempotent
