"""The platform under fire: 8 teams, 3 worker processes, one PostgreSQL.

Eight teams, each with its own bot mailbox on a real Dovecot, its own key
and a backlog of mails, are served by three ``esp-coord serve --teams DIR``
processes on one PostgreSQL schema, connecting as a worker role (row level
security applies). At seeded random moments a worker is killed with SIGKILL
and restarted; one is frozen with SIGSTOP past its lease, then resumed; a
fourth worker joins at the end. Whatever the moments:

- every mail answered exactly once (by In-Reply-To), from its own team's
  mailbox, and nothing answered that must not be;
- no mail lost: each team's inbox empty, each mail in its folder once;
- each team's store holds its own plans (its patients only, numbered from
  1 without gaps), read with its own key; every outbox row sent;
- every reminder that fell due went out exactly once;
- the worker that joined took its share of the teams;
- patient names never reach a worker's log.

The seed is printed; ``ESP_FAULT_SEED=<seed>`` replays a campaign.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from esp_coord.config import Config, load_config
from esp_coord.crypto import Keyring
from esp_coord.platform.leases import snapshot
from esp_coord.store.database import Database
from esp_coord.store.engine import make_engine
from tests.faults.backlog import (
    Expected,
    answers_by_thread,
    backlog,
    check_reminders,
    check_store,
    reminder_mails,
)
from tests.faults.process import FAST_TUNING, ServiceProcess
from tests.servers.dovecot import PASSWORD, DovecotServer, dovecot_available
from tests.servers.smtp_front import Received, SmtpFront
from tests.servers.tls import TLSMaterial
from tests.support.platform import PlatformDb, bot, platform_db, write_team
from tests.support.store import postgres_user

__all__ = ["platform_db", "postgres_user"]
pytestmark = [pytest.mark.postgres, pytest.mark.slow]

TEAMS = 8
WORKERS = 3
MAILS = 25  # per team
KILLS = 6
BEAT, TTL = 0.5, 3.0  # seconds: failover in a few seconds instead of ~12
REMINDERS_IN = 20.0


async def wait_for(predicate, timeout: float, what: str,  # type: ignore[no-untyped-def]
                   workers: list[ServiceProcess]) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            logs = "\n".join(w.log()[-1500:] for w in workers)
            raise AssertionError(f"timed out waiting for {what}:\n{logs}")
        await asyncio.sleep(0.3)


@pytest.mark.timeout(900)
async def test_workers_killed_paused_and_joining_serve_every_team_exactly_once(
        tmp_path: Path, tls_material: TLSMaterial, platform_db: PlatformDb) -> None:
    if not dovecot_available():
        pytest.skip("NOTICE: Dovecot is not installed: the platform campaign is skipped")
    seed = int(os.environ.get("ESP_FAULT_SEED") or random.SystemRandom().randrange(10**6))
    print(f"platform campaign seed: {seed} (replay with ESP_FAULT_SEED={seed})")
    rng = random.Random(seed)
    bots = [bot(i) for i in range(TEAMS)]
    (tmp_path / "dovecot").mkdir()
    async with AsyncExitStack() as stack:
        dovecot = await stack.enter_async_context(
            DovecotServer(tmp_path / "dovecot", tls_material, mailboxes=tuple(bots)))

        async def into_dovecot(received: Received) -> None:
            for rcpt in received.rcpt_tos:
                if rcpt in bots:  # the witness copies come back to each team's inbox
                    await dovecot.deliver(received.content, rcpt)

        front = await stack.enter_async_context(SmtpFront(tls_material, deliver=into_dovecot))
        await _campaign(tmp_path, dovecot, front, platform_db, rng, seed)


async def _campaign(tmp_path: Path, dovecot: DovecotServer, front: SmtpFront,
                    db: PlatformDb, rng: random.Random, seed: int) -> None:
    teams_dir = tmp_path / "teams"
    teams_dir.mkdir()
    (teams_dir / "imap.pw").write_text(PASSWORD, encoding="utf-8")
    moment = datetime.now(ZoneInfo("Europe/Paris")).timestamp() + REMINDERS_IN
    hour = datetime.fromtimestamp(moment, ZoneInfo("Europe/Paris")).time().replace(
        microsecond=0).isoformat()
    reminders_at = time.monotonic() + REMINDERS_IN
    paths = [write_team(teams_dir, i, dovecot, front, db.search_path_url, hour)
             for i in range(TEAMS)]
    configs = [load_config(p, default_id=p.stem) for p in paths]
    mails: dict[int, list[Expected]] = {}
    for i in range(TEAMS):
        mails[i] = backlog(seed * 100 + i, MAILS, bot=bot(i), patients=f"E{i}")
        await dovecot.deliver_many([m.raw for m in mails[i]], bot(i))

    env = {"ESP_COORD_BEAT": str(BEAT), "ESP_COORD_LEASE_TTL": str(TTL)}

    def worker(n: int) -> ServiceProcess:
        return ServiceProcess(paths[0], tuning=FAST_TUNING, env=env,
                              args=["serve", "--teams", str(teams_dir)],
                              log_path=tmp_path / f"worker-{n}.log")

    workers = [worker(n) for n in range(WORKERS)]
    for w in workers:
        await w.start()
    events: list[str] = []
    try:
        await asyncio.sleep(rng.uniform(2.0, 4.0))
        paused_done = False
        for round_ in range(KILLS):
            victim = rng.randrange(WORKERS)
            if not paused_done and round_ == KILLS // 2:
                # Frozen past its lease: the others take its teams; resumed,
                # it must find its leases gone and commit or send nothing.
                workers[victim].pause()
                events.append(f"SIGSTOP worker {victim}")
                await asyncio.sleep(TTL * 2.5)
                workers[victim].resume()
                paused_done = True
            else:
                await workers[victim].kill()
                events.append(f"SIGKILL worker {victim}")
                await asyncio.sleep(rng.uniform(0.2, 2.0))
                await workers[victim].start()
            await asyncio.sleep(rng.uniform(0.5, 3.0))
        while time.monotonic() < reminders_at + 2:
            await asyncio.sleep(0.5)
        victim = rng.randrange(WORKERS)
        await workers[victim].kill()  # and one more after the reminders fell due
        events.append(f"SIGKILL worker {victim} after the reminders")
        await asyncio.sleep(rng.uniform(0.2, 1.0))
        await workers[victim].start()
        print(f"events: {events}")

        answered = {i: [m for m in mails[i] if m.answered] for i in range(TEAMS)}

        async def settled() -> bool:
            for i in range(TEAMS):
                counts = answers_by_thread(front, bot(i))
                if not all(counts[m.message_id] >= 1 for m in answered[i]):
                    return False
                if await dovecot.folder_count("INBOX", bot(i)) != 0:
                    return False
            return True

        await wait_for(settled, 400, "every answer and empty inboxes", workers)
        # A new worker joins: it takes its share (8 teams, 4 workers: 2).
        workers.append(worker(WORKERS))
        await workers[-1].start()

        async def joined() -> bool:
            return len(_held_by(db, workers[-1])) >= 2

        await wait_for(joined, 60, "the new worker's share of the teams", workers)
        # Rows left "sending" by a kill are resent after the witness grace:
        # give the delivery time to (wrongly) send twice.
        await asyncio.sleep(3.0)
    finally:
        codes = [await w.stop() for w in workers]
    assert all(code in (0, None) for code in codes), codes

    for i, config in enumerate(configs):
        counts = answers_by_thread(front, bot(i))
        doubled = {m.message_id: counts[m.message_id] for m in answered[i]
                   if counts[m.message_id] != 1}
        assert not doubled, f"seed {seed}, team {i}: answers not sent exactly once: {doubled}"
        silent = [m.message_id for m in mails[i] if not m.answered and counts[m.message_id]]
        assert not silent, f"seed {seed}, team {i}: answered what must not be: {silent}"
        reminders = reminder_mails(front, bot(i))
        twice = {mid: n for mid, n in reminders.items() if n != 1}
        assert not twice, f"seed {seed}, team {i}: reminders sent more than once: {twice}"
        ours = [r for r in front.messages if r.mail_from == bot(i)]
        assert len(ours) == len(answered[i]) + sum(reminders.values()), (seed, i)
        # Each answer of team i speaks of team i's patients only.
        others = {m.patient for j in range(TEAMS) if j != i for m in mails[j] if m.patient}
        leaked = [p for r in ours for p in others if p.encode() in r.content]
        assert not leaked, f"seed {seed}, team {i}: another team's patients: {leaked}"
        for folder, count in Counter(m.folder for m in mails[i]).items():
            assert await dovecot.folder_count(folder, bot(i)) == count, (seed, i, folder)
        await _check_team(db, config, mails[i], seed, reminders)
    for w in workers:
        log = w.log()
        names = [m.patient for i in range(TEAMS) for m in mails[i] if m.patient]
        assert not [n for n in names if n in log], "a patient name in a worker's log"


def _held_by(db: PlatformDb, process: ServiceProcess) -> list[str]:
    """The teams the worker process holds (its id is host:pid:random)."""
    assert process.proc is not None
    pid = f":{process.proc.pid}:"
    return [t for w, teams in _held(db).items() if pid in w for t in teams]


def _held(db: PlatformDb) -> dict[str, list[str]]:
    engine = make_engine(db.worker_url, busy_timeout=5, options=db.options())
    try:
        with engine.connect() as conn:
            return snapshot(conn, timedelta(seconds=TTL)).held()
    finally:
        engine.dispose()


async def _check_team(db: PlatformDb, config: Config, mails: list[Expected], seed: int,
                      reminders: Counter[str]) -> None:
    async with AsyncExitStack() as stack:
        database = Database(db.worker_url, engine_options=db.options())
        await database.start(stack)
        store = database.store(config.team_id, Keyring.load(config.key_file))
        await store.start(stack)
        await check_store(store, config, mails, seed, reminders=len(reminders))

        def rows(tx):  # type: ignore[no-untyped-def]
            return tx.connection.execute(text(
                "SELECT key, source_ref, status, due_at FROM reminders")).all()

        found = await store.run(rows)
    now = datetime.now(UTC)
    check_reminders([(k, r, s, d.isoformat()) for k, r, s, d in found], reminders, seed,
                    now.isoformat())
