"""The audit trail: who read or changed which plan, when, from which mail.

Append-only and hash-chained. Record ``n`` (``id`` = its position, from 1 with
no gap) stores ``prev_hash`` = the hash of record ``n - 1`` (``GENESIS`` for
the first) and ``hash`` = SHA-256 over a canonical serialisation of its own
fields and ``prev_hash``. ``audit_head`` keeps the last position and hash.

What ``verify_audit`` detects: a record edited in place (its hash no longer
matches), deleted or reordered (a gap in the positions, or a ``prev_hash``
that does not follow), the last records deleted (the head is ahead of the
table). What it cannot detect on its own: someone able to write the database
who rewrites the table *and* the head, recomputing every hash. Against that,
the head hash printed by ``esp-coord audit verify`` must be noted outside the
database; ``verify_audit(anchor=(n, hash))`` then checks that record ``n``
still has that hash.

Appends are serialised: on PostgreSQL the head row is read ``FOR UPDATE``
(a second writer waits for the first to commit, then reads the new head); on
SQLite every write transaction already holds the database's write lock
(``BEGIN IMMEDIATE``, see transaction.py). The lock is held until the mail's
transaction commits, so handlers audit last, after their other writes: every
transaction then takes its locks in the same order (documents, then head).

Details are written by the service, never copied from a mail: "action 3",
"version 4", "2 plans". They must never hold patient data.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update

from esp_coord.store.base import TxBase
from esp_coord.store.tables import audit_head, audit_log

GENESIS = "0" * 64
MAX_DETAIL = 200
_HEAD_ID = 1
_BATCH = 1000


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: int
    at: datetime
    actor: str
    action: str
    ref: str | None
    source_message_id: str | None
    detail: str
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class BrokenRecord:
    id: int
    reason: str


@dataclass(frozen=True, slots=True)
class ChainReport:
    """``records`` read; ``head`` = (position, hash) of the last good record."""

    records: int
    head: tuple[int, str]
    broken: BrokenRecord | None

    @property
    def intact(self) -> bool:
        return self.broken is None


def _timestamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def record_hash(*, id: int, at: datetime, actor: str, action: str, ref: str | None,
                source_message_id: str | None, detail: str, prev_hash: str) -> str:
    """SHA-256 (hex) over the canonical JSON of the record's fields."""
    canonical = json.dumps(
        {"id": id, "at": _timestamp(at), "actor": actor, "action": action, "ref": ref,
         "source_message_id": source_message_id, "detail": detail, "prev_hash": prev_hash},
        ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def audit_fields(actor: str, action: str, ref: str | None, source_message_id: str | None,
                 detail: str, at: datetime) -> dict[str, Any]:
    """A record's fields as stored and hashed (``audit``'s checks, shared with
    the memory store): raises ``ValueError`` for what must not be recorded."""
    if not action or len(action) > 32:
        raise ValueError("audit action must be 1 to 32 characters")
    if len(detail) > MAX_DETAIL:
        raise ValueError(f"audit detail longer than {MAX_DETAIL} characters")
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("naive datetime given to the audit; pass a timezone-aware one")
    # The stored value is what verification will read back: UTC, microseconds.
    return {"at": at.astimezone(UTC), "actor": actor.strip().lower(), "action": action,
            "ref": ref, "source_message_id": source_message_id, "detail": detail}


def _rehash(r: AuditRecord) -> str:
    return record_hash(id=r.id, at=r.at, actor=r.actor, action=r.action, ref=r.ref,
                       source_message_id=r.source_message_id, detail=r.detail,
                       prev_hash=r.prev_hash)


def _record(row: object) -> AuditRecord:
    m = row._mapping  # type: ignore[attr-defined]
    return AuditRecord(id=m["id"], at=m["at"], actor=m["actor"], action=m["action"],
                       ref=m["ref"], source_message_id=m["source_message_id"],
                       detail=m["detail"], prev_hash=m["prev_hash"], hash=m["hash"])


class AuditOps(TxBase):
    __slots__ = ()

    def audit(self, actor: str, action: str, ref: str | None,
                    source_message_id: str | None, detail: str, at: datetime) -> int:
        """Append one record in this transaction; returns its position."""
        fields = audit_fields(actor, action, ref, source_message_id, detail, at)
        # A batch of mails shares one transaction: the head this transaction
        # wrote last is most likely still the head, and an UPDATE guarded by
        # it both checks and moves it in one statement. When it matches
        # nothing (a savepoint rolled back, another writer came first on
        # PostgreSQL), the head is read and locked as usual.
        head = self._audit_head
        digest = ""
        if head is not None:
            digest = record_hash(id=head[0] + 1, prev_hash=head[1], **fields)
            moved = self._conn.execute(self._statement("audit_move_head", lambda: (
                update(audit_head)
                .where(audit_head.c.id == _HEAD_ID, audit_head.c.seq == bindparam("was_seq"),
                       audit_head.c.hash == bindparam("was_hash"))
                .values(seq=bindparam("new_seq"), hash=bindparam("new_hash")))),
                {"was_seq": head[0], "was_hash": head[1], "new_seq": head[0] + 1,
                 "new_hash": digest})
            if moved.rowcount != 1:
                head = None
        if head is None:
            head = self._lock_head()
            digest = record_hash(id=head[0] + 1, prev_hash=head[1], **fields)
            self._conn.execute(
                update(audit_head).where(audit_head.c.id == _HEAD_ID)
                .values(seq=head[0] + 1, hash=digest))
        position = head[0] + 1
        self._conn.execute(self._statement("audit_insert", lambda: insert(audit_log)),
                           {"id": position, "prev_hash": head[1], "hash": digest, **fields})
        self._audit_head = (position, digest)
        return position

    def _lock_head(self) -> tuple[int, str]:
        query = (select(audit_head.c.seq, audit_head.c.hash)
                 .where(audit_head.c.id == _HEAD_ID).with_for_update())
        row = (self._conn.execute(query)).first()
        if row is None:
            # Only if the migration's row was removed by hand: an empty head
            # over a non-empty table then fails verification, as it should.
            self._conn.execute(
                self._upsert(audit_head).values(id=_HEAD_ID, seq=0, hash=GENESIS)
                .on_conflict_do_nothing())
            row = (self._conn.execute(query)).one()
        return int(row.seq), str(row.hash)

    def audit_records(self, ref: str | None = None, *, actor: str | None = None,
                            limit: int | None = None) -> list[AuditRecord]:
        """Records in chain order, for one plan and/or one actor."""
        query = select(audit_log).order_by(audit_log.c.id)
        if ref is not None:
            query = query.where(audit_log.c.ref == ref)
        if actor is not None:
            query = query.where(audit_log.c.actor == actor.strip().lower())
        if limit is not None:
            query = query.limit(limit)
        return [_record(row) for row in (self._conn.execute(query)).all()]

    def verify_audit(self, *, anchor: tuple[int, str] | None = None) -> ChainReport:
        """Walk the whole chain; stop at the first broken record.

        Safe while the service appends: the head is read first and the walk
        goes up to it (records 1..head were committed with it); records found
        beyond it must be covered by a newer head, else they were added
        outside the service.
        """
        walk = _Walk(anchor)
        head = self._read_head()
        while True:
            broken = self._walk_to(walk, head[0] if head else None)
            if broken is not None:
                return walk.report(broken)
            beyond = (self._conn.execute(
                select(audit_log.c.id).where(audit_log.c.id > walk.last)
                .order_by(audit_log.c.id).limit(1))).scalar_one_or_none()
            if beyond is None or head is None:
                break
            newer = self._read_head()
            if newer is None or newer[0] <= head[0]:
                return walk.report(BrokenRecord(
                    beyond, "it lies beyond the head: added outside the service"))
            head = newer
        return walk.conclude(head)

    def _read_head(self) -> tuple[int, str] | None:
        row = (self._conn.execute(
            select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == _HEAD_ID)
        )).first()
        return (int(row.seq), str(row.hash)) if row is not None else None

    def _walk_to(self, walk: _Walk, last: int | None) -> BrokenRecord | None:
        while True:
            query = select(audit_log).where(audit_log.c.id > walk.last)
            if last is not None:
                query = query.where(audit_log.c.id <= last)
            rows = [_record(r) for r in (self._conn.execute(
                query.order_by(audit_log.c.id).limit(_BATCH))).all()]
            for r in rows:
                broken = walk.step(r)
                if broken is not None:
                    return broken
            if len(rows) < _BATCH:
                return None


class _Walk:
    """Where a verification stands: the last good record and its hash."""

    def __init__(self, anchor: tuple[int, str] | None) -> None:
        self.anchor = anchor
        self.anchor_seen = False
        self.last = 0
        self.prev = GENESIS
        self.count = 0

    def step(self, r: AuditRecord) -> BrokenRecord | None:
        broken = _check(r, self.last + 1, self.prev)
        if broken is not None:
            return broken
        if self.anchor is not None and r.id == self.anchor[0]:
            self.anchor_seen = True
            if r.hash != self.anchor[1]:
                return BrokenRecord(r.id, "its hash differs from the one noted earlier: the "
                                          "chain was rewritten up to here")
        self.last, self.prev, self.count = r.id, r.hash, self.count + 1
        return None

    def conclude(self, head: tuple[int, str] | None) -> ChainReport:
        """The report once every record up to ``head`` (the head row, None when
        missing) was walked without a break: does the head agree?"""
        if head is None:
            if self.last:
                return self.report(BrokenRecord(
                    self.last, "the head row is missing (audit_head was tampered with)"))
        elif head[0] > self.last:
            return self.report(BrokenRecord(
                self.last + 1, f"the head says {head[0]} records but the table ends at "
                               f"{self.last}: the last records were deleted"))
        elif head[1] != self.prev:
            return self.report(BrokenRecord(
                self.last, "the head's hash does not match the last record"))
        if self.anchor is not None and not self.anchor_seen:
            return self.report(BrokenRecord(
                self.anchor[0], f"record {self.anchor[0]}, noted earlier, is missing"))
        return self.report(None)

    def report(self, broken: BrokenRecord | None) -> ChainReport:
        return ChainReport(self.count, (self.last, self.prev), broken)


def _check(r: AuditRecord, expected_id: int, prev: str) -> BrokenRecord | None:
    if r.id != expected_id:
        missing = (f"record {expected_id} is missing" if r.id == expected_id + 1
                   else f"records {expected_id} to {r.id - 1} are missing")
        return BrokenRecord(r.id, f"{missing} (deleted)")
    if r.prev_hash != prev:
        what = "the start of the chain" if expected_id == 1 else f"record {expected_id - 1}"
        return BrokenRecord(r.id, f"it does not follow {what} (a record before it was "
                                  "edited, deleted or moved)")
    if _rehash(r) != r.hash:
        return BrokenRecord(r.id, "its content does not match its hash (edited)")
    return None
