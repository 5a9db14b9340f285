"""What every group of transaction operations shares: the connection and keys."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

from esp_coord.crypto import Keyring
from esp_coord.store.engine import translated


class TxBase:
    """One open database transaction; subclasses add the operations."""

    __slots__ = ("_conn", "_keyring", "_dialect", "_audit_head")

    def __init__(self, conn: Connection, keyring: Keyring) -> None:
        self._conn = conn
        self._keyring = keyring
        self._dialect = conn.dialect.name
        # The audit head this transaction last wrote (see AuditOps.audit).
        self._audit_head: tuple[int, str] | None = None

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A nested transaction: an exception inside undoes only what was
        written inside, and propagates (a busy database as ``StoreBusy``)."""
        with translated(), self._conn.begin_nested():
            yield

    def _upsert(self, table: Table) -> Any:
        """An INSERT with ON CONFLICT support (both dialects spell it alike)."""
        if self._dialect == "postgresql":
            return postgresql.insert(table)
        if self._dialect == "sqlite":
            return sqlite.insert(table)
        raise NotImplementedError(f"unsupported database dialect {self._dialect}")
