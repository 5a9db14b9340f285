"""Scheduler scale: bench/scheduler_scale.py (written with the reminder engine), if present."""

from __future__ import annotations

import argparse
import asyncio
import importlib
from typing import Any


async def run_scheduler(args: argparse.Namespace) -> dict[str, Any]:
    if args.no_scheduler:
        return {"rebuild_s": None, "rss_mb": None, "reason": "skipped (--no-scheduler)"}
    try:
        module = importlib.import_module("bench.scheduler_scale")
    except ModuleNotFoundError:
        return {"rebuild_s": None, "rss_mb": None,
                "reason": "bench/scheduler_scale.py is missing"}
    # It fills and measures in child processes (a clean memory figure) and blocks.
    return dict(await asyncio.to_thread(module.run))
