"""The spread of teams over workers (esp_coord.platform.balance), simulated.

Workers decide one after the other from the state as it is (the leases'
atomic updates make every decision act on the current rows), workers join
and leave at random; after each change the platform must settle, within a
few beats, with every team served by exactly one worker and counts that
differ by at most one, having moved few teams.
"""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from esp_coord.platform.balance import decide, share


def beat(held: dict[str, list[str]], teams: list[str], rng: random.Random) -> int:
    """One beat of every live worker, in a random order; teams moved."""
    moved = 0
    for me in rng.sample(sorted(held), len(held)):
        moves = decide(me, teams, held)
        for team in moves.give:
            held[me].remove(team)
            moved += 1
        taken = {t for ts in held.values() for t in ts}
        for team in moves.take:
            if team not in taken:  # a conditional UPDATE: the first one wins
                held[me].append(team)
                taken.add(team)
    return moved


def settled(held: dict[str, list[str]], teams: list[str]) -> bool:
    served = [t for ts in held.values() for t in ts]
    counts = [len(ts) for ts in held.values()]
    return sorted(served) == sorted(teams) and max(counts) - min(counts) <= 1


@settings(max_examples=200, deadline=None)
@given(teams=st.integers(1, 60), changes=st.lists(st.integers(-3, 3), min_size=1,
                                                   max_size=6), seed=st.integers(0, 10**6))
def test_workers_joining_and_leaving_settle_to_an_even_spread(
        teams: int, changes: list[int], seed: int) -> None:
    rng = random.Random(seed)
    names = [f"team-{i:02d}" for i in range(teams)]
    held: dict[str, list[str]] = {"w0": []}
    next_id = 1
    for change in changes:
        if change > 0:
            for _ in range(change):
                held[f"w{next_id}"] = []
                next_id += 1
        else:
            for gone in rng.sample(sorted(held), min(-change, len(held) - 1)):
                del held[gone]  # its leases expire: its teams are free
        for _ in range(1, 4 + 2 * len(held)):
            beat(held, names, rng)
            served = [t for ts in held.values() for t in ts]
            assert len(served) == len(set(served)), "a team served by two workers"
            if settled(held, names):
                break
        assert settled(held, names), (teams, len(held), {w: len(t) for w, t in held.items()})
        # Once settled, nothing moves any more.
        assert beat(held, names, rng) == 0


def test_a_worker_joining_takes_its_share_and_only_that_many_teams_move() -> None:
    rng = random.Random(1)
    names = [f"team-{i}" for i in range(8)]
    held: dict[str, list[str]] = {"a": [], "b": [], "c": []}
    while not settled(held, names):
        beat(held, names, rng)
    assert sorted(len(t) for t in held.values()) == [2, 3, 3]
    held["d"] = []
    moved = 0
    while not settled(held, names):
        moved += beat(held, names, rng)
    assert sorted(len(t) for t in held.values()) == [2, 2, 2, 2]
    assert moved == 2  # the two workers holding three give one each


def test_the_share_is_the_ceiling() -> None:
    assert [share(8, n) for n in (1, 2, 3, 4, 8, 9)] == [8, 4, 3, 2, 1, 1]
    assert share(0, 3) == 0 and share(5, 0) == 5
