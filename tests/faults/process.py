"""The service as a real process: ``esp-coord serve --config FILE``, killable.

The configuration file points at the test's Dovecot (IMAPS) and SMTP front
(STARTTLS), both trusting the test CA, and at a SQLite file beside it. Short
grace periods come through ``ESP_COORD_TUNING`` so that the delivery's
crash recovery (resend a row whose witness copy never came back) happens in
seconds instead of minutes. ``ESP_FAULT_COMMAND`` replaces the command (for
instance a wrapper that dumps the asyncio tasks on a signal, to debug a hang).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from esp_coord.config import Config, load_config
from esp_coord.crypto import Keyring
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp_front import SmtpFront
from tests.support.paths import EXAMPLE_CONFIG

ESP_COORD = Path(sys.executable).parent / "esp-coord"
COMMAND = os.environ.get("ESP_FAULT_COMMAND", str(ESP_COORD)).split()
FAST_TUNING = ("idle_timeout=5,outbox_poll=0.2,witness_grace=1,"
               "retry_base=0.2,retry_cap=1")


def write_config(folder: Path, dovecot: DovecotServer, front: SmtpFront, *,
                 reminders_in: float = 3600.0) -> Path:
    """The example team's configuration, on the test servers; reminders of
    the day fall due ``reminders_in`` seconds from now."""
    moment = datetime.now(ZoneInfo("Europe/Paris")) + timedelta(seconds=reminders_in)
    reminder_hour = moment.time().replace(microsecond=0).isoformat()
    team = EXAMPLE_CONFIG.read_text(encoding="utf-8").split("# The applicative MSSanté")[0]
    (folder / "imap.pw").write_text(dovecot.password, encoding="utf-8")
    path = folder / "esp.toml"
    path.write_text(team + f"""
[imap]
host = "{dovecot.host}"
port = {dovecot.imap_port}
security = "implicit"
ca_file = "{dovecot.ca_file}"
revocation = "when-named"  # the test PKI names no CRL
username = "{dovecot.username}"
password_file = "imap.pw"
timeout = 10

[smtp]
host = "{front.host}"
port = {front.port}
security = "starttls"
ca_file = "{dovecot.ca_file}"
revocation = "when-named"  # the test PKI names no CRL
auth = "none"
timeout = 10

[reminders]
# The reminder hour a few seconds from now: the weekly action of every plan
# created before it falls due today at that hour, while the campaign runs.
hour = "{reminder_hour}"
# One mail per reminder: the campaign counts each reminder row's mail by its
# stable Message-ID (a digest gathers several rows into one mail).
digest = false

[storage]
database_url = "sqlite:///esp.db"
key_file = "esp.key"
""", encoding="utf-8")
    Keyring.generate().save(folder / "esp.key")
    return path


class ServiceProcess:
    """One ``esp-coord serve`` at a time on the same configuration and data.

    ``args`` replace ``serve --config FILE`` (a platform worker's ``serve
    --teams DIR``, with ``env`` added and its own ``log_path``)."""

    def __init__(self, config_path: Path, *, tuning: str = FAST_TUNING,
                 args: list[str] | None = None, env: dict[str, str] | None = None,
                 log_path: Path | None = None) -> None:
        self.config_path = config_path
        self.config: Config = load_config(config_path)
        self.log_path = log_path or config_path.parent / "service.log"
        self.tuning = tuning
        self.args = args or ["serve", "--config", str(config_path)]
        self.env = env or {}
        self.proc: asyncio.subprocess.Process | None = None
        self.starts = 0
        self._log_offset = 0
        self.reminders_at = 0.0  # time.monotonic() when the reminders fall due

    async def start(self) -> None:
        assert self.proc is None or self.proc.returncode is not None
        env = {**os.environ, "ESP_COORD_TUNING": self.tuning, **self.env}
        self.starts += 1
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            log.write(f"\n=== start {self.starts} ===\n".encode())
            log.flush()
            self.proc = await asyncio.create_subprocess_exec(
                *COMMAND, *self.args,
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log, env=env)

    async def kill(self) -> None:
        """SIGKILL: no cleanup of any kind, as in a power cut of the process."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGKILL)
        await proc.wait()

    async def stop(self) -> int | None:
        """SIGTERM, the clean way; returns the exit code."""
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 15)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        return proc.returncode

    def pause(self) -> None:
        """SIGSTOP: the process freezes, its connections stay open."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def wait_log(self, text: str, timeout: float = 30.0) -> None:
        """Until this run of the process has logged ``text``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            with self.log_path.open("rb") as log:
                log.seek(self._log_offset)
                if text.encode() in log.read():
                    return
            if not self.alive():
                raise AssertionError(f"the service exited before logging {text!r}:\n"
                                     + self.log()[-3000:])
            if loop.time() > deadline:
                raise AssertionError(f"the service did not log {text!r}:\n" + self.log()[-3000:])
            await asyncio.sleep(0.02)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")
