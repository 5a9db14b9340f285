"""Encrypted documents (care plans, meetings), their blind indexes, members and history.

A document's data is one encrypted JSON blob bound to its kind, reference and
version. What must be searchable without decryption is stored beside it:
blind indexes (keyed digests of patient identifiers) and the professional
addresses that have access (not patient data, so in clear).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Integer,
    String,
    Text,
    bindparam,
    delete,
    insert,
    literal,
    select,
    union_all,
    update,
)

from esp_coord.store.base import TxBase
from esp_coord.store.errors import ConflictError, UnknownDocument
from esp_coord.store.records import Document, HistoryEntry
from esp_coord.store.tables import document_blind, document_history, document_members, documents


def _document_context(kind: str, ref: str, version: int) -> bytes:
    return f"document:{kind}:{ref}:v{version}".encode()


def _history_context(kind: str, ref: str, version: int) -> bytes:
    return f"history:{kind}:{ref}:v{version}".encode()


def _dump(data: Mapping[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def _member(address: str) -> str:
    return address.strip().lower()


class DocumentOps(TxBase):
    __slots__ = ()

    def save_document(
        self,
        *,
        kind: str,
        ref: str,
        data: dict[str, Any],
        status: str,
        expected_version: int | None,
        blind: Mapping[str, str] = {},  # noqa: B006 - read only
        members: Iterable[str] = (),
        at: datetime,
        previous: Document | None = None,
    ) -> int:
        """Create (``expected_version=None``) or update a document; returns its
        new version (1 on creation). ``blind`` and ``members`` describe the
        whole document: on update they replace the stored ones. ``previous``,
        the document as loaded in this transaction, spares rewriting blind
        indexes and members that did not change (most updates).

        Raises ``ConflictError`` if the reference exists on creation, or if the
        stored version is not ``expected_version`` on update.
        """
        digests = {(name, self._keyring.blind_index(value, purpose=name))
                   for name, value in blind.items()}
        addresses = {_member(m) for m in members}
        if expected_version is None:
            version = 1
            doc_id = self._create(kind, ref, data, status, at)
            write_blind, write_members = True, True
        else:
            version = expected_version + 1
            doc_id = self._update(kind, ref, data, status, expected_version, at)
            # The version check above proves ``previous`` is what is stored.
            known = (previous is not None and previous.kind == kind and previous.ref == ref
                     and previous.version == expected_version)
            write_blind = not known or previous.blind != digests  # type: ignore[union-attr]
            write_members = not known or previous.members != addresses  # type: ignore[union-attr]
            if write_blind:
                self._conn.execute(
                    delete(document_blind).where(document_blind.c.document_id == doc_id))
            if write_members:
                self._conn.execute(
                    delete(document_members).where(document_members.c.document_id == doc_id))
        if write_blind and digests:
            self._conn.execute(insert(document_blind), [
                {"document_id": doc_id, "name": name, "digest": digest}
                for name, digest in sorted(digests)])
        if write_members and addresses:
            self._conn.execute(insert(document_members), [
                {"document_id": doc_id, "member": m} for m in sorted(addresses)])
        return version

    def _create(
        self, kind: str, ref: str, data: dict[str, Any], status: str, at: datetime
    ) -> int:
        statement = (
            self._upsert(documents)
            .values(
                kind=kind,
                ref=ref,
                version=1,
                status=status,
                data_enc=self._keyring.encrypt(
                    _dump(data), context=_document_context(kind, ref, 1)
                ),
                created_at=at,
                updated_at=at,
            )
            .on_conflict_do_nothing()
            .returning(documents.c.id)
        )
        doc_id = (self._conn.execute(statement)).scalar_one_or_none()
        if doc_id is None:
            found = self._version_of(kind, ref)
            raise ConflictError(kind, ref, expected=None, found=found)
        return int(doc_id)

    def _update(
        self,
        kind: str,
        ref: str,
        data: dict[str, Any],
        status: str,
        expected: int,
        at: datetime,
    ) -> int:
        version = expected + 1
        statement = (
            update(documents)
            .where(
                documents.c.kind == kind,
                documents.c.ref == ref,
                documents.c.version == expected,
            )
            .values(
                version=version,
                status=status,
                data_enc=self._keyring.encrypt(
                    _dump(data), context=_document_context(kind, ref, version)
                ),
                updated_at=at,
            )
            .returning(documents.c.id)
        )
        doc_id = (self._conn.execute(statement)).scalar_one_or_none()
        if doc_id is None:
            found = self._version_of(kind, ref)
            raise ConflictError(kind, ref, expected=expected, found=found)
        return int(doc_id)

    def _version_of(self, kind: str, ref: str) -> int | None:
        query = select(documents.c.version).where(documents.c.kind == kind, documents.c.ref == ref)
        return (self._conn.execute(query)).scalar_one_or_none()

    def load_document(self, kind: str, ref: str) -> Document | None:
        query = self._statement("load_document", lambda: select(documents).where(
            documents.c.kind == bindparam("kind"), documents.c.ref == bindparam("ref")))
        found = self._load(query, {"kind": kind, "ref": ref})
        return found[0] if found else None

    def find_documents(
        self,
        kind: str,
        *,
        blind: tuple[str, str] | None = None,
        member: str | None = None,
        status: str | None = None,
    ) -> list[Document]:
        """Documents of ``kind`` matching every given filter, oldest first.

        ``blind`` = (index name, clear value), compared through its digest.
        """
        query = select(documents).where(documents.c.kind == kind)
        if blind is not None:
            name, value = blind
            digest = self._keyring.blind_index(value, purpose=name)
            query = query.where(
                documents.c.id.in_(
                    select(document_blind.c.document_id).where(
                        document_blind.c.name == name, document_blind.c.digest == digest
                    )
                )
            )
        if member is not None:
            query = query.where(
                documents.c.id.in_(
                    select(document_members.c.document_id).where(
                        document_members.c.member == _member(member)
                    )
                )
            )
        if status is not None:
            query = query.where(documents.c.status == status)
        return self._load(query.order_by(documents.c.id))

    def _load(self, query: Any, params: Mapping[str, Any] | None = None) -> list[Document]:
        rows = self._conn.execute(query, params).mappings().all()
        if not rows:
            return []
        members: dict[int, set[str]] = {row["id"]: set() for row in rows}
        blinds: dict[int, set[tuple[str, str]]] = {row["id"]: set() for row in rows}
        # Members and blind indexes in one round trip; a member's name is NULL.
        side_query = self._statement("document_sides", lambda: union_all(
            select(document_members.c.document_id, literal(None, String(32)).label("name"),
                   document_members.c.member.label("value"))
            .where(document_members.c.document_id.in_(bindparam("ids", expanding=True))),
            select(document_blind.c.document_id, document_blind.c.name,
                   document_blind.c.digest.label("value"))
            .where(document_blind.c.document_id.in_(bindparam("ids", expanding=True))),
        ))
        for doc_id, name, value in self._conn.execute(side_query, {"ids": list(members)}).all():
            if name is None:
                members[doc_id].add(value)
            else:
                blinds[doc_id].add((name, value))
        return [
            Document(
                kind=row["kind"],
                ref=row["ref"],
                version=row["version"],
                status=row["status"],
                data=json.loads(
                    self._keyring.decrypt(
                        row["data_enc"],
                        context=_document_context(row["kind"], row["ref"], row["version"]),
                    )
                ),
                members=frozenset(members[row["id"]]),
                created_at=row["created_at"],
                updated_at=row["updated_at"],
                blind=frozenset(blinds[row["id"]]),
            )
            for row in rows
        ]

    def add_history(
        self,
        *,
        kind: str,
        ref: str,
        version: int,
        author: str,
        source_message_id: str | None,
        at: datetime,
        change: dict[str, Any],
    ) -> None:
        """Append a history entry (change encrypted). Raises ``UnknownDocument``."""
        token = self._keyring.encrypt(_dump(change), context=_history_context(kind, ref, version))
        # One statement: the document id comes from the (kind, ref) lookup.
        statement = self._statement("add_history", lambda: insert(document_history).from_select(
            ["document_id", "version", "author", "source_message_id", "at", "change_enc"],
            select(
                documents.c.id,
                bindparam("version", type_=Integer),
                bindparam("author", type_=Text),
                bindparam("source_message_id", type_=Text),
                bindparam("at", type_=document_history.c.at.type),
                bindparam("token", type_=document_history.c.change_enc.type),
            ).where(documents.c.kind == bindparam("kind"), documents.c.ref == bindparam("ref")),
        ).returning(document_history.c.id))
        values = {"version": version, "author": author, "source_message_id": source_message_id,
                  "at": at, "token": token, "kind": kind, "ref": ref}
        if self._conn.execute(statement, values).first() is None:
            raise UnknownDocument(kind, ref)

    def history(self, kind: str, ref: str) -> list[HistoryEntry]:
        query = (
            select(document_history)
            .join(documents, documents.c.id == document_history.c.document_id)
            .where(documents.c.kind == kind, documents.c.ref == ref)
            .order_by(document_history.c.id)
        )
        return [
            HistoryEntry(
                kind=kind,
                ref=ref,
                version=row["version"],
                author=row["author"],
                source_message_id=row["source_message_id"],
                at=row["at"],
                change=json.loads(
                    self._keyring.decrypt(
                        row["change_enc"], context=_history_context(kind, ref, row["version"])
                    )
                ),
            )
            for row in (self._conn.execute(query)).mappings()
        ]
