"""Encrypted storage: dedup of incoming mail, the outbox, numbering, documents.

Usage::

    store = Store(config.database_url, Keyring.load(config.key_file))
    await store.start(stack)               # engine, key check, Alembic upgrade head
    await store.run(handle_one_mail)       # one transaction, retried while busy
"""

from esp_coord.store.errors import (
    AlreadyProcessed,
    ConflictError,
    KeyMismatch,
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
