"""Which teams a worker should take or give back: pure, decided every beat.

Each live worker decides alone from the same snapshot, and the leases'
atomic updates settle races. The rules converge to an even spread (counts
differ by at most one) while moving as few teams as possible:

- a worker holding more than its share, ceil(teams / live workers), gives
  the extra back;
- while the spread is uneven (the most loaded holds two more than the
  least), the most loaded worker (the first by id among equals) gives one
  back, for a less loaded one to take;
- a worker under its share takes free teams (never held, released, or whose
  holder stopped renewing), at most up to the share, the least loaded first:
  a worker takes only while no live worker holds fewer teams than it does.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Moves:
    take: list[str] = field(default_factory=list)
    give: list[str] = field(default_factory=list)


def share(teams: int, workers: int) -> int:
    return -(-teams // max(1, workers))


def _order(worker: str, team: str) -> str:
    # Each worker tries free teams in its own order: two workers taking at
    # once mostly try different teams instead of racing for the same one.
    return hashlib.sha256(f"{worker}/{team}".encode()).hexdigest()


def decide(me: str, teams: list[str], held: dict[str, list[str]]) -> Moves:
    """``held``: each live worker (``me`` included) -> the teams it holds."""
    held = {w: list(ts) for w, ts in held.items()}
    held.setdefault(me, [])
    mine = sorted(held[me])
    quota = share(len(teams), len(held))
    if len(mine) > quota:
        return Moves(give=mine[quota:])
    counts = {w: len(ts) for w, ts in held.items()}
    most, least = max(counts.values()), min(counts.values())
    if most - least > 1 and counts[me] == most and me == min(w for w in counts
                                                             if counts[w] == most):
        return Moves(give=mine[-1:])
    taken = {t for ts in held.values() for t in ts}
    free = sorted((t for t in teams if t not in taken), key=lambda t: _order(me, t))
    if not free or counts[me] > least:
        return Moves()
    # Up to the share, but leave the others' part of the free teams to them
    # when they are as little loaded as we are.
    peers = [w for w in counts if counts[w] == least]
    fair = -(-len(free) // len(peers))
    return Moves(take=free[:max(0, min(quota - len(mine), fair))])
