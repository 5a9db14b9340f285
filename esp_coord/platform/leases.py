"""The platform's table of workers and team leases, on PostgreSQL.

A lease is a row of ``team_leases``: the worker holding it, a fencing token
that grows at every grant, and an expiry on the database's clock. A worker
renews its leases every beat; one that stops renewing (killed, paused, cut
off) loses them after ``ttl``, and any other worker may then take them.
Every statement is one atomic UPDATE on the row, so two workers racing for
a team cannot both win: the second finds the row changed and takes nothing.

What a worker may do with a team it holds is checked at each commit by
``store.teams.Fence``, not here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, text

# How long an acquisition waits for a row lock before giving up until the
# next beat: a takeover waits behind a commit's fence check, which is short,
# or behind a paused worker's open transaction, which PostgreSQL ends after
# ``IDLE_TIMEOUT`` (platform.worker).
ACQUIRE_LOCK_TIMEOUT = "2s"


@dataclass(frozen=True)
class LeaseRow:
    team: str
    worker: str | None
    token: int
    expires_at: datetime | None
    live: bool  # held and unexpired
    backlog: int | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None


@dataclass(frozen=True)
class WorkerRow:
    id: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    live: bool


@dataclass(frozen=True)
class Snapshot:
    """The platform as one transaction saw it."""

    workers: tuple[WorkerRow, ...]
    leases: tuple[LeaseRow, ...]
    now: datetime

    @property
    def live_workers(self) -> list[str]:
        return sorted(w.id for w in self.workers if w.live)

    def held(self) -> dict[str, list[str]]:
        """Live worker -> the teams it holds unexpired."""
        held: dict[str, list[str]] = {w: [] for w in self.live_workers}
        for lease in self.leases:
            if lease.live and lease.worker in held:
                held[lease.worker].append(lease.team)
        return held


def _seconds(ttl: timedelta) -> float:
    return ttl.total_seconds()


def register(conn: Connection, worker: str, host: str, pid: int) -> None:
    conn.execute(text(
        "INSERT INTO workers (id, host, pid, started_at, heartbeat_at) "
        "VALUES (:id, :host, :pid, now(), now()) "
        "ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()"),
        {"id": worker, "host": host, "pid": pid})


def heartbeat(conn: Connection, worker: str) -> None:
    conn.execute(text("UPDATE workers SET heartbeat_at = now() WHERE id = :id"), {"id": worker})


def forget(conn: Connection, worker: str) -> None:
    """A worker stopping cleanly: its leases free at once, its row gone."""
    conn.execute(text("UPDATE team_leases SET worker = NULL, expires_at = now() "
                      "WHERE worker = :id"), {"id": worker})
    conn.execute(text("DELETE FROM workers WHERE id = :id"), {"id": worker})


def prune(conn: Connection, older_than: timedelta) -> int:
    """Forget workers silent for ``older_than`` (killed long ago)."""
    result = conn.execute(text(
        "DELETE FROM workers WHERE heartbeat_at < now() - make_interval(secs => :s)"),
        {"s": _seconds(older_than)})
    return int(result.rowcount or 0)


def ensure_teams(conn: Connection, teams: list[str]) -> None:
    """A lease row (free, token 0) for every team that has none yet."""
    if teams:
        conn.execute(text("INSERT INTO team_leases (team, token) VALUES (:team, 0) "
                          "ON CONFLICT (team) DO NOTHING"), [{"team": t} for t in teams])


def snapshot(conn: Connection, ttl: timedelta) -> Snapshot:
    now = conn.execute(text("SELECT clock_timestamp()")).scalar_one()
    workers = tuple(
        WorkerRow(id, host, pid, started, beat, live=beat > now - ttl)
        for id, host, pid, started, beat in conn.execute(text(
            "SELECT id, host, pid, started_at, heartbeat_at FROM workers ORDER BY id")))
    leases = tuple(
        LeaseRow(team, worker, int(token), expires,
                 live=worker is not None and expires is not None and expires > now,
                 backlog=backlog, last_error=error, last_error_at=error_at)
        for team, worker, token, expires, backlog, error, error_at in conn.execute(text(
            "SELECT team, worker, token, expires_at, backlog, last_error, last_error_at "
            "FROM team_leases ORDER BY team")))
    return Snapshot(workers, leases, now)


def acquire(conn: Connection, team: str, worker: str, ttl: timedelta) -> int | None:
    """Take ``team`` if it is free or its lease expired: the new fencing
    token, or None if another worker holds it (or is taking it)."""
    conn.execute(text(f"SET LOCAL lock_timeout = '{ACQUIRE_LOCK_TIMEOUT}'"))
    row = conn.execute(text(
        "UPDATE team_leases SET worker = :worker, token = token + 1, "
        "acquired_at = clock_timestamp(), "
        "expires_at = clock_timestamp() + make_interval(secs => :ttl), "
        "last_error = NULL, last_error_at = NULL "
        "WHERE team = :team AND (worker IS NULL OR expires_at <= clock_timestamp()) "
        "RETURNING token"), {"team": team, "worker": worker, "ttl": _seconds(ttl)}).first()
    return int(row[0]) if row is not None else None


def renew(conn: Connection, team: str, worker: str, token: int, ttl: timedelta) -> bool:
    """Extend our lease; False if it is no longer ours under ``token``."""
    row = conn.execute(text(
        "UPDATE team_leases SET expires_at = clock_timestamp() + make_interval(secs => :ttl) "
        "WHERE team = :team AND worker = :worker AND token = :token RETURNING 1"),
        {"team": team, "worker": worker, "token": token, "ttl": _seconds(ttl)}).first()
    return row is not None


def release(conn: Connection, team: str, worker: str, token: int) -> None:
    conn.execute(text(
        "UPDATE team_leases SET worker = NULL, expires_at = clock_timestamp() "
        "WHERE team = :team AND worker = :worker AND token = :token"),
        {"team": team, "worker": worker, "token": token})


def report(conn: Connection, team: str, worker: str, token: int, *, backlog: int | None,
           error: tuple[str, datetime] | None) -> None:
    """What the holder knows of its team, for ``esp-coord status``."""
    values: dict[str, object] = {"team": team, "worker": worker, "token": token,
                                 "backlog": backlog}
    sets = "backlog = :backlog"
    if error is not None:
        sets += ", last_error = :error, last_error_at = :error_at"
        values.update(error=error[0][:200], error_at=error[1])
    conn.execute(text(f"UPDATE team_leases SET {sets} "
                      "WHERE team = :team AND worker = :worker AND token = :token"), values)
