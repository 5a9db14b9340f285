"""The example team's configuration for tests that need no mail server."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from esp_coord.config import Config
from esp_coord.entrypoints.demo import example_team_config

__all__ = ["offline_config"]


def offline_config(folder: Path | None = None, *, database: str = "esp.db",
                   **changes: Any) -> Config:
    """``config/esp.example.toml`` with servers that are never reached
    (127.0.0.1, no TLS, no login). With ``folder``, the SQLite database is
    ``folder / database``; ``changes`` replace other fields of the ``Config``."""
    config = example_team_config()
    if folder is not None:
        changes.setdefault("database_url", f"sqlite:///{folder / database}")
    return dataclasses.replace(config, **changes) if changes else config
