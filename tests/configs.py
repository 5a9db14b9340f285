"""The example team's configuration for tests that need no mail server."""

from __future__ import annotations

import tomllib
from pathlib import Path

from esp_coord.config import Config, config_from_dict

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "esp.example.toml"


def offline_config() -> Config:
    """``config/esp.example.toml`` with servers that are never reached."""
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    for server in ("imap", "smtp"):
        data[server] = {"host": "127.0.0.1", "security": "none", "auth": "none"}
    return config_from_dict(data, path=EXAMPLE)
