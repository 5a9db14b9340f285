"""The configuration for commands that never talk to the mail servers.

``esp-coord parse`` and ``esp-coord plans`` need the team, the time zone, the
database and the key file, not the IMAP/SMTP secrets: requiring
``ESP_COORD_IMAP_PASSWORD`` to read a mail or list plans would only get in
the way. Everything else is validated as ``load_config`` does.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from esp_coord.config import Config, ConfigError, config_from_dict

__all__ = ["load_offline_config"]


def load_offline_config(path: str | Path) -> Config:
    """Read and validate ``path``, ignoring the mail servers' credentials.
    Raises ``ConfigError``."""
    path = Path(path)
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(path, ["the file does not exist"]) from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(path, [f"not valid TOML: {e}"]) from None
    for server in ("imap", "smtp"):
        # Never reached: a local stand-in, so that no TLS or credential rule applies.
        data[server] = {"host": "localhost", "security": "none", "auth": "none"}
    return config_from_dict(data, path=path)
