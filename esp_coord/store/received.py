"""Documents received from the trust space: archives kept encrypted, linked to plans.

A received document is one row of ``received_documents``: the archive as it
came (``archive_enc``) and what was read of it (``meta_enc``: a JSON object
the caller defines), both encrypted under a context naming the row, so a
token copied to another row fails to decrypt. What must be searched is a
blind index: the patient's INS (``received-ins``), the CDA document's id
(``received-doc``) and its set id (``received-set``, the same for every
version), never the values themselves.

States: ``attached`` (to a plan, as its document ``number``: 1, 2, 3 in
order of arrival, unique per plan), ``pending`` (no plan had the INS: kept
until ``expires_at``, attached when the plan is created), ``expired`` (its
archive and meta erased by ``expire_received``; the row stays, so that the
numbering and the audit keep their meaning).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from esp_coord.store.base import TxBase
from esp_coord.store.documents import _dump
from esp_coord.store.tables import received_documents

__all__ = ["RECEIVED_STATUSES", "ReceivedDocument", "ReceivedOps"]

RECEIVED_STATUSES = ("attached", "pending", "expired")
INS_PURPOSE, DOC_PURPOSE, SET_PURPOSE = "received-ins", "received-doc", "received-set"


@dataclass(frozen=True, slots=True)
class ReceivedDocument:
    ref: str
    status: str
    plan_ref: str | None
    number: int | None
    sender: str
    version: int | None
    received_at: datetime
    updated_at: datetime
    expires_at: datetime | None
    source_message_id: str | None
    meta: dict[str, Any]


def meta_context(ref: str) -> bytes:
    return f"received:{ref}:meta".encode()


def archive_context(ref: str) -> bytes:
    return f"received:{ref}:archive".encode()


class ReceivedOps(TxBase):
    __slots__ = ()

    def _received_digest(self, value: str | None, purpose: str) -> str | None:
        return self._keyring.blind_index(value, purpose=purpose) if value else None

    def add_received(self, *, ref: str, status: str, plan_ref: str | None, number: int | None,
                     sender: str, ins: str | None, doc_id: str | None, set_id: str | None,
                     version: int | None, meta: Mapping[str, Any], archive: bytes,
                     at: datetime, expires_at: datetime | None,
                     source_message_id: str | None) -> None:
        """Keep a received document (``status`` attached with ``plan_ref`` and
        ``number``, or pending with ``expires_at``)."""
        if status not in ("attached", "pending"):
            raise ValueError(f"a document is added attached or pending, not {status!r}")
        self._conn.execute(received_documents.insert().values(
            ref=ref, status=status, plan_ref=plan_ref, number=number,
            sender=sender.strip().lower(), ins_digest=self._received_digest(ins, INS_PURPOSE),
            doc_digest=self._received_digest(doc_id, DOC_PURPOSE),
            set_digest=self._received_digest(set_id, SET_PURPOSE), version=version,
            received_at=at, updated_at=at, expires_at=expires_at,
            source_message_id=source_message_id,
            meta_enc=self._keyring.encrypt(_dump(meta), context=meta_context(ref)),
            archive_enc=self._keyring.encrypt(bytes(archive), context=archive_context(ref))))

    def _records(self, query: Any) -> list[ReceivedDocument]:
        columns = [c for c in received_documents.c if c.name != "archive_enc"]
        rows = self._conn.execute(query.with_only_columns(*columns)).mappings().all()
        return [ReceivedDocument(
            ref=row["ref"], status=row["status"], plan_ref=row["plan_ref"],
            number=row["number"], sender=row["sender"], version=row["version"],
            received_at=row["received_at"], updated_at=row["updated_at"],
            expires_at=row["expires_at"], source_message_id=row["source_message_id"],
            meta=json.loads(self._keyring.decrypt(row["meta_enc"],
                                                  context=meta_context(row["ref"]))))
            for row in rows]

    def received(self, ref: str) -> ReceivedDocument | None:
        found = self._records(select(received_documents).where(received_documents.c.ref == ref))
        return found[0] if found else None

    def received_for_plan(self, plan_ref: str) -> list[ReceivedDocument]:
        """The plan's attached documents, by number."""
        return self._records(select(received_documents).where(
            received_documents.c.plan_ref == plan_ref,
            received_documents.c.status == "attached").order_by(received_documents.c.number))

    def received_pending(self, ins: str, now: datetime) -> list[ReceivedDocument]:
        """Documents awaiting a plan for this INS, not expired, oldest first."""
        return self._records(select(received_documents).where(
            received_documents.c.ins_digest == self._received_digest(ins, INS_PURPOSE),
            received_documents.c.status == "pending",
            received_documents.c.expires_at > now).order_by(received_documents.c.id))

    def find_received(self, *, doc_id: str | None = None, set_id: str | None = None
                      ) -> ReceivedDocument | None:
        """The latest document, attached or pending, whose CDA id is ``doc_id``
        or whose set id is ``set_id`` (the first given that matches wins)."""
        for value, column, purpose in ((doc_id, received_documents.c.doc_digest, DOC_PURPOSE),
                                       (set_id, received_documents.c.set_digest, SET_PURPOSE)):
            if not value:
                continue
            found = self._records(select(received_documents).where(
                column == self._received_digest(value, purpose),
                received_documents.c.status.in_(("attached", "pending")))
                .order_by(received_documents.c.id.desc()).limit(1))
            if found:
                return found[0]
        return None

    def received_archive(self, ref: str) -> bytes | None:
        """The archive as it came; None when unknown or expired."""
        token = self._conn.execute(select(received_documents.c.archive_enc).where(
            received_documents.c.ref == ref)).scalar_one_or_none()
        return None if token is None else self._keyring.decrypt(token,
                                                                context=archive_context(ref))

    def next_received_number(self, plan_ref: str) -> int:
        found = self._conn.execute(select(func.max(received_documents.c.number)).where(
            received_documents.c.plan_ref == plan_ref)).scalar_one_or_none()
        return int(found or 0) + 1

    def attach_received(self, ref: str, *, plan_ref: str, number: int, at: datetime) -> bool:
        """pending -> attached to ``plan_ref`` as ``number``; False when it was
        not pending."""
        done = self._conn.execute(update(received_documents).where(
            received_documents.c.ref == ref, received_documents.c.status == "pending").values(
            status="attached", plan_ref=plan_ref, number=number, expires_at=None,
            updated_at=at))
        return bool(done.rowcount)

    def replace_received(self, ref: str, *, sender: str, doc_id: str | None,
                         set_id: str | None, version: int | None, meta: Mapping[str, Any],
                         archive: bytes, at: datetime, source_message_id: str | None) -> bool:
        """The document ``ref`` becomes this new version (same row, same plan
        and number, or still pending); False when it is expired or unknown."""
        done = self._conn.execute(update(received_documents).where(
            received_documents.c.ref == ref,
            received_documents.c.status.in_(("attached", "pending"))).values(
            sender=sender.strip().lower(), doc_digest=self._received_digest(doc_id, DOC_PURPOSE),
            set_digest=self._received_digest(set_id, SET_PURPOSE), version=version, updated_at=at,
            source_message_id=source_message_id,
            meta_enc=self._keyring.encrypt(_dump(meta), context=meta_context(ref)),
            archive_enc=self._keyring.encrypt(bytes(archive), context=archive_context(ref))))
        return bool(done.rowcount)

    def expire_received(self, now: datetime) -> int:
        """Erase the archive and meta of every pending document whose time is
        up; returns how many."""
        refs = self._conn.execute(select(received_documents.c.ref).where(
            received_documents.c.status == "pending",
            received_documents.c.expires_at <= now)).scalars().all()
        for ref in refs:
            self._conn.execute(update(received_documents).where(
                received_documents.c.ref == ref).values(
                status="expired", archive_enc=None, ins_digest=None, doc_digest=None,
                set_digest=None, updated_at=now,
                meta_enc=self._keyring.encrypt(b"{}", context=meta_context(ref))))
        return len(refs)
