"""Crash campaign: ``esp-coord serve`` killed with SIGKILL at random moments.

A backlog of 200 mails waits in a real Dovecot; the service, a real process
on a SQLite file, is started and killed without warning ten times at seeded
random moments, then left to finish. Whatever the moments of the kills:

- no mail lost: the inbox is empty, every mail is in its folder once;
- no effect doubled: one plan per NOUVEAU PPS, numbered without gaps;
- exactly one answer per answered mail at the SMTP front (by In-Reply-To),
  none to strangers and auto-replies;
- the outbox ends with every row sent;
- every reminder due (the weekly action of the plans created in the first
  seconds falls due a few seconds later) went out exactly once.

The seed is printed; ``ESP_FAULT_SEED=<seed>`` replays a campaign.
"""

from __future__ import annotations

import asyncio
import os
import random
import sqlite3
import time
from collections import Counter
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path

import pytest

from esp_coord.crypto import Keyring
from esp_coord.store import Store
from tests.faults.backlog import (
    BOT,
    Expected,
    answers_by_thread,
    backlog,
    check_reminders,
    check_store,
    reminder_mails,
)
from tests.faults.process import ServiceProcess, write_config
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp_front import SmtpFront

ROUNDS = 10
MAILS = 200
REMINDERS_IN = 15.0  # seconds from the configuration to the reminders of the day


async def _plans_in(service: ServiceProcess, count: int) -> bool:
    path = Path(service.config.database_url.split(":///", 1)[1])
    if not path.exists():
        return False
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as db:
            found = db.execute("SELECT count(*) FROM documents WHERE kind = 'plan'").fetchone()
    except sqlite3.Error:  # not created yet, or locked for a moment
        return False
    return bool(found and found[0] >= count)


def _check_reminders(service: ServiceProcess, sent: Counter[str], seed: int) -> None:
    path = service.config.database_url.split(":///", 1)[1]
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT key, source_ref, status, due_at FROM reminders").fetchall()
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
    check_reminders([(k, r, s, str(d)) for k, r, s, d in rows], sent, seed, now)


async def wait_for(predicate, timeout: float, what: str, service: ServiceProcess) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not await predicate():
        if not service.alive():
            raise AssertionError(f"the service exited while waiting for {what}:\n"
                                 + service.log()[-3000:])
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}:\n" + service.log()[-3000:])
        await asyncio.sleep(0.2)


@pytest.mark.slow
async def test_sigkill_at_random_moments_loses_nothing_and_repeats_nothing(
        dovecot: DovecotServer, front: SmtpFront, tmp_path: Path) -> None:
    seed = int(os.environ.get("ESP_FAULT_SEED") or random.SystemRandom().randrange(10**6))
    print(f"fault campaign seed: {seed} (replay with ESP_FAULT_SEED={seed})")
    rng = random.Random(seed)
    mails = backlog(seed, MAILS)
    await dovecot.deliver_many([m.raw for m in mails])
    service = ServiceProcess(write_config(tmp_path, dovecot, front, reminders_in=REMINDERS_IN))
    service.reminders_at = time.monotonic() + REMINDERS_IN
    try:
        await _campaign(service, dovecot, front, mails, rng, seed)
    finally:
        await service.kill()


async def _campaign(service: ServiceProcess, dovecot: DovecotServer, front: SmtpFront,
                    mails: list[Expected], rng: random.Random, seed: int) -> None:
    folders = service.config.folders

    kills: list[str] = []
    # First round: killed once a few plans exist, well before their reminder
    # falls due (REMINDERS_IN after the configuration was written).
    await service.start()
    await wait_for(lambda: _plans_in(service, 5), 60, "the first plans", service)
    await service.kill()
    kills.append("plans>=5")
    rounds = 1
    while rounds < ROUNDS or time.monotonic() < service.reminders_at + 3:
        # At least ROUNDS kills, and some after the reminders fall due.
        rounds += 1
        await service.start()
        if rng.random() < 0.2:
            # During start-up: imports, migrations, first connection.
            delay = rng.uniform(0.2, 1.5)
            kills.append(f"start+{delay:.2f}")
        else:
            # While it works: the backlog takes about ten seconds, so each
            # round moves only a few batches on.
            await service.wait_log("IMAP connected")
            delay = rng.uniform(0.0, 0.8)
            kills.append(f"connected+{delay:.2f}")
        await asyncio.sleep(delay)
        await service.kill()
    print(f"kill moments (s): {kills}")

    await service.start()
    answered = [m for m in mails if m.answered]

    async def settled() -> bool:
        counts = answers_by_thread(front)
        return (all(counts[m.message_id] >= 1 for m in answered)
                and await dovecot.folder_count(folders.inbox) == 0)

    try:
        # Generous: on a loaded 2-core machine 200 answers took over a minute;
        # a lost answer never comes, however long the wait.
        await wait_for(settled, 240, "every answer and an empty inbox", service)
    except AssertionError as e:
        counts = answers_by_thread(front)
        missing = [(m.kind, m.message_id) for m in answered if not counts[m.message_id]]
        inbox = await dovecot.folder_count(folders.inbox)
        raise AssertionError(f"seed {seed}: inbox {inbox}, no answer to {missing}") from e
    # Rows left "sending" by a kill are resent after the grace period once
    # the inbox is drained: give the delivery time to (wrongly) send twice.
    await asyncio.sleep(2.5)
    assert await service.stop() == 0

    # Exactly one answer per answered mail, none to the others.
    counts = answers_by_thread(front)
    doubled = {m.message_id: counts[m.message_id] for m in answered if counts[m.message_id] != 1}
    assert not doubled, f"seed {seed}: answers not sent exactly once: {doubled}"
    silent = [m.message_id for m in mails if not m.answered and counts[m.message_id]]
    assert not silent, f"seed {seed}: answered what must not be: {silent}"
    reminders = reminder_mails(front)
    assert len([r for r in front.messages if r.mail_from == BOT]) == (
        len(answered) + sum(reminders.values()))
    twice = {mid: n for mid, n in reminders.items() if n != 1}
    assert not twice, f"seed {seed}: reminders sent more than once: {twice}"

    # No mail lost, none filed twice.
    expected_folders = Counter(m.folder for m in mails)
    assert await dovecot.folder_count(folders.inbox) == 0
    for folder, count in expected_folders.items():
        assert await dovecot.folder_count(folder) == count, (seed, folder)
    assert await dovecot.folder_count(folders.sent) == len(answered) + len(reminders), seed

    await _check_store(service, mails, seed, reminders=len(reminders))
    _check_reminders(service, reminders, seed)
    # Patient names never reach the logs, however the process died.
    log = service.log()
    assert not [m.patient for m in mails if m.patient and m.patient in log]


async def _check_store(service: ServiceProcess, mails: list[Expected], seed: int, *,
                       reminders: int) -> None:
    config = service.config
    async with AsyncExitStack() as stack:
        store = Store(config.database_url, Keyring.load(config.key_file))
        await store.start(stack)
        await check_store(store, config, mails, seed, reminders=reminders)
