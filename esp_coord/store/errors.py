"""The store's exceptions. Messages carry ids and references, never patient data."""

from __future__ import annotations


class StoreError(Exception):
    """Root of every error the store raises on purpose."""


class StoreBusy(StoreError):
    """The database stayed locked or busy (SQLite lock, PostgreSQL serialization
    failure or deadlock) through every attempt. Transient: try again later."""


class ConflictError(StoreError):
    """Optimistic concurrency: the document changed (or exists) since it was read."""

    def __init__(self, kind: str, ref: str, *, expected: int | None, found: int | None) -> None:
        self.kind = kind
        self.ref = ref
        self.expected = expected
        self.found = found
        if expected is None:
            what = "already exists"
        elif found is None:
            what = f"does not exist (expected version {expected})"
        else:
            what = f"is at version {found}, not {expected}"
        super().__init__(f"{kind} {ref} {what}")


class AlreadyProcessed(StoreError):
    """This mail (dedup key) was already recorded as processed."""

    def __init__(self, dedup_key: str) -> None:
        self.dedup_key = dedup_key
        super().__init__(f"mail {dedup_key} was already processed")


class UnknownDocument(StoreError, LookupError):
    """No document of this kind and reference."""

    def __init__(self, kind: str, ref: str) -> None:
        self.kind = kind
        self.ref = ref
        super().__init__(f"no {kind} with reference {ref}")


class OutboxStateError(StoreError):
    """An outbox transition that would break the state machine (e.g. sending a
    message that is already sent), or an unknown outbox item."""
