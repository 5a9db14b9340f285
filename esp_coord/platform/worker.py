"""A platform worker: serves the teams whose leases it holds.

Every ``beat`` the worker, on its own connection (never queued behind the
teams' work): says it is alive, renews its leases, looks at the platform,
gives back and takes teams (``balance.decide``). Each team it holds runs as
the service of one team (``bootstrap.build_service``) on the worker's
shared database, its commits fenced by the lease (``store.teams.Fence``) and
its SMTP sends allowed only while the lease is surely still ours
(``Lease.valid``, on this process's monotonic clock, which keeps counting
while the process is stopped: a worker resumed after SIGSTOP sends nothing).

A worker that dies stops renewing: after ``ttl`` its teams are free and the
others take them at their next beat, within ``ttl + beat`` plus the time to
open the team's mailbox. The PostgreSQL sessions of a stopped worker's open
transactions end after ``IDLE_TIMEOUT`` (``idle_in_transaction_session_timeout``)
so that their row locks do not hold up the worker taking over.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine

from esp_coord.bootstrap import Service, Tuning, build_service
from esp_coord.config import Config
from esp_coord.crypto import Keyring
from esp_coord.platform import leases
from esp_coord.platform.balance import decide
from esp_coord.store.database import Database
from esp_coord.store.engine import make_engine
from esp_coord.store.teams import Fence

log = logging.getLogger(__name__)
T = TypeVar("T")

# The team a task works for: set in each team's tasks (they inherit it), read
# by the log records (``TeamLogFilter``) so that each line says whose it is.
CURRENT_TEAM: contextvars.ContextVar[str] = contextvars.ContextVar("team", default="-")

IDLE_TIMEOUT = timedelta(seconds=10)
# A team whose start failed here is left to the other workers this long.
COOL_DOWN = 60.0


@dataclass(frozen=True)
class TeamSpec:
    config: Config
    keyring: Keyring

    @property
    def id(self) -> str:
        return self.config.team_id


@dataclass
class Lease:
    team: str
    token: int
    deadline: float  # time.monotonic() until which the lease is surely ours

    def valid(self) -> bool:
        return time.monotonic() < self.deadline


@dataclass
class _Team:
    spec: TeamSpec
    lease: Lease
    stack: AsyncExitStack = field(default_factory=AsyncExitStack)
    service: Service | None = None


class Worker:
    def __init__(self, database: Database, teams: list[TeamSpec], *,
                 worker_id: str | None = None, ttl: timedelta = timedelta(seconds=10),
                 beat: float = 2.0, tuning: Tuning | None = None,
                 engine_options: dict[str, Any] | None = None,
                 errors: Callable[[str], tuple[str, datetime] | None] = lambda team: None
                 ) -> None:
        self.database = database
        self.teams = {spec.id: spec for spec in teams}
        self.id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.ttl = ttl
        self.beat = beat
        self.tuning = tuning or Tuning()
        self.errors = errors
        self.serving: dict[str, _Team] = {}
        self._cooling: dict[str, float] = {}
        self._engine_options = engine_options or {}
        self._engine: Engine | None = None
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="esp-lease")
        self._lost: set[str] = set()
        self._wake = asyncio.Event()

    # -- the platform's connection ------------------------------------------

    async def _platform(self, fn: Callable[[Connection], T]) -> T:
        """``fn`` in one transaction on the worker's own connection."""
        def run() -> T:
            assert self._engine is not None
            with self._engine.begin() as conn:
                return fn(conn)
        return await asyncio.get_running_loop().run_in_executor(self._thread, run)

    # -- the loop -----------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        self._engine = make_engine(self.database.url, busy_timeout=5.0, options={
            "pool_size": 1, "max_overflow": 0, **self._engine_options})
        host, pid = socket.gethostname(), os.getpid()
        try:
            await self._platform(lambda c: leases.register(c, self.id, host, pid))
            await self._platform(lambda c: leases.ensure_teams(c, sorted(self.teams)))
            log.info("worker %s: %d team(s) on the platform", self.id, len(self.teams))
            while not stop.is_set():
                try:
                    if await self.step():
                        continue  # teams left to take: renew, look again, go on
                except Exception as e:  # noqa: BLE001 - the database may be away a while
                    log.error("worker %s: beat failed (%s): retrying", self.id, type(e).__name__)
                self._wake.clear()
                waits = [asyncio.ensure_future(stop.wait()),
                         asyncio.ensure_future(self._wake.wait())]
                await asyncio.wait(waits, timeout=self.beat,
                                   return_when=asyncio.FIRST_COMPLETED)
                for w in waits:
                    w.cancel()
        finally:
            for team in list(self.serving):
                await self._stop_team(team, release=False)
            try:
                await self._platform(lambda c: leases.forget(c, self.id))
            except Exception as e:  # noqa: BLE001 - the others take over after ttl
                log.warning("worker %s: could not free its leases (%s)", self.id,
                            type(e).__name__)
            self._thread.shutdown(wait=True)
            self._engine.dispose()

    async def step(self) -> bool:
        """One beat: heartbeat and renewals, then give back and take teams;
        True when teams were left to take at the end of the beat's time."""
        for team in sorted(self._lost):
            self._lost.discard(team)
            if team in self.serving:
                log.warning("team %s: a commit found the lease lost: stopping", team)
                await self._stop_team(team, release=False)
        started = time.monotonic()
        held = {t: s.lease.token for t, s in self.serving.items()}

        def renew_all(conn: Connection) -> list[str]:
            leases.heartbeat(conn, self.id)
            return [t for t, token in held.items()
                    if not leases.renew(conn, t, self.id, token, self.ttl)]

        lost = await self._platform(renew_all)
        deadline = started + self.ttl.total_seconds() - self.beat / 2
        for team, entry in self.serving.items():
            if team not in lost:
                entry.lease.deadline = deadline
        for team in lost:
            log.warning("team %s: lease lost (another worker took it): stopping", team)
            await self._stop_team(team, release=False)
        await self._report()
        snap = await self._platform(lambda c: leases.snapshot(c, self.ttl))
        moves = decide(self.id, sorted(self.teams), snap.held() | {self.id: sorted(
            t for t in self.serving)})
        for team in moves.give:
            log.info("team %s: handed over to spread the teams", team)
            await self._stop_team(team, release=True)
        # Starting a team takes a while (its key check, an IMAP login): takes
        # stop after one beat's time, so that the leases already held are
        # renewed before they run short, and so that workers started together
        # see each other before the first one takes every team.
        now = time.monotonic()
        for team in moves.take:
            if time.monotonic() - now > self.beat:
                return True
            if self._cooling.get(team, 0.0) > now:
                continue
            await self._take(team)
        return False

    async def _take(self, team: str) -> None:
        started = time.monotonic()
        token = await self._platform(lambda c: leases.acquire(c, team, self.id, self.ttl))
        if token is None:
            return  # another worker was quicker
        lease = Lease(team, token, started + self.ttl.total_seconds() - self.beat / 2)
        entry = _Team(self.teams[team], lease)
        self.serving[team] = entry
        try:
            # The team's tasks inherit its name (for the log lines).
            context = contextvars.copy_context()
            context.run(CURRENT_TEAM.set, team)
            await asyncio.create_task(self._start_team(entry), context=context)
        except Exception as e:  # noqa: BLE001 - one team's trouble is not the others'
            log.error("team %s: could not start (%s): left to the others for %ds", team,
                      type(e).__name__, int(COOL_DOWN))
            self._cooling[team] = time.monotonic() + COOL_DOWN
            await self._stop_team(team, release=True)
            return
        log.info("team %s: served by %s (lease token %d)", team, self.id, token)

    async def _start_team(self, entry: _Team) -> None:
        spec, lease = entry.spec, entry.lease
        loop = asyncio.get_running_loop()

        def lost() -> None:  # in a database thread
            loop.call_soon_threadsafe(self._lease_lost, spec.id)

        fence = Fence(spec.id, self.id, lease.token, on_lost=lost)
        store = self.database.store(spec.id, spec.keyring, fence=fence)
        entry.service = build_service(spec.config, keyring=spec.keyring, store=store,
                                      tuning=self.tuning, may_send=lease.valid)
        await entry.service.start(entry.stack)

    def _lease_lost(self, team: str) -> None:
        self._lost.add(team)
        self._wake.set()

    async def _stop_team(self, team: str, *, release: bool) -> None:
        entry = self.serving.pop(team, None)
        if entry is None:
            return
        try:
            await entry.stack.aclose()
        except Exception as e:  # noqa: BLE001 - stopping must go on for the others
            log.error("team %s: stopping: %s", team, type(e).__name__)
        if release:
            token = entry.lease.token
            await self._platform(lambda c: leases.release(c, team, self.id, token))

    async def _report(self) -> None:
        reports = []
        for team, entry in self.serving.items():
            service = entry.service
            backlog = service.mailroom.waiting if service is not None else None
            reports.append((team, entry.lease.token, backlog, self.errors(team)))
        if not reports:
            return

        def write(conn: Connection) -> None:
            for team, token, backlog, error in reports:
                leases.report(conn, team, self.id, token, backlog=backlog, error=error)
        await self._platform(write)
