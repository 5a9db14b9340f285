"""The memory store's tables and transaction machinery (see memory.py).

A ``MemoryData`` holds the committed tables: a dict of containers (dicts and
lists of frozen records) that no one changes in place. A transaction starts
from a shallow copy of that dict and copies a container the first time it
writes to it (at each savepoint level), so a commit is one assignment and a
rollback is dropping the copy.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from esp_coord.crypto import Keyring
from esp_coord.store.audit import GENESIS
from esp_coord.store.documents import _dump
from esp_coord.store.errors import StoreBusy, StoreError


def _empty_tables() -> dict[str, Any]:
    return {
        "mail": {},            # dedup_key -> _Mail
        "counters": {},        # (kind, year) -> last number given
        "outbox": {},          # id -> OutboxItem
        "outbox_ids": {},      # message_id -> id
        "bounced": {},         # address -> BouncedAddress
        "documents": {},       # (kind, ref) -> Document, in creation (id) order
        "history": [],         # HistoryEntry, in id order
        "audit": [],           # AuditRecord, in position order
        "audit_head": (0, GENESIS),
        "reminders": {},       # id -> Reminder
        "reminder_keys": {},   # key -> id
        "received": {},        # ref -> memory_received._Row
        "ids": {},             # table -> last id given (rolled back with the rest)
    }


class MemoryData:
    """What memory stores share, like a database file: the committed tables
    (a dict never changed in place, replaced whole at each commit) and the
    lock that serialises writers."""

    def __init__(self) -> None:
        self.tables: dict[str, Any] = _empty_tables()
        self.lock = threading.Lock()


def utc(value: datetime) -> datetime:
    """As the SQL store's ``UTCDateTime``: naive refused, aware stored as UTC."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("naive datetime given to the store; pass a timezone-aware one")
    return value.astimezone(UTC)


def utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else utc(value)


def json_copy(data: Mapping[str, Any]) -> Any:
    """``data`` as the SQL store gives it back: through its JSON, a new copy."""
    return json.loads(_dump(data))


class MemoryTxBase:
    """One open transaction on a ``MemoryData``: the tables it reads, the ones
    it copied to write, and whether it holds the writers' lock."""

    __slots__ = ("_data", "_keyring", "_busy_timeout", "_base", "_tables", "_owned",
                 "_locked", "_open")

    def __init__(self, data: MemoryData, keyring: Keyring, *, locked: bool,
                 busy_timeout: float) -> None:
        self._data = data
        self._keyring = keyring
        self._busy_timeout = busy_timeout
        self._base = data.tables
        self._tables = dict(self._base)
        self._owned: set[str] = set()  # tables copied at this savepoint level
        self._locked = locked
        self._open = True

    def _read(self, name: str) -> Any:
        if not self._open:
            raise StoreError("this transaction has ended")
        return self._tables[name]

    def _write(self, name: str) -> Any:
        """The table ``name``, copied first if this level has not yet."""
        self._writer()
        if name not in self._owned:
            self._tables[name] = copy.copy(self._tables[name])
            self._owned.add(name)
        return self._tables[name]

    def _put(self, name: str, value: Any) -> None:
        """Replace a value kept whole (the audit head)."""
        self._writer()
        self._tables[name] = value

    def _new_id(self, table: str) -> int:
        ids = self._write("ids")
        ids[table] = ids.get(table, 0) + 1
        return int(ids[table])

    def _writer(self) -> None:
        if not self._open:
            raise StoreError("this transaction has ended")
        if self._locked:
            return
        # A readonly transaction's first write: SQLite upgrades to the write
        # lock, and refuses if its snapshot is no longer the latest.
        if not self._data.lock.acquire(timeout=self._busy_timeout):
            raise StoreBusy("the memory store stayed locked by another writer")
        if self._data.tables is not self._base:
            self._data.lock.release()
            raise StoreBusy("another writer committed since this transaction began")
        self._locked = True

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A nested transaction: an exception inside undoes only what was
        written inside, and propagates (a busy database as ``StoreBusy``)."""
        if not self._open:
            raise StoreError("this transaction has ended")
        saved, owned = dict(self._tables), self._owned
        self._owned = set()  # what the outer level owns must stay as it is
        try:
            yield
        except BaseException:
            self._tables, self._owned = saved, owned
            raise
        self._owned |= owned

    def _end(self, commit: bool) -> None:
        """Commit (install the tables) or throw them away; let the lock go."""
        if not self._open:
            return
        self._open = False
        if self._locked:
            try:
                if commit:
                    self._data.tables = self._tables
            finally:
                self._locked = False
                self._data.lock.release()


