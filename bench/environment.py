"""What a figure depends on: versions, cores, the machine's load when it was taken."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from tests.servers.dovecot import DOVECOT

LIBRARIES = ("aioimaplib", "aiosmtplib", "aiosmtpd", "SQLAlchemy", "psycopg", "cryptography",
             "python-stdnum", "rich")
ROOT = Path(__file__).resolve().parents[1]


def _run(*command: str) -> str | None:
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=10, cwd=ROOT)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def describe() -> dict[str, Any]:
    versions: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    versions["dovecot"] = _run(str(DOVECOT), "--version")
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _run("git", "rev-parse", "--short", "HEAD"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
        "versions": versions,
    }
