"""A real Postfix (Debian's package) set up as an MSSanté operator's submission
server, from its own configuration directory.

Submission on a free loopback port: STARTTLS mandatory, TLS 1.2 only, the four
ECO.1.1.3 suites, a client certificate signed by the test CA required, then
SASL through Dovecot's authentication service (``DovecotServer(auth_port=True)``)
or, with ``cert_only``, the certificate alone (``permit_tls_all_clientcerts``).
Accepted mail goes to Dovecot over LMTP, like an operator's own store.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from esp_coord.config import ServerSettings
from tests.servers.dovecot import DovecotServer, free_port
from tests.servers.tls import TLSMaterial

POSTFIX = Path("/usr/sbin/postfix")
ECO_CIPHERS = ("ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:"
               "ECDHE-RSA-AES256-SHA384:ECDHE-RSA-AES128-SHA256")
POSTFIX_MISSING = ("NOTICE: Postfix is not installed (/usr/sbin/postfix; `make test` installs "
                   "it when run as root): Postfix tests skipped")


def postfix_available() -> bool:
    return POSTFIX.is_file() and os.getuid() == 0


def require_postfix() -> None:
    import pytest

    if not postfix_available():
        pytest.skip(POSTFIX_MISSING)


_MASTER = """\
{port}    inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class PostfixServer:
    """``async with PostfixServer(workdir, tls, dovecot) as smtp:``"""

    host = "127.0.0.1"

    def __init__(self, workdir: Path, tls: TLSMaterial, dovecot: DovecotServer, *,
                 cert_only: bool = False) -> None:
        if dovecot.auth_port is None and not cert_only:
            raise ValueError("SASL through Dovecot needs DovecotServer(auth_port=True)")
        self.tls = tls
        self.dovecot = dovecot
        self.cert_only = cert_only
        self.port = free_port(self.host)
        # Postfix wants its queue owned by root and traversable by its users.
        self.dir = Path(tempfile.mkdtemp(prefix="esp-postfix-"))
        self.dir.chmod(0o755)
        self._proc: asyncio.subprocess.Process | None = None

    def _write(self) -> None:
        d = self.dir
        for sub in ("queue", "data"):
            (d / sub).mkdir(exist_ok=True)
        shutil.chown(d / "data", "postfix")
        restrictions = ("permit_tls_all_clientcerts, reject" if self.cert_only
                        else "permit_sasl_authenticated, reject")
        sasl = "" if self.cert_only else (
            "smtpd_sasl_auth_enable = yes\nsmtpd_sasl_type = dovecot\n"
            f"smtpd_sasl_path = inet:{self.dovecot.host}:{self.dovecot.auth_port}\n"
            "smtpd_tls_auth_only = yes\n")
        (d / "main.cf").write_text(f"""\
compatibility_level = 3.6
queue_directory = {d}/queue
data_directory = {d}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = smtp.operateur.mssante.test
mydestination =
alias_maps =
alias_database =
inet_interfaces = {self.host}
inet_protocols = ipv4
maillog_file = {d}/postfix.log
maillog_file_prefixes = {d}
virtual_mailbox_domains = regexp:{d}/domains
virtual_transport = lmtp:inet:{self.dovecot.host}:{self.dovecot.lmtp_port}
smtpd_tls_security_level = encrypt
smtpd_tls_cert_file = {self.tls.server_cert}
smtpd_tls_key_file = {self.tls.server_key}
smtpd_tls_CAfile = {self.tls.ca_file}
smtpd_tls_ask_ccert = yes
smtpd_tls_req_ccert = yes
smtpd_tls_mandatory_protocols = >=TLSv1.2, <=TLSv1.2
smtpd_tls_protocols = >=TLSv1.2, <=TLSv1.2
smtpd_tls_mandatory_ciphers = high
smtpd_tls_ciphers = high
tls_high_cipherlist = {ECO_CIPHERS}
tls_preempt_cipherlist = yes
{sasl}smtpd_relay_restrictions = {restrictions}
smtpd_recipient_restrictions = {restrictions}
""", encoding="utf-8")
        (d / "domains").write_text("/\\.mssante\\.test$/ OK\n", encoding="utf-8")
        (d / "master.cf").write_text(_MASTER.format(port=f"{self.host}:{self.port}"),
                                     encoding="utf-8")

    async def start(self, timeout: float = 20.0) -> None:
        self._write()
        self._proc = await asyncio.create_subprocess_exec(
            str(POSTFIX), "-c", str(self.dir), "start-fg",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if self._proc.returncode is not None:
                raise RuntimeError(f"postfix exited ({self._proc.returncode}): {self.log()}")
            with contextlib.suppress(OSError, TimeoutError):
                reader, writer = await asyncio.open_connection(self.host, self.port)
                try:
                    line = await asyncio.wait_for(reader.readline(), 2)
                finally:
                    writer.close()
                if line.startswith(b"220"):
                    return
            await asyncio.sleep(0.1)
        await self.stop()
        raise RuntimeError(f"postfix did not greet within {timeout} s: {self.log()}")

    def log(self) -> str:
        p = self.dir / "postfix.log"
        return p.read_text(errors="replace")[-4000:] if p.exists() else ""

    async def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(Exception):
            stop = await asyncio.create_subprocess_exec(
                str(POSTFIX), "-c", str(self.dir), "stop",
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
            await asyncio.wait_for(stop.wait(), 10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 9)
        await proc.wait()

    async def __aenter__(self) -> PostfixServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def settings(self, **overrides: Any) -> ServerSettings:
        values: dict[str, Any] = dict(
            host=self.host, port=self.port, security="starttls", ca_file=self.tls.ca_file,
            client_cert=self.tls.client_cert, client_key=self.tls.client_key, timeout=10.0,
            revocation="when-named")
        if self.cert_only:
            values.update(auth="none")
        else:
            values.update(auth="login", username=self.dovecot.username,
                          password=self.dovecot.password)
        values.update(overrides)
        return ServerSettings(**values)
