"""Log lines that say whose team they are about, and each team's last error.

The service's log messages never quote a mail nor patient data (only types,
references and addresses of professionals): the last error of a team may
therefore be kept for ``esp-coord status``.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from esp_coord.platform.worker import CURRENT_TEAM


class TeamLogFilter(logging.Filter):
    """Adds ``record.team``: the team of the task that logged, or "-"."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.team = CURRENT_TEAM.get()
        return True


class TeamErrors(logging.Handler):
    """The last ERROR (or worse) each team's tasks logged."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.last: dict[str, tuple[str, datetime]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        team = CURRENT_TEAM.get()
        if team != "-":
            self.last[team] = (record.getMessage()[:200], datetime.now(UTC))

    def of(self, team: str) -> tuple[str, datetime] | None:
        return self.last.get(team)


def install() -> TeamErrors:
    """Team names on every log line, and the team errors' collector."""
    errors = TeamErrors()
    root = logging.getLogger()
    for handler in root.handlers:
        handler.addFilter(TeamLogFilter())
        if handler.formatter is not None:
            handler.setFormatter(logging.Formatter(
                "%(asctime)s %(levelname)s [%(team)s] %(name)s: %(message)s"))
    root.addHandler(errors)
    return errors
