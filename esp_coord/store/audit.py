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

from sqlalchemy import insert, select, update

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

    async def audit(self, actor: str, action: str, ref: str | None,
                    source_message_id: str | None, detail: str, at: datetime) -> int:
        """Append one record in this transaction; returns its position."""
        if not action or len(action) > 32:
            raise ValueError("audit action must be 1 to 32 characters")
        if len(detail) > MAX_DETAIL:
            raise ValueError(f"audit detail longer than {MAX_DETAIL} characters")
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("naive datetime given to the audit; pass a timezone-aware one")
        # The stored value is what verification will read back: UTC, microseconds.
        at = at.astimezone(UTC)
        seq, prev = await self._lock_head()
        position = seq + 1
        fields = {"id": position, "at": at, "actor": actor.strip().lower(), "action": action,
                  "ref": ref, "source_message_id": source_message_id, "detail": detail,
                  "prev_hash": prev}
        digest = record_hash(**fields)  # type: ignore[arg-type]
        await self._conn.execute(insert(audit_log).values(**fields, hash=digest))
        await self._conn.execute(
            update(audit_head).where(audit_head.c.id == _HEAD_ID).values(seq=position,
                                                                         hash=digest))
        return position

    async def _lock_head(self) -> tuple[int, str]:
        query = (select(audit_head.c.seq, audit_head.c.hash)
                 .where(audit_head.c.id == _HEAD_ID).with_for_update())
        row = (await self._conn.execute(query)).first()
        if row is None:
            # Only if the migration's row was removed by hand: an empty head
            # over a non-empty table then fails verification, as it should.
            await self._conn.execute(
                self._upsert(audit_head).values(id=_HEAD_ID, seq=0, hash=GENESIS)
                .on_conflict_do_nothing())
            row = (await self._conn.execute(query)).one()
        return int(row.seq), str(row.hash)

    async def audit_records(self, ref: str | None = None, *, actor: str | None = None,
                            limit: int | None = None) -> list[AuditRecord]:
        """Records in chain order, for one plan and/or one actor."""
        query = select(audit_log).order_by(audit_log.c.id)
        if ref is not None:
            query = query.where(audit_log.c.ref == ref)
        if actor is not None:
            query = query.where(audit_log.c.actor == actor.strip().lower())
        if limit is not None:
            query = query.limit(limit)
        return [_record(row) for row in (await self._conn.execute(query)).all()]

    async def verify_audit(self, *, anchor: tuple[int, str] | None = None) -> ChainReport:
        """Walk the whole chain; stop at the first broken record."""
        expected_id, prev = 1, GENESIS
        count = 0
        anchor_seen = anchor is None
        while True:
            query = (select(audit_log).where(audit_log.c.id >= expected_id)
                     .order_by(audit_log.c.id).limit(_BATCH))
            rows = [_record(r) for r in (await self._conn.execute(query)).all()]
            for r in rows:
                broken = _check(r, expected_id, prev)
                if broken is not None:
                    return ChainReport(count, (expected_id - 1, prev), broken)
                if anchor is not None and r.id == anchor[0]:
                    anchor_seen = True
                    if r.hash != anchor[1]:
                        return ChainReport(count, (expected_id - 1, prev), BrokenRecord(
                            r.id, "its hash differs from the one noted earlier: the chain "
                                  "was rewritten up to here"))
                count += 1
                expected_id, prev = r.id + 1, r.hash
            if len(rows) < _BATCH:
                break
        last = expected_id - 1
        head = (await self._conn.execute(
            select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == _HEAD_ID)
        )).first()
        if head is None:
            if last:
                return ChainReport(count, (last, prev), BrokenRecord(
                    last, "the head row is missing (audit_head was tampered with)"))
        elif head.seq != last or head.hash != prev:
            if head.seq > last:
                why = (f"the head says {head.seq} records but the table ends at {last}: "
                       "the last records were deleted")
            else:
                why = f"the head (record {head.seq}) does not match the last record"
            return ChainReport(count, (last, prev), BrokenRecord(last + 1 if head.seq > last
                                                                 else last, why))
        if not anchor_seen:
            assert anchor is not None
            return ChainReport(count, (last, prev), BrokenRecord(
                anchor[0], f"record {anchor[0]}, noted earlier, is missing"))
        return ChainReport(count, (last, prev), None)


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
