"""Clocks: the real one, and one that tests and the demo drive."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime


class SystemClock:
    """Wall-clock time."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, when: datetime) -> None:
        delay = (when - self.now()).total_seconds()
        if delay > 0:
            await asyncio.sleep(delay)


class DrivenClock:
    """A clock that only moves when told to: months of simulated time in seconds.

    Sleepers wake as soon as ``set`` moves the time past their
    deadline, so a test drives the scheduler day by day without waiting.
    """

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("DrivenClock needs an aware datetime")
        self._now = start.astimezone(UTC)
        self._changed = asyncio.Condition()

    def now(self) -> datetime:
        return self._now

    async def set(self, when: datetime) -> None:
        async with self._changed:
            self._now = max(self._now, when.astimezone(UTC))
            self._changed.notify_all()
        # Let woken sleepers run before the caller moves on.
        await asyncio.sleep(0)

    async def sleep_until(self, when: datetime) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self._now >= when)
