"""Scheduler scale (issue 6): 20,000 plans, 100,000 follow-ups, 50 recurring meetings.

    python -m bench.scheduler_scale [--plans 20000] [--followups 100000] [--meetings 50]

prints one JSON object: ``rebuild_s`` (store start + reminder engine start on
the filled database: what a service restart costs), ``rss_mb`` (resident
memory of a fresh process after that start), ``dispatch_day_s`` and
``dispatched`` (one day's due reminders sent with a driven clock: composed,
rendered, enqueued, marked), plus the sizes. ``run()`` is what
``bench/scheduler.py`` calls.

Filling and measuring run in separate fresh processes, so that the memory
figure is the service's alone, not the filler's. Plans are clones of example
01 (encrypted like real ones) with their five follow-ups due on days spread
over a year at 08:00 team time; meeting reminders (J-7/J-1 per participant
over a year) are rows only: without their meeting documents they are
composed to nothing and dropped, which still costs the dispatch its lookups.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import subprocess
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MEETING_KIND = "meeting_reminder"  # esp_coord.scheduling.meeting_reminders.REMINDER_KIND
FIRST_DAY = date(2027, 1, 4)
DAY_MEASURED = FIRST_DAY  # the first day of follow-ups: no late backlog before it


def _config(folder: Path) -> Any:
    from esp_coord.entrypoints.demo import example_config

    return example_config(folder, "esp")


async def fill(folder: Path, plans: int, followups: int, meetings: int) -> dict[str, Any]:
    from esp_coord.bootstrap import make_processor
    from esp_coord.clock import DrivenClock
    from esp_coord.crypto import Keyring
    from esp_coord.scheduling.times import local_instant
    from esp_coord.store import Store
    from esp_coord.store.reminders import ReminderSpec

    config = _config(folder)
    keyring = Keyring.generate()
    keyring.save(config.key_file)
    raw = (ROOT / "config" / "examples" / "messages" / "01-nouveau-pps.eml").read_bytes()
    clock = DrivenClock(datetime(2026, 11, 23, 8, tzinfo=UTC))
    started = time.perf_counter()
    async with AsyncExitStack() as stack:
        store = Store(config.database_url, keyring)
        await store.start(stack)
        processor = make_processor(config, store, now=clock.now)
        await processor.process(raw)
        template = await store.run(lambda tx: tx.load_document("plan", "PPS-2026-0001"))
        assert template is not None, "example 01 was not accepted"
        per_plan = max(1, followups // plans)
        hour, tz = config.reminders.hour, config.timezone
        now = clock.now()
        members = [m.email for m in config.members]
        chunk = 500
        for start in range(0, plans, chunk):
            def batch(tx: Any, start: int = start) -> None:
                specs = []
                for i in range(start, min(plans, start + chunk)):
                    ref = f"PPS-2026-{i + 2:06d}"[:64]
                    data = copy.deepcopy(template.data)
                    data["ref"] = ref
                    actions = data["actions"][:per_plan]
                    for k, action in enumerate(actions):
                        due = FIRST_DAY + timedelta(days=(i * per_plan + k) % 365)
                        action["due"] = due.isoformat()
                        action["start"] = due.isoformat()
                        specs.append(ReminderSpec(
                            key=f"{ref}:{action['number']}:{due}:plan_due:{action['assignee']}",
                            kind="plan_due", source_ref=ref, recipient=action["assignee"],
                            due_at=local_instant(due, hour, tz),
                            payload={"ref": ref, "number": action["number"],
                                     "occurrence": due.isoformat()}))
                    data["actions"] = actions
                    tx.save_document(kind="plan", ref=ref, data=data, status="active",
                                           expected_version=None,
                                           blind={"ins": f"{i:015d}"},
                                           members=template.members, at=now)
                tx.add_reminders(specs, now)

            await store.run(batch)
        for m in range(meetings):
            ref = f"RCP-2026-{m + 1:03d}"
            specs = []
            for month in range(12):
                day = FIRST_DAY + timedelta(days=30 * month + m % 28)
                for offset in config.reminders.meeting_offsets:
                    for who in members:
                        specs.append(ReminderSpec(
                            key=f"{ref}:{day}:J-{offset}:{who}", kind=MEETING_KIND,
                            source_ref=ref, recipient=who,
                            due_at=local_instant(day - timedelta(days=offset), hour, tz),
                            payload={"ref": ref, "occurrence": day.isoformat()}))
            await store.run(lambda tx, specs=specs: tx.add_reminders(specs, now))
        stats = await store.run(lambda tx: tx.reminder_stats())
    return {"fill_s": round(time.perf_counter() - started, 2), "rows": stats}


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def measure(folder: Path) -> dict[str, Any]:
    import esp_coord.handlers  # noqa: F401 - registers every composer, as the service does
    from esp_coord.bootstrap import reminder_kinds
    from esp_coord.clock import DrivenClock
    from esp_coord.crypto import Keyring
    from esp_coord.scheduling.engine import ReminderEngine
    from esp_coord.scheduling.times import local_instant
    from esp_coord.store import Store

    config = _config(folder)
    keyring = Keyring.load(config.key_file)
    morning = local_instant(DAY_MEASURED, config.reminders.hour, config.timezone)
    clock = DrivenClock(morning - timedelta(minutes=1))
    async with AsyncExitStack() as stack:
        started = time.perf_counter()
        store = Store(config.database_url, keyring)
        await store.start(stack)
        engine = ReminderEngine(store=store, config=config, clock=clock,
                                composers=reminder_kinds())
        await engine.start(stack)
        rebuild = time.perf_counter() - started
        rss = _rss_mb()
        # Rows before the measured day are missed ones: send them first (late),
        # so that the measured pass is one ordinary day.
        while not await engine.caught_up():
            await asyncio.sleep(0.05)
        backlog = engine.sent
        started = time.perf_counter()
        await clock.set(morning + timedelta(seconds=1))
        await asyncio.sleep(0)
        while not await engine.caught_up():
            await asyncio.sleep(0.01)
        dispatch = time.perf_counter() - started
        stats = await store.run(lambda tx: tx.reminder_stats())
        return {"rebuild_s": round(rebuild, 3), "rss_mb": round(rss, 1),
                "dispatch_day_s": round(dispatch, 3), "dispatched": engine.sent - backlog,
                "late_backlog_sent": backlog, "rss_after_dispatch_mb": round(_rss_mb(), 1),
                "rows_after": stats, "day": DAY_MEASURED.isoformat()}


def _child(*args: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "bench.scheduler_scale", *args], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run(plans: int = 20_000, followups: int = 100_000, meetings: int = 50) -> dict[str, Any]:
    """Fill a fresh database in one process, measure in another; the JSON result."""
    with tempfile.TemporaryDirectory(prefix="esp-sched-") as tmp:
        filled = _child("--fill", tmp, "--plans", str(plans), "--followups", str(followups),
                        "--meetings", str(meetings))
        measured = _child("--measure", tmp)
    return {**measured, **filled, "plans": plans, "followups": followups, "meetings": meetings}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--plans", type=int, default=20_000)
    parser.add_argument("--followups", type=int, default=100_000)
    parser.add_argument("--meetings", type=int, default=50)
    parser.add_argument("--fill", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fill:
        result = asyncio.run(fill(args.fill, args.plans, args.followups, args.meetings))
    elif args.measure:
        result = asyncio.run(measure(args.measure))
    else:
        result = run(args.plans, args.followups, args.meetings)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
