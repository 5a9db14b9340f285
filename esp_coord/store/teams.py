"""Whose rows a transaction touches, and whether it may still commit.

Every transaction of a ``Store`` belongs to one team (``Store(team=...)``):

- its inserts carry the team (``tables.team_column`` reads it from the
  connection's ``info``);
- on PostgreSQL it sets ``app.team`` for the transaction, and the row level
  security of migration 0009 shows and accepts only that team's rows, so a
  query that forgets the team still cannot reach another team's data.

On a platform (``esp_coord.platform``) a ``Fence`` is checked just before
each commit: the transaction reads the team's lease ``FOR SHARE`` and commits
only if it still holds it, unexpired, under its fencing token. The share
lock makes the check and the commit one step against a takeover, whose
``UPDATE`` of the lease waits for the commit (or sees it rolled back). A
worker paused past its lease, or cut off from the database, thus cannot
commit an answer, a move's record or a reminder for a team another worker
now serves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Connection, text

from esp_coord.store.errors import LeaseLost
from esp_coord.team_id import DEFAULT_TEAM

__all__ = ["DEFAULT_TEAM", "Fence", "LeaseLost", "enter_team"]

_SET_TEAM = text("SELECT set_config('app.team', :team, true)")
_HOLDS = text(
    "SELECT 1 FROM team_leases WHERE team = :team AND worker = :worker AND token = :token "
    "AND expires_at > clock_timestamp() FOR SHARE")


def enter_team(conn: Connection, team: str) -> None:
    """Make ``team`` the owner of what the open transaction reads and writes."""
    conn.info["team"] = team
    if conn.dialect.name == "postgresql":
        conn.execute(_SET_TEAM, {"team": team})


@dataclass
class Fence:
    """The lease a worker must still hold for ``team`` at each commit.

    ``token`` is set by the worker when it is granted the lease; ``on_lost``
    is told (once per loss) when a commit was refused, so that the worker
    stops serving the team at once rather than at its next renewal."""

    team: str
    worker: str
    token: int
    on_lost: Callable[[], None] = field(default=lambda: None)

    def check(self, conn: Connection) -> None:
        row = conn.execute(_HOLDS, {"team": self.team, "worker": self.worker,
                                    "token": self.token}).first()
        if row is None:
            self.on_lost()
            raise LeaseLost(f"the lease of team {self.team} (token {self.token}) is no "
                            "longer held by this worker: nothing committed")
