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


class StoreUnavailable(StoreError):
    """The database cannot be opened or brought up to date at start (no such
    server, a file that is not a database, no permission). The message names
    the database (never a password) and the driver's reason."""


class KeyMismatch(StoreError):
    """The key file is not the one that wrote the database: refused at start,
    before anything is written. The message names the key file, the database
    and the key ids that differ, never a key nor a fingerprint."""

    def __init__(self, *, key_file: str | None, database: str, problems: list[str]) -> None:
        self.key_file = key_file
        self.database = database
        self.problems = list(problems)
        keys = f"the key file {key_file} does" if key_file else "the keys given do"
        super().__init__(
            f"{keys} not match the database {database}: "
            f"{', '.join(self.problems)}; the database was written with another key file. "
            "Restore the right key file; nothing was changed."
        )


class LeaseLost(StoreError):
    """A platform worker no longer holds the team's lease: nothing was
    committed (``store.teams.Fence``), or nothing sent (``Delivery``)."""
