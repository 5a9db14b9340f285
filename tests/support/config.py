"""The example team's configuration for tests that need no mail server."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any

from esp_coord.config import Config, config_from_dict
from tests.support.paths import EXAMPLE_CONFIG

__all__ = ["EXAMPLE_CONFIG", "offline_config"]


def offline_config(folder: Path | None = None, *, database: str = "esp.db",
                   **changes: Any) -> Config:
    """``config/esp.example.toml`` with servers that are never reached
    (127.0.0.1, no TLS, no login). With ``folder``, the SQLite database is
    ``folder / database``; ``changes`` replace other fields of the ``Config``."""
    data = tomllib.loads(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    for server in ("imap", "smtp"):
        data[server] = {"host": "127.0.0.1", "security": "none", "auth": "none"}
    config = config_from_dict(data, path=EXAMPLE_CONFIG)
    if folder is not None:
        changes.setdefault("database_url", f"sqlite:///{folder / database}")
    return dataclasses.replace(config, **changes) if changes else config
