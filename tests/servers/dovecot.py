"""A real Dovecot for the integration tests, started from a config in a temp folder.

Everything runs as the current user (root or not): no chroot, the current user
as internal and login user, mail stored under the temp folder. Listeners, on
free ports:

- IMAP with STARTTLS on 127.0.0.1 and 127.0.0.2 (Dovecot counts a connection
  from 127.0.0.1 to itself as secure, so plaintext LOGIN is only refused on
  127.0.0.2: that is how a test proves TLS is enforced),
- IMAPS (implicit TLS) on both addresses,
- LMTP on 127.0.0.1 for delivery.

``require_client_cert=True`` makes a variant that refuses any TLS client without
a certificate signed by the test CA, and offers AUTHENTICATE EXTERNAL (user
name from the certificate's common name, mapped to the bot's mailbox).
"""

from __future__ import annotations

import asyncio
import contextlib
import grp
import os
import pwd
import re
import shutil
import signal
import smtplib
import socket
import ssl
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from esp_coord.config import Security, ServerSettings
from tests.servers.tls import TLSMaterial

DOVECOT = Path("/usr/sbin/dovecot")
BOT = "coordination@esp-valdelorge.mssante.test"
# trustme puts only this common name in the client certificate's subject.
CERT_USER = "esp-coord test client"
PASSWORD = "Secret-pour-les-tests-42"


DOVECOT_MISSING = ("NOTICE: Dovecot is not installed (/usr/sbin/dovecot; `make test` installs "
                   "dovecot-imapd and dovecot-lmtpd when run as root): Dovecot tests skipped")


def dovecot_available() -> bool:
    return DOVECOT.is_file() and os.access(DOVECOT, os.X_OK)


def require_dovecot() -> None:
    """Skips the test, with a visible notice, where Dovecot is not installed."""
    import pytest  # here: the benchmarks import this module without pytest

    if not dovecot_available():
        pytest.skip(DOVECOT_MISSING)


def free_port(*hosts: str) -> int:
    """A TCP port free on every one of ``hosts``."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind((hosts[0], 0))
            port = s.getsockname()[1]
        ok = True
        for h in hosts[1:]:
            with socket.socket() as s2:
                try:
                    s2.bind((h, port))
                except OSError:
                    ok = False
        if ok:
            return port
    raise RuntimeError("no free port")


def _service_users() -> tuple[str, str, str]:
    """(internal user, its group, login user). Dovecot refuses to run its login
    processes as root, so as root use Debian's dovenull/dovecot accounts."""
    me = pwd.getpwuid(os.getuid()).pw_name
    my_group = grp.getgrgid(os.getgid()).gr_name
    if os.getuid() != 0:
        return me, my_group, me

    def exists(name: str) -> bool:
        try:
            pwd.getpwnam(name)
        except KeyError:
            return False
        return True

    internal = "dovecot" if exists("dovecot") else "nobody"
    login = "dovenull" if exists("dovenull") else "nobody"
    return internal, grp.getgrgid(pwd.getpwnam(internal).pw_gid).gr_name, login


class DovecotServer:
    """One Dovecot instance. ``async with DovecotServer(...) as server:``."""

    host = "127.0.0.1"
    insecure_host = "127.0.0.2"

    def __init__(self, workdir: Path, tls: TLSMaterial, *, require_client_cert: bool = False,
                 cert_username: bool = False, server_cert: Path | None = None,
                 server_key: Path | None = None, ciphers: str | None = None,
                 min_protocol: str = "TLSv1.2", max_protocol: str | None = None,
                 auth_port: bool = False, mailboxes: tuple[str, ...] = ()) -> None:
        self.workdir = workdir
        self.tls = tls
        self.require_client_cert = require_client_cert or cert_username
        self.cert_username = cert_username
        self.server_cert = server_cert or tls.server_cert
        self.server_key = server_key or tls.server_key
        self.ca_file = tls.ca_file
        self.username = BOT
        self.password = PASSWORD
        self.imap_port = free_port(self.host, self.insecure_host)
        self.imap_starttls_port = free_port(self.host, self.insecure_host)
        self.lmtp_port = free_port(self.host)
        self.name = "dovecot"
        # TLS as an operator sets it: its cipher list, its versions (Dovecot
        # 2.3 has no maximum version: OpenSSL's configuration caps it).
        self.ciphers = ciphers
        self.min_protocol = min_protocol
        self.max_protocol = max_protocol
        # Dovecot's authentication offered on TCP, for Postfix's SASL.
        self.auth_port = free_port(self.host) if auth_port else None
        self.mailboxes = mailboxes  # more users (same password), to receive mail over LMTP
        self._proc: asyncio.subprocess.Process | None = None
        # As root, Dovecot's unprivileged processes (login, mail as the internal user)
        # must reach base_dir and the mail store; pytest's tmp_path is private to root,
        # so they live in a world-traversable temp folder, removed on exit.
        self.datadir = workdir
        if os.getuid() == 0:
            self.datadir = Path(tempfile.mkdtemp(prefix="esp-dovecot-"))
            self.datadir.chmod(0o755)
        self.conf = self.datadir / "dovecot.conf"

    # --- lifecycle ---------------------------------------------------------------

    def _write_config(self) -> None:
        w = self.datadir
        for sub in ("run", "state", "mail"):
            (w / sub).mkdir(parents=True, exist_ok=True)
        user, group, login_user = _service_users()
        # Dovecot never stores mail as root: as root, mail belongs to the internal user.
        mail_uid, mail_gid = pwd.getpwnam(user).pw_uid, pwd.getpwnam(user).pw_gid
        if os.getuid() == 0:
            os.chown(w / "mail", mail_uid, mail_gid)
        users = w / "users"
        # The certificate user shares the bot's mailbox: `user=` renames it at login.
        users.write_text(f"{BOT}:{{PLAIN}}{PASSWORD}::::::\n"
                         f"{CERT_USER}::::::: user={BOT} nopassword\n"
                         + "".join(f"{m}:{{PLAIN}}{PASSWORD}::::::\n" for m in self.mailboxes),
                         encoding="utf-8")
        mechanisms = "plain login external" if self.cert_username else "plain login"
        client_cert = ""
        if self.require_client_cert:
            client_cert = ("ssl_verify_client_cert = yes\n"
                           "ssl_require_crl = no\n"
                           "auth_ssl_require_client_cert = yes\n")
        if self.cert_username:
            # The common name has spaces; an empty list allows every character.
            client_cert += ("auth_ssl_username_from_cert = yes\n"
                            "auth_username_chars =\n"
                            "ssl_cert_username_field = commonName\n")
        tls_extra = ""
        if self.ciphers:
            tls_extra += f"ssl_cipher_list = {self.ciphers}\nssl_prefer_server_ciphers = yes\n"
        if self.max_protocol:
            openssl_conf = w / "openssl.cnf"
            openssl_conf.write_text(
                "openssl_conf = init\n[init]\nssl_conf = ssl\n[ssl]\n"
                "system_default = policy\n[policy]\n"
                f"MaxProtocol = {self.max_protocol}\nMinProtocol = {self.min_protocol}\n"
                "CipherString = DEFAULT@SECLEVEL=0\n", encoding="utf-8")
            tls_extra += f"import_environment = TZ OPENSSL_CONF={openssl_conf}\n"
        auth_service = ""
        if self.auth_port:
            auth_service = (f"service auth {{\n  inet_listener {{\n    address = {self.host}\n"
                            f"    port = {self.auth_port}\n  }}\n}}\n")
        self.conf.write_text(f"""\
{tls_extra}{auth_service}base_dir = {w}/run
state_dir = {w}/state
log_path = {w}/dovecot.log
auth_verbose = yes
auth_failure_delay = 0
protocols = imap lmtp
listen = {self.host}, {self.insecure_host}
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {login_user}
first_valid_uid = {min(mail_uid, 500)}
ssl = yes
ssl_cert = <{self.server_cert}
ssl_key = <{self.server_key}
ssl_ca = <{self.tls.ca_file}
ssl_min_protocol = {self.min_protocol}
{client_cert}disable_plaintext_auth = yes
auth_mechanisms = {mechanisms}
postmaster_address = postmaster@esp-valdelorge.mssante.test
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {users}
}}
userdb {{
  driver = passwd-file
  args = {users}
  default_fields = uid={mail_uid} gid={mail_gid} home={w}/mail/%u mail=maildir:~/Maildir
}}
namespace inbox {{
  inbox = yes
  separator = /
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {self.imap_starttls_port}
  }}
  inet_listener imaps {{
    port = {self.imap_port}
    ssl = yes
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = {self.host}
    port = {self.lmtp_port}
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  chroot =
}}
""", encoding="utf-8")

    async def start(self, timeout: float = 10.0) -> None:
        self._write_config()
        env = dict(os.environ)
        if self.max_protocol:
            env["OPENSSL_CONF"] = str(self.datadir / "openssl.cnf")
        self._proc = await asyncio.create_subprocess_exec(
            str(DOVECOT), "-F", "-c", str(self.conf), env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=self._stderr_file(),
            start_new_session=True)  # its own process group: stop(graceful=False) kills all
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self._proc.returncode is not None:
                err = (self.datadir / "stderr.log").read_text(errors="replace")
                raise RuntimeError(f"dovecot exited ({self._proc.returncode}): {err}{self.log()}")
            if await self._greets():
                return
            if "Fatal:" in self.log():
                await self.stop()
                raise RuntimeError(f"dovecot failed to start: {self.log()}")
            if loop.time() > deadline:
                await self.stop()
                raise RuntimeError(f"dovecot did not greet within {timeout} s: {self.log()}")
            await asyncio.sleep(0.05)

    def _stderr_file(self) -> int:
        # A file, not a pipe: nobody reads a pipe while Dovecot runs, and it must not block.
        fd = os.open(self.datadir / "stderr.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._stderr_fd = fd
        return fd

    async def _greets(self) -> bool:
        try:
            reader, writer = await asyncio.open_connection(self.host, self.imap_starttls_port)
        except OSError:
            return False
        try:
            line = await asyncio.wait_for(reader.readline(), 2)
            return line.startswith(b"* OK")
        except (TimeoutError, OSError):
            return False
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def stop(self, *, graceful: bool = True) -> None:
        """SIGTERM and wait (about 1 s: clients get a BYE), or, with
        ``graceful=False``, SIGKILL the whole process group at once (a crash)."""
        proc, self._proc = self._proc, None
        fd, self._stderr_fd = getattr(self, "_stderr_fd", None), None
        if fd is not None:
            os.close(fd)
        if proc is None or proc.returncode is not None:
            return
        if graceful:
            proc.terminate()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(proc.wait(), 10)
        # The master may exit before its children (imap-login, imap): they would keep
        # the old connections, and the old listening sockets, alive. Kill the group
        # we created at start, so that a restart really cuts every client.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        # And the master itself, should it have left the group: a teardown
        # once waited on it for good (SIGTERM unanswered on a loaded machine).
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()

    async def restart(self, *, graceful: bool = True) -> None:
        """Stop and start again on the same ports, mail kept (for reconnect tests)."""
        await self.stop(graceful=graceful)
        await self.start()

    async def __aenter__(self) -> DovecotServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        # Nothing is left to say to clients: the fast way keeps the tests quick.
        await self.stop(graceful=False)
        if self.datadir != self.workdir:
            shutil.rmtree(self.datadir, ignore_errors=True)

    def log(self) -> str:
        p = self.datadir / "dovecot.log"
        return p.read_text(errors="replace")[-4000:] if p.exists() else ""

    # --- what tests use ---------------------------------------------------------------

    def imap_settings(self, security: Security = "implicit", **overrides: Any) -> ServerSettings:
        port = self.imap_port if security == "implicit" else self.imap_starttls_port
        base = ServerSettings(host=self.host, port=port, security=security,
                              ca_file=self.ca_file, username=self.username,
                              password=self.password, auth="login", timeout=10.0,
                              revocation="when-named")
        if self.require_client_cert:
            base = replace(base, client_cert=self.tls.client_cert, client_key=self.tls.client_key)
        return replace(base, **overrides)

    async def deliver(self, raw: bytes, rcpt: str | None = None, *,
                      mail_from: str = "sender@test.invalid") -> None:
        """Deliver one message to the bot's inbox over LMTP; ``mail_from`` is
        the envelope sender Dovecot writes as Return-Path ("" for a bounce's <>)."""
        await asyncio.to_thread(self._deliver_sync_many, [raw], rcpt or self.username, mail_from)

    async def deliver_many(self, raws: list[bytes], rcpt: str | None = None) -> None:
        """Deliver several messages over one LMTP session."""
        await asyncio.to_thread(self._deliver_sync_many, raws, rcpt or self.username)

    def _deliver_sync(self, raw: bytes, rcpt: str) -> None:
        self._deliver_sync_many([raw], rcpt)

    def _deliver_sync_many(self, raws: list[bytes], rcpt: str,
                           mail_from: str = "sender@test.invalid") -> None:
        with smtplib.LMTP(self.host, self.lmtp_port, timeout=10) as lmtp:
            for raw in raws:
                lmtp.sendmail(mail_from, [rcpt], raw)

    async def folder_count(self, folder: str, user: str | None = None) -> int:
        """Messages in ``folder`` (a plain name, e.g. "Traités"), by STATUS, in
        the bot's mailbox or ``user``'s (one of ``mailboxes``)."""
        return (await self.folder_status(folder, user))["MESSAGES"]

    async def folder_status(self, folder: str, user: str | None = None) -> dict[str, int]:
        return await asyncio.to_thread(self._status_sync, folder, user)

    async def folders(self) -> list[str]:
        """Every folder of the bot's mailbox, decoded."""
        return await asyncio.to_thread(self._list_sync)

    async def messages(self, folder: str = "INBOX", user: str | None = None) -> list[bytes]:
        """Raw messages of ``folder`` in UID order (read without setting \\Seen)."""
        del user  # one mailbox here; the parameter mirrors the embedded server
        return await asyncio.to_thread(self._messages_sync, folder)

    async def seen_uids(self, folder: str = "INBOX") -> list[int]:
        return await asyncio.to_thread(self._search_sync, folder, "SEEN")

    def _imaplib(self, user: str | None = None):  # type: ignore[no-untyped-def]
        import imaplib

        ctx = ssl.create_default_context(cafile=str(self.ca_file))
        if self.require_client_cert:
            ctx.load_cert_chain(str(self.tls.client_cert), str(self.tls.client_key))
        conn = imaplib.IMAP4_SSL(self.host, self.imap_port, ssl_context=ctx, timeout=10)
        conn.login(user or self.username, self.password)
        return conn

    def _status_sync(self, folder: str, user: str | None = None) -> dict[str, int]:
        from adapters.mutf7 import encode_mutf7

        conn = self._imaplib(user)
        try:
            typ, data = conn.status(f'"{encode_mutf7(folder)}"', "(MESSAGES UNSEEN UIDVALIDITY)")
            if typ != "OK":
                raise RuntimeError(f"STATUS {folder}: {data}")
            text = data[0].decode()
            return {k: int(v) for k, v in re.findall(r"([A-Z]+) (\d+)", text)}
        finally:
            conn.logout()

    def _list_sync(self) -> list[str]:
        from tests.support.mutf7 import decode_mutf7

        conn = self._imaplib()
        try:
            _, data = conn.list('""', "*")
            names = []
            for line in data:
                m = re.search(rb'"((?:[^"\\]|\\.)*)"$|(\S+)$', line)
                assert m
                names.append(decode_mutf7((m.group(1) or m.group(2)).decode()))
            return names
        finally:
            conn.logout()

    def _messages_sync(self, folder: str) -> list[bytes]:
        from adapters.mutf7 import encode_mutf7

        conn = self._imaplib()
        try:
            conn.select(f'"{encode_mutf7(folder)}"', readonly=True)
            _, data = conn.uid("FETCH", "1:*", "(BODY.PEEK[])")
            return [part[1] for part in data if isinstance(part, tuple)]
        finally:
            conn.logout()

    def _search_sync(self, folder: str, criterion: str) -> list[int]:
        from adapters.mutf7 import encode_mutf7

        conn = self._imaplib()
        try:
            conn.select(f'"{encode_mutf7(folder)}"', readonly=True)
            _, data = conn.uid("SEARCH", criterion)
            return [int(x) for x in data[0].split()]
        finally:
            conn.logout()


def make_workdir() -> Path:
    """A private temp folder (pytest's may sit under a path other users cannot read)."""
    return Path(tempfile.mkdtemp(prefix="esp-dovecot-"))


def remove_workdir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
