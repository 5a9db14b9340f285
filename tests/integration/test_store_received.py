"""Store contract of received documents (IHE XDM archives), on SQLite,
PostgreSQL and in memory: kept encrypted, found by blind index only, numbered
per plan, attached when the plan comes, replaced in place, erased when their
time is up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from esp_coord.crypto import DecryptionError, Keyring
from esp_coord.store import Store, Tx
from esp_coord.store.tables import received_documents
from tests.support.store import (  # noqa: F401 - contract_backend: the backend fixture, memory too
    Backend,
    call,
    contract_backend,
)

T0 = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)
DAYS30 = timedelta(days=30)
INS = "279035121518989"
HOSPITAL = "Secretariat.Cardio@hegp.mssante.test"
META = {"title": "Lettre de liaison", "type_code": "11490-0", "traits": {"birth_name": "X"}}


def add(ref: str, *, status: str = "attached", plan_ref: str | None = "PPS-2026-0001",
        number: int | None = 1, ins: str | None = INS, doc_id: str | None = "1.2.3^A",
        set_id: str | None = "SET-1", at: datetime = T0, archive: bytes = b"PK\x03\x04zip",
        expires_at: datetime | None = None, meta: dict[str, Any] = META) -> Any:
    return call(Tx.add_received, ref=ref, status=status, plan_ref=plan_ref, number=number,
                sender=HOSPITAL, ins=ins, doc_id=doc_id, set_id=set_id, version=1, meta=meta,
                archive=archive, at=at, expires_at=expires_at,
                source_message_id="<m1@hegp.mssante.test>")


async def test_an_attached_document_round_trips(store: Store) -> None:
    await store.run(add("DOC-2026-0001"))
    found = await store.run(call(Tx.received_for_plan, "PPS-2026-0001"))
    assert [d.ref for d in found] == ["DOC-2026-0001"]
    doc = found[0]
    assert (doc.status, doc.plan_ref, doc.number, doc.sender, doc.version) == (
        "attached", "PPS-2026-0001", 1, HOSPITAL.lower(), 1)
    assert doc.meta == META and doc.received_at == T0 and doc.expires_at is None
    assert await store.run(call(Tx.received_archive, "DOC-2026-0001")) == b"PK\x03\x04zip"
    assert await store.run(call(Tx.received_archive, "DOC-2026-0099")) is None
    assert await store.run(call(Tx.received, "DOC-2026-0001")) == doc
    assert await store.run(call(Tx.received, "DOC-2026-0099")) is None


async def test_numbers_go_up_per_plan(store: Store) -> None:
    assert await store.run(call(Tx.next_received_number, "PPS-2026-0001")) == 1
    await store.run(add("DOC-2026-0001"))
    await store.run(add("DOC-2026-0002", number=2, doc_id="1.2.3^B"))
    await store.run(add("DOC-2026-0003", plan_ref="PPS-2026-0002", number=1, doc_id="C"))
    assert await store.run(call(Tx.next_received_number, "PPS-2026-0001")) == 3
    assert await store.run(call(Tx.next_received_number, "PPS-2026-0002")) == 2
    listed = await store.run(call(Tx.received_for_plan, "PPS-2026-0001"))
    assert [(d.ref, d.number) for d in listed] == [("DOC-2026-0001", 1), ("DOC-2026-0002", 2)]


async def test_one_number_is_one_document(store: Store) -> None:
    await store.run(add("DOC-2026-0001"))
    with pytest.raises(Exception):  # noqa: B017 - IntegrityError or ValueError per backend
        await store.run(add("DOC-2026-0002", number=1))
    assert len(await store.run(call(Tx.received_for_plan, "PPS-2026-0001"))) == 1


async def test_pending_documents_wait_for_their_plan(store: Store) -> None:
    await store.run(add("DOC-2026-0001", status="pending", plan_ref=None, number=None,
                        expires_at=T0 + DAYS30))
    assert await store.run(call(Tx.received_pending, "185061545813600", T0)) == []
    pending = await store.run(call(Tx.received_pending, INS, T0 + timedelta(days=29)))
    assert [d.ref for d in pending] == ["DOC-2026-0001"]
    assert await store.run(call(Tx.received_pending, INS, T0 + DAYS30)) == []
    attached = await store.run(call(Tx.attach_received, "DOC-2026-0001",
                                    plan_ref="PPS-2026-0007", number=1, at=T0))
    assert attached
    # Once attached, it is the plan's and no longer pending.
    assert await store.run(call(Tx.received_pending, INS, T0)) == []
    assert not await store.run(call(Tx.attach_received, "DOC-2026-0001",
                                    plan_ref="PPS-2026-0008", number=1, at=T0))
    doc = (await store.run(call(Tx.received_for_plan, "PPS-2026-0007")))[0]
    assert doc.status == "attached" and doc.expires_at is None and doc.number == 1


async def test_expired_documents_are_erased(store: Store) -> None:
    await store.run(add("DOC-2026-0001", status="pending", plan_ref=None, number=None,
                        expires_at=T0 + DAYS30))
    await store.run(add("DOC-2026-0002", doc_id="B", set_id="SET-2"))
    assert await store.run(call(Tx.expire_received, T0 + timedelta(days=29))) == 0
    assert await store.run(call(Tx.expire_received, T0 + DAYS30)) == 1
    assert await store.run(call(Tx.received_archive, "DOC-2026-0001")) is None
    gone = await store.run(call(Tx.received, "DOC-2026-0001"))
    assert gone is not None and gone.status == "expired" and gone.meta == {}
    assert await store.run(call(Tx.find_received, doc_id="1.2.3^A")) is None
    assert not await store.run(call(Tx.attach_received, "DOC-2026-0001",
                                    plan_ref="PPS-2026-0001", number=5, at=T0))
    # An attached document never expires.
    assert await store.run(call(Tx.received_archive, "DOC-2026-0002")) is not None
    assert await store.run(call(Tx.expire_received, T0 + 10 * DAYS30)) == 0


async def test_a_replacement_takes_the_same_row(store: Store) -> None:
    await store.run(add("DOC-2026-0001"))
    assert (await store.run(call(Tx.find_received, doc_id="1.2.3^A"))).ref == "DOC-2026-0001"
    assert (await store.run(call(Tx.find_received, set_id="SET-1"))).ref == "DOC-2026-0001"
    assert await store.run(call(Tx.find_received, doc_id="nope", set_id="nope")) is None
    later = T0 + timedelta(days=2)
    replaced = await store.run(call(
        Tx.replace_received, "DOC-2026-0001", sender=HOSPITAL, doc_id="1.2.3^A2",
        set_id="SET-1", version=2, meta={"title": "Lettre corrigée"}, archive=b"new",
        at=later, source_message_id="<m2@hegp.mssante.test>"))
    assert replaced
    doc = (await store.run(call(Tx.received_for_plan, "PPS-2026-0001")))[0]
    assert (doc.ref, doc.number, doc.version, doc.meta) == (
        "DOC-2026-0001", 1, 2, {"title": "Lettre corrigée"})
    assert doc.updated_at == later and doc.received_at == T0
    assert await store.run(call(Tx.received_archive, "DOC-2026-0001")) == b"new"
    assert (await store.run(call(Tx.find_received, doc_id="1.2.3^A2"))).ref == "DOC-2026-0001"
    assert await store.run(call(Tx.find_received, doc_id="1.2.3^A")) is None


async def test_a_rolled_back_transaction_keeps_nothing(store: Store) -> None:
    def fail(tx: Any) -> None:
        add("DOC-2026-0001")(tx)
        raise RuntimeError("handler crash")

    with pytest.raises(RuntimeError):
        await store.run(fail)
    assert await store.run(call(Tx.received, "DOC-2026-0001")) is None


@pytest.mark.sql_only("what the SQL rows hold")
async def test_only_tokens_and_digests_are_stored(store: Store, keyring: Keyring) -> None:
    await store.run(add("DOC-2026-0001", archive=b"PK\x03\x04" + INS.encode()))
    with store.engine.connect() as conn:
        row = conn.execute(select(received_documents)).mappings().one()
    flat = b"".join(v if isinstance(v, bytes) else str(v).encode() for v in row.values())
    assert INS.encode() not in flat and b"SET-1" not in flat and b"Lettre" not in flat
    assert row["ins_digest"] == keyring.blind_index(INS, purpose="received-ins")
    # Each token is bound to its row: decrypted under another ref, it fails.
    with pytest.raises(DecryptionError):
        keyring.decrypt(row["archive_enc"], context=b"received:DOC-2026-0002:archive")
