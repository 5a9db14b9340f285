"""Is this key file the one that wrote this database? Checked at every start.

A wrong but valid key file would otherwise be accepted: every read of stored
data fails, and every write (a new plan, a blind index of a patient's INS)
goes in under the wrong key, so that the right key later cannot read it back.
The database therefore remembers which keys wrote it, as fingerprints
(``Keyring.fingerprints``: an HMAC of a fixed label under each key, never the
key) in ``key_fingerprints``, and ``Store.start`` compares, before any
migration or write:

- every data key id the database knows must be in the key file, with the same
  fingerprint (a key file that adds a new current key, as ``keygen --rotate``
  does, is accepted, and the new id is recorded);
- the blind-index key must be the same.

A database with no fingerprint yet (a fresh one, or one created before
revision 0004) gets them recorded, but only after the key file decrypted one
stored value per key id found among the documents, the outbox and the
reminders; if one does not decrypt, the start is refused all the same.

Messages name the key file, the database and key ids, never a key, a
fingerprint or stored data.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Column, Connection, Table, create_engine, func, inspect, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from esp_coord.crypto import DATA_KEY, INDEX_KEY, DecryptionError, Keyring
from esp_coord.store.documents import _document_context
from esp_coord.store.engine import sync_url
from esp_coord.store.errors import KeyMismatch, StoreUnavailable
from esp_coord.store.outbox import _context as _outbox_context
from esp_coord.store.reminders import _context as _reminder_context
from esp_coord.store.tables import documents, key_fingerprints, outbox, reminders

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Encrypted:
    """A table holding tokens: the token column and how to rebuild a row's context."""

    table: Table
    token: Column[bytes]
    columns: tuple[Column[object], ...]
    context: Callable[..., bytes]


_ENCRYPTED = (
    _Encrypted(documents, documents.c.data_enc,
               (documents.c.kind, documents.c.ref, documents.c.version), _document_context),
    _Encrypted(outbox, outbox.c.raw_enc, (outbox.c.message_id,), _outbox_context),
    _Encrypted(reminders, reminders.c.payload_enc, (reminders.c.key,), _reminder_context),
)


def describe_database(url: str) -> str:
    """The database as an operator knows it: the SQLite file, or the URL
    without its password."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ":memory:"
        if database == ":memory:" or database.startswith("file:"):
            return database
        return os.path.abspath(database)
    return parsed.set(drivername=parsed.get_backend_name()).render_as_string(
        hide_password=True)


def reason(exc: BaseException) -> str:
    """Why the driver could not open a database: its first line (the driver's
    words, no SQL, no parameters), else the exception's type."""
    orig = getattr(exc, "orig", None) or exc
    text = (orig.strerror if isinstance(orig, OSError) and orig.strerror else str(orig)).strip()
    return text.splitlines()[0][:200] if text else type(orig).__name__


def check_keys(conn: Connection, keyring: Keyring, database: str) -> list[tuple[str, int]]:
    """Raise ``KeyMismatch`` unless ``keyring`` is the one that wrote the
    database; return the fingerprints still to record (see ``record_keys``).
    Reads only, and copes with a schema at any revision (even none)."""
    ours = keyring.fingerprints()
    stored = _stored(conn)
    if stored:
        problems = _compare(stored, ours)
    else:
        problems = _probe(conn, keyring)
    if problems:
        source = keyring.source
        raise KeyMismatch(key_file=str(source) if source else None, database=database,
                          problems=problems)
    return [k for k in ours if k not in stored]


def database_keys_match(url: str, keyring: Keyring) -> bool:
    """For ``esp-coord check``: False when there is no SQLite file yet, True
    when ``keyring`` would be accepted; raises ``KeyMismatch`` (or
    ``StoreUnavailable``) otherwise. Creates, migrates and records nothing."""
    parsed = sync_url(url)
    database = describe_database(url)
    if parsed.get_backend_name() == "sqlite" and not os.path.exists(database):
        return False
    engine = create_engine(parsed, hide_parameters=True)
    try:
        with engine.connect() as conn:
            check_keys(conn, keyring, database)
            conn.rollback()
    except (DBAPIError, OSError) as exc:
        raise StoreUnavailable(f"cannot open the database {database}: {reason(exc)}"
                               ) from exc
    finally:
        engine.dispose()
    return True


def record_keys(conn: Connection, keyring: Keyring, missing: list[tuple[str, int]],
                database: str) -> None:
    """Record the fingerprints ``check_keys`` found missing (after the
    migrations created the table), then check again: two first starts with
    different key files at once must not both pass."""
    ours = keyring.fingerprints()
    if missing:
        insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)
        now = datetime.now(UTC)
        conn.execute(
            insert(key_fingerprints).on_conflict_do_nothing(),
            [{"kind": kind, "key_id": key_id, "fingerprint": ours[(kind, key_id)],
              "recorded_at": now} for kind, key_id in missing])
        for kind, key_id in missing:
            what = "blind-index key" if kind == INDEX_KEY else f"data key id {key_id}"
            log.info("recorded the fingerprint of the %s", what)
    problems = _compare(_stored(conn), ours)
    if problems:
        source = keyring.source
        raise KeyMismatch(key_file=str(source) if source else None, database=database,
                          problems=problems)


def _stored(conn: Connection) -> dict[tuple[str, int], str]:
    if not inspect(conn).has_table(key_fingerprints.name):
        return {}
    rows = conn.execute(select(key_fingerprints.c.kind, key_fingerprints.c.key_id,
                               key_fingerprints.c.fingerprint))
    return {(kind, int(key_id)): fingerprint for kind, key_id, fingerprint in rows}


def _compare(stored: dict[tuple[str, int], str], ours: dict[tuple[str, int], str]
             ) -> list[str]:
    problems = []
    for (kind, key_id), fingerprint in sorted(stored.items()):
        if kind == DATA_KEY:
            if (kind, key_id) not in ours:
                problems.append(f"key id {key_id} is missing from the key file")
            elif ours[(kind, key_id)] != fingerprint:
                problems.append(f"key id {key_id} differs")
        elif kind == INDEX_KEY and ours[(INDEX_KEY, 0)] != fingerprint:
            problems.append("the blind-index key differs")
    return problems


def _probe(conn: Connection, keyring: Keyring) -> list[str]:
    """No fingerprint recorded: decrypt one stored value per key id in use."""
    tables = set(inspect(conn).get_table_names())
    failed: dict[int, str] = {}
    verified: set[int] = set()
    for spec in _ENCRYPTED:
        if spec.table.name not in tables:
            continue
        pk = spec.table.c.id
        header = func.substr(spec.token, 2, 4)  # the token's key id (crypto.py layout)
        firsts = select(func.min(pk)).where(spec.token.is_not(None)).group_by(header)
        rows = conn.execute(select(spec.token, *spec.columns).where(pk.in_(firsts)))
        for token, *fields in rows:
            token = bytes(token)
            try:
                key_id = Keyring.token_key_id(token)
            except DecryptionError:
                failed.setdefault(-1, "a stored value is not a token of this service")
                continue
            if key_id in verified or key_id in failed:
                continue
            if key_id not in keyring.key_ids:
                failed[key_id] = (f"key id {key_id}, used by the stored data, is missing "
                                  "from the key file")
                continue
            try:
                keyring.decrypt(token, context=spec.context(*fields))
            except DecryptionError:
                failed[key_id] = f"key id {key_id} differs (it cannot decrypt the stored data)"
            else:
                verified.add(key_id)
    return [failed[k] for k in sorted(failed)]
