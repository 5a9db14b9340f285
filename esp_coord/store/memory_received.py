"""Received documents in memory: ``ReceivedOps`` (received.py) on the memory tables.

Rows are frozen ``_Row`` records replaced whole; the meta goes through the
same JSON as the SQL store's, the blind indexes are the keyring's digests,
and nothing is encrypted (there is no disk).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from esp_coord.store.memory_base import MemoryTxBase, json_copy, utc, utc_or_none
from esp_coord.store.received import DOC_PURPOSE, INS_PURPOSE, SET_PURPOSE, ReceivedDocument


@dataclass(frozen=True, slots=True)
class _Row:
    id: int
    doc: ReceivedDocument
    ins_digest: str | None
    doc_digest: str | None
    set_digest: str | None
    archive: bytes | None


class MemoryReceivedOps(MemoryTxBase):
    __slots__ = ()

    def _received_digest(self, value: str | None, purpose: str) -> str | None:
        return self._keyring.blind_index(value, purpose=purpose) if value else None

    def _received_rows(self) -> list[_Row]:
        return sorted(self._read("received").values(), key=lambda r: r.id)

    @staticmethod
    def _received_copy(row: _Row) -> ReceivedDocument:
        return replace(row.doc, meta=json_copy(row.doc.meta))

    def add_received(self, *, ref: str, status: str, plan_ref: str | None, number: int | None,
                     sender: str, ins: str | None, doc_id: str | None, set_id: str | None,
                     version: int | None, meta: Mapping[str, Any], archive: bytes,
                     at: datetime, expires_at: datetime | None,
                     source_message_id: str | None) -> None:
        if status not in ("attached", "pending"):
            raise ValueError(f"a document is added attached or pending, not {status!r}")
        rows = self._read("received")
        if ref in rows or (plan_ref is not None and number is not None and any(
                r.doc.plan_ref == plan_ref and r.doc.number == number for r in rows.values())):
            raise ValueError("received document ref or (plan, number) already taken")
        at = utc(at)
        doc = ReceivedDocument(ref, status, plan_ref, number, sender.strip().lower(), version,
                               at, at, utc_or_none(expires_at), source_message_id,
                               json_copy(meta))
        self._write("received")[ref] = _Row(
            self._new_id("received"), doc, self._received_digest(ins, INS_PURPOSE),
            self._received_digest(doc_id, DOC_PURPOSE),
            self._received_digest(set_id, SET_PURPOSE), bytes(archive))

    def received(self, ref: str) -> ReceivedDocument | None:
        row = self._read("received").get(ref)
        return None if row is None else self._received_copy(row)

    def received_for_plan(self, plan_ref: str) -> list[ReceivedDocument]:
        found = [r for r in self._received_rows()
                 if r.doc.plan_ref == plan_ref and r.doc.status == "attached"]
        return [self._received_copy(r) for r in sorted(found, key=lambda r: r.doc.number or 0)]

    def received_pending(self, ins: str, now: datetime) -> list[ReceivedDocument]:
        digest, now = self._received_digest(ins, INS_PURPOSE), utc(now)
        return [self._received_copy(r) for r in self._received_rows()
                if r.ins_digest == digest and r.doc.status == "pending"
                and r.doc.expires_at is not None and r.doc.expires_at > now]

    def find_received(self, *, doc_id: str | None = None, set_id: str | None = None
                      ) -> ReceivedDocument | None:
        for value, purpose in ((doc_id, DOC_PURPOSE), (set_id, SET_PURPOSE)):
            if not value:
                continue
            digest = self._received_digest(value, purpose)
            for row in reversed(self._received_rows()):
                kept = row.doc_digest if purpose == DOC_PURPOSE else row.set_digest
                if kept == digest and row.doc.status in ("attached", "pending"):
                    return self._received_copy(row)
        return None

    def received_archive(self, ref: str) -> bytes | None:
        row = self._read("received").get(ref)
        return None if row is None or row.archive is None else bytes(row.archive)

    def next_received_number(self, plan_ref: str) -> int:
        return max((r.doc.number or 0 for r in self._read("received").values()
                    if r.doc.plan_ref == plan_ref), default=0) + 1

    def attach_received(self, ref: str, *, plan_ref: str, number: int, at: datetime) -> bool:
        row = self._read("received").get(ref)
        if row is None or row.doc.status != "pending":
            return False
        if any(r.doc.plan_ref == plan_ref and r.doc.number == number
               for r in self._read("received").values()):
            raise ValueError("(plan, number) already taken")
        self._write("received")[ref] = replace(row, doc=replace(
            row.doc, status="attached", plan_ref=plan_ref, number=number, expires_at=None,
            updated_at=utc(at)))
        return True

    def replace_received(self, ref: str, *, sender: str, doc_id: str | None,
                         set_id: str | None, version: int | None, meta: Mapping[str, Any],
                         archive: bytes, at: datetime, source_message_id: str | None) -> bool:
        row = self._read("received").get(ref)
        if row is None or row.doc.status not in ("attached", "pending"):
            return False
        self._write("received")[ref] = replace(
            row, doc_digest=self._received_digest(doc_id, DOC_PURPOSE),
            set_digest=self._received_digest(set_id, SET_PURPOSE), archive=bytes(archive),
            doc=replace(row.doc, sender=sender.strip().lower(), version=version,
                        updated_at=utc(at), source_message_id=source_message_id,
                        meta=json_copy(meta)))
        return True

    def expire_received(self, now: datetime) -> int:
        now = utc(now)
        due = [r for r in self._read("received").values() if r.doc.status == "pending"
               and r.doc.expires_at is not None and r.doc.expires_at <= now]
        for row in due:
            self._write("received")[row.doc.ref] = replace(
                row, archive=None, ins_digest=None, doc_digest=None, set_digest=None,
                doc=replace(row.doc, status="expired", updated_at=now, meta={}))
        return len(due)
