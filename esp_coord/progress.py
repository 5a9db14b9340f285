"""Progress of the backlog shown at start: a bar on a terminal, log lines elsewhere."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from esp_coord.mailroom import Progress as ProgressCallback

log = logging.getLogger(__name__)


@contextmanager
def backlog_progress() -> Iterator[ProgressCallback]:
    if not sys.stderr.isatty():
        last = [-1]

        def report(done: int, total: int) -> None:
            # One line per tenth of the backlog: enough to follow, not a flood.
            step = max(1, total // 10)
            if done == total or done // step != last[0]:
                last[0] = done // step
                log.info("backlog: %d/%d mails processed", done, total)

        yield report
        return
    with Progress("[progress.description]{task.description}", BarColumn(),
                  MofNCompleteColumn(), TimeRemainingColumn(), transient=True) as bar:
        task = bar.add_task("Mails en attente", total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update
