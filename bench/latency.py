"""Latency: mails delivered one at a time to an idle service.

Each mail is delivered over LMTP once the service has finished with the
previous one (its answer accepted and the witness copy filed) and has gone
back to IDLE; the figure is the time from the end of the LMTP delivery to the
moment the SMTP front accepts the answer. Dovecot announces new mail to an
IDLE client about 0.5 s after delivery: that is the floor.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from pathlib import Path
from typing import Any

from bench.backlog import TUNING
from bench.corpus import generate
from bench.mail import MailServers, message_id_of
from tests.e2e.harness import Team, wait_until

Tick = Any


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100), no interpolation."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


async def run_latency(mail: MailServers, folder: Path, *, count: int = 50, seed: int = 2,
                      tick: Tick = lambda done: None) -> dict[str, Any]:
    mail.clock.reset()
    mail.front.messages.clear()
    rng = random.Random(seed)
    raws = generate(count, seed=seed)
    team = Team(mail.dovecot, mail.front, folder)
    service = await team.start(tuning=TUNING)
    latencies: list[float] = []
    try:
        await wait_until(lambda: service.mailroom.backlog_done.is_set(), 30, "the service up")
        for i, raw in enumerate(raws):
            mid = message_id_of(raw)
            await mail.dovecot.deliver(raw)
            delivered = time.monotonic()
            await wait_until(lambda mid=mid: mail.clock.accepted.get(mid), 30, "an answer")
            latencies.append(mail.clock.accepted[mid][0] - delivered)
            # Back to idle: the mail and every witness copy processed.
            expected = i + 1 + mail.clock.total
            await wait_until(lambda expected=expected: service.mailroom.processed >= expected,
                             30, "the witness copy")
            tick(i + 1)
            await asyncio.sleep(rng.uniform(0.1, 0.4))
    finally:
        await team.stop()
    return {
        "mails": count,
        "p50_s": round(statistics.median(latencies), 3),
        "p95_s": round(percentile(latencies, 95), 3),
        "max_s": round(max(latencies), 3),
        "min_s": round(min(latencies), 3),
    }
