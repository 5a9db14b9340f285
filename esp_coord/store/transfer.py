"""A team's rows moved from its own SQLite database onto a platform's PostgreSQL.

A team that began alone (``serve --config`` on SQLite) joins a regional
platform (``serve --teams`` on PostgreSQL): its plans, meetings, absences,
audit trail, mail records, outbox, reminders, received documents and key
fingerprints go under its platform id, in one transaction (all or nothing).

- Nothing is decrypted: the tokens are copied as they are. Their contexts
  name rows (``document:plan:PPS-2026-0001:v3``), not teams, so the team's
  key file reads them on the platform. That key file must be the one that
  wrote the source (``check_keys``), or the move is refused before any write.
- Surrogate ids (``id`` columns) are the platform's own: each row gets a new
  one, and the rows that point to a document follow it. The audit trail's
  positions are the team's own and are kept, so the chain verifies as
  before (its records hash neither ids of other tables nor the team).
- The platform must be at this version's schema, and the team must have no
  row there yet: a move is done once, before the team's first worker.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Table, insert, select, text
from sqlalchemy.exc import DBAPIError

from esp_coord.crypto import Keyring
from esp_coord.store.database import head_revision
from esp_coord.store.engine import make_engine
from esp_coord.store.errors import StoreError
from esp_coord.store.keycheck import check_keys, describe_database
from esp_coord.store.tables import metadata
from esp_coord.store.teams import enter_team

__all__ = ["TransferRefused", "Transferred", "transfer_team"]

# The platform's own tables: who works which team, not a team's data.
_PLATFORM_TABLES = frozenset(("workers", "team_leases"))
# Rows go in by chunks of at most this many rows or bytes (a received
# document's archive may weigh tens of MiB).
_CHUNK, _CHUNK_BYTES = 500, 16 * 2**20


class TransferRefused(StoreError):
    """Why nothing was moved; names databases, tables and teams, never data."""


@dataclass(frozen=True)
class Transferred:
    team: str
    rows: Mapping[str, int]  # table -> rows moved


def _team_tables() -> list[Table]:
    # Parents before children (documents before what points to them).
    return [t for t in metadata.sorted_tables if t.name not in _PLATFORM_TABLES]


def _revision(conn: Connection) -> str | None:
    try:
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError:  # no schema at all
        conn.rollback()
        return None


def _surrogate(table: Table) -> str | None:
    """The name of a table's own integer id, given anew on the platform."""
    pk = list(table.primary_key.columns)
    if len(pk) == 1 and pk[0].name == "id" and pk[0].autoincrement is not False:
        return "id"
    return None


def _rows(conn: Connection, table: Table) -> Iterator[dict[str, Any]]:
    # In the order of their keys: new ids keep the old ones' order.
    for row in conn.execute(select(table).order_by(*table.primary_key.columns)).mappings():
        yield dict(row)


def transfer_team(source_url: str, target_url: str, *, team: str, keyring: Keyring,
                  target_options: Mapping[str, Any] | None = None) -> Transferred:
    """Move the one team of ``source_url`` (SQLite) to ``team`` on ``target_url``."""
    source = make_engine(source_url, busy_timeout=30.0)
    target = make_engine(target_url, busy_timeout=30.0, options=target_options)
    try:
        return _transfer(source, target, team=team, keyring=keyring,
                         source_name=describe_database(source_url),
                         target_name=describe_database(target_url))
    finally:
        source.dispose()
        target.dispose()


def _transfer(source: Engine, target: Engine, *, team: str, keyring: Keyring,
              source_name: str, target_name: str) -> Transferred:
    if source.dialect.name != "sqlite":
        raise TransferRefused(f"{source_name}: the team to move must be on SQLite")
    if target.dialect.name != "postgresql":
        raise TransferRefused(f"{target_name}: a platform is on PostgreSQL")
    head = head_revision()
    with source.connect() as src, target.connect() as dst:
        for conn, name, how in ((src, source_name, "serve it once with this version, or "
                                 "run esp-coord migrate --database-url on it"),
                                (dst, target_name, "run esp-coord migrate as its owner")):
            revision = _revision(conn)
            if revision != head:
                raise TransferRefused(f"{name}: schema at revision {revision or 'none'}, "
                                      f"this esp-coord needs {head}: {how}")
        check_keys(src, keyring, source_name)  # KeyMismatch names the key file
        tables = _team_tables()
        found = {t for table in tables
                 for t in src.execute(select(table.c.team).distinct()).scalars()}
        if len(found) > 1:
            raise TransferRefused(f"{source_name}: holds {len(found)} teams; "
                                  "only a one-team database can be moved")
        if not found:
            raise TransferRefused(f"{source_name}: holds no data to move")
        dst.rollback()  # the revision was read: the move is a transaction of its own
        with dst.begin():
            enter_team(dst, team)
            for table in tables:
                if dst.execute(select(table.c.team).where(table.c.team == team)
                               .limit(1)).first() is not None:
                    raise TransferRefused(
                        f"{target_name}: team {team} already has rows ({table.name}); "
                        "a team is moved once, before its first worker")
            moved = _copy(src, dst, tables, team)
    return Transferred(team, moved)


def _copy(src: Connection, dst: Connection, tables: list[Table], team: str
          ) -> dict[str, int]:
    referenced = {fk.column.table.name for t in tables for c in t.columns
                  for fk in c.foreign_keys}
    new_ids: dict[str, dict[int, int]] = {}
    moved: Counter[str] = Counter()
    for table in tables:
        surrogate = _surrogate(table)
        parents = {c.name: next(iter(c.foreign_keys)).column.table.name
                   for c in table.columns if c.foreign_keys}
        chunk: list[dict[str, Any]] = []
        size = 0
        for row in _rows(src, table):
            moved[table.name] += 1
            row["team"] = team
            for column, parent in parents.items():
                row[column] = new_ids[parent][row[column]]
            if surrogate is not None:
                old = row.pop(surrogate)
                if table.name in referenced:  # one at a time, for its new id
                    new_ids.setdefault(table.name, {})[old] = dst.execute(
                        insert(table).values(row).returning(table.c[surrogate])).scalar_one()
                    continue
            chunk.append(row)
            size += sum(len(v) for v in row.values() if isinstance(v, (bytes, str)))
            if len(chunk) >= _CHUNK or size >= _CHUNK_BYTES:
                dst.execute(insert(table), chunk)
                chunk, size = [], 0
        if chunk:
            dst.execute(insert(table), chunk)
    return dict(moved)
