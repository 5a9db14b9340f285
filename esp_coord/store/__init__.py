"""Encrypted storage: dedup of incoming mail, the outbox, numbering, documents.

Usage::

    store = Store(config.database_url, Keyring.load(config.key_file))
    await store.start(stack)               # engine, key check, Alembic upgrade head
    await store.run(handle_one_mail)       # one transaction, retried while busy

``esp_coord.store.memory.MemoryStore`` is the same store in memory, for tests of
the service layer that need no database: ``MemoryTx`` has every method of ``Tx``
with the same signature and meaning (it passes the same contract tests, on the
``memory`` backend of tests/support/store.py), transactions and
savepoints are real (copy-on-write tables, committed in one step, one writer at
a time), but nothing is encrypted nor written to disk, and there is no SQL
(``Tx.connection``), key check or migration. ``MemoryStore(keyring)`` needs no
URL; stores given the same ``MemoryData`` share their "database".
"""

from esp_coord.store.errors import (
    AlreadyProcessed,
    ConflictError,
    KeyMismatch,
    LeaseLost,
    OutboxStateError,
    StoreBusy,
    StoreError,
    StoreUnavailable,
    UnknownDocument,
)
from esp_coord.store.records import Document, HistoryEntry, OutboxItem, ProcessedMail
from esp_coord.store.transaction import Store, Tx

__all__ = [
    "AlreadyProcessed",
    "ConflictError",
    "Document",
    "HistoryEntry",
    "KeyMismatch",
    "LeaseLost",
    "OutboxItem",
    "OutboxStateError",
    "ProcessedMail",
    "Store",
    "StoreBusy",
    "StoreError",
    "StoreUnavailable",
    "Tx",
    "UnknownDocument",
]
