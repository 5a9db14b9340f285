"""IMAP for the embedded demo server: pymap's in-memory ("dict") backend.

pymap serves IMAP with STARTTLS only; implicit TLS is obtained by serving the
same backend behind ``asyncio.start_server(ssl=...)`` with a second pymap
config that does not advertise STARTTLS. Both listeners share one ``Login``, so
both see the same users and mailboxes (pymap keeps them in ``login.config``).

pymap lets loopback clients log in before STARTTLS; here it does not, so the
demo behaves like an MSSanté operator (LOGINDISABLED until TLS is up).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from argparse import Namespace
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from uuid import uuid4

from proxyprotocol.sock import SocketInfoLocal
from pymap.backend.dict import Config, Identity, Login
from pymap.backend.dict.filter import FilterSet
from pymap.backend.dict.mailbox import MailboxData, MailboxSet
from pymap.concurrent import Subsystem
from pymap.imap import IMAPServer
from pymap.parsing.message import AppendMessage
from pymap.parsing.specials import FetchRequirement
from pymap.user import UserMetadata
from pysasl.hashing import Cleartext


class _NotLoopback(SocketInfoLocal):
    """Connection info that never claims to be local: TLS before login, always."""

    @property
    def from_localhost(self) -> bool:
        return False


def _config(ssl_context: ssl.SSLContext, *, host: str, starttls: bool) -> Config:
    args = Namespace(passlib_cfg=None, proxy_protocol=None, inherited_sockets=None, debug=False)
    return Config(
        args, host=host, port=0, demo_data=False, demo_user="", demo_password="",
        ssl_context=ssl_context,
        # Without STARTTLS on offer, pymap allows login at once: right for the
        # implicit-TLS listener, where TLS is already up below pymap.
        tls_enabled=starttls,
        # In-memory demo accounts: hashing buys nothing, and the default hash
        # would run in a thread pool that outlives the server.
        hash_context=Cleartext(),
        cpu_subsystem=Subsystem.for_asyncio(),
        invalid_user_sleep=0.05,
        reject_dnsbl=False,
        bad_command_limit=None,
    )


class MemoryImapServer:
    """pymap in memory, on two loopback ports: implicit TLS and STARTTLS."""

    def __init__(self, ssl_context: ssl.SSLContext, *, host: str = "127.0.0.1") -> None:
        self.host = host
        self.imap_port = 0
        self.imap_starttls_port = 0
        self._ssl = ssl_context
        self._config = _config(ssl_context, host=host, starttls=True)
        self._login = Login(self._config)
        self._connections: set[asyncio.Task[object]] = set()
        self._listeners: list[asyncio.Server] = []

    # --- accounts and mailboxes -------------------------------------------------

    async def add_user(self, name: str, password: str | None) -> None:
        """Create (or update) an account; ``password=None``: receives mail, cannot log in."""
        name = name.lower()
        identity = Identity(name, self._login, None, frozenset())
        await identity.set(UserMetadata(self._config, name, password=password))
        self._mailbox_set(name)

    def _mailbox_set(self, user: str) -> MailboxSet:
        # Same cache pymap fills at login (Identity.new_session), keyed by login name.
        cache = self._config.set_cache
        if user not in cache:
            cache[user] = (MailboxSet(), FilterSet())
        return cache[user][0]

    def has_user(self, name: str) -> bool:
        return name.lower() in self._login.users_dict

    async def _mailbox(self, user: str, folder: str, *, create: bool) -> MailboxData | None:
        mailboxes = self._mailbox_set(user.lower())
        try:
            return await mailboxes.get_mailbox(folder)
        except KeyError:
            if not create:
                return None
            await mailboxes.add_mailbox(folder)
            return await mailboxes.get_mailbox(folder)

    async def append(self, user: str, raw: bytes, folder: str = "INBOX") -> int:
        """Put a message in a user's folder, as a delivery agent would. Returns its UID.

        Selected sessions (IDLE included) are told at once.
        """
        mailbox = await self._mailbox(user, folder, create=True)
        assert mailbox is not None
        message = await mailbox.append(
            AppendMessage(_crlf(raw), datetime.now(UTC), frozenset()), recent=True)
        return message.uid

    async def messages(self, user: str, folder: str = "INBOX") -> list[bytes]:
        """Raw messages in a user's folder, in UID order (empty if no such folder)."""
        mailbox = await self._mailbox(user, folder, create=False)
        if mailbox is None:
            return []
        found = [(m.uid, bytes(await m.load_content(FetchRequirement.CONTENT)))
                 async for m in mailbox.messages() if not m.expunged]
        return [raw for _, raw in sorted(found)]

    async def folders(self, user: str) -> list[str]:
        tree = await self._mailbox_set(user.lower()).list_mailboxes()
        return sorted(entry.name for entry in tree.list())

    # --- listeners ----------------------------------------------------------------

    async def start(self, stack: AsyncExitStack) -> None:
        starttls = IMAPServer(self._login, self._config)
        implicit = IMAPServer(self._login, _config(self._ssl, host=self.host, starttls=False))

        def serve(server: IMAPServer) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter],
                                                  Awaitable[None]]:
            async def on_client(reader: asyncio.StreamReader,
                                writer: asyncio.StreamWriter) -> None:
                task = asyncio.current_task()
                assert task is not None
                self._connections.add(task)
                try:
                    await server(reader, writer, _NotLoopback(writer, unique_id=uuid4().bytes))
                finally:
                    self._connections.discard(task)
            return on_client

        plain = await asyncio.start_server(serve(starttls), self.host, 0)
        tls = await asyncio.start_server(serve(implicit), self.host, 0, ssl=self._ssl)
        self._listeners = [plain, tls]
        stack.push_async_callback(self._shutdown)
        self.imap_starttls_port = plain.sockets[0].getsockname()[1]
        self.imap_port = tls.sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        for listener in self._listeners:
            listener.close()
        # Open sessions (a client in IDLE) would keep the server alive: end them.
        tasks = list(self._connections)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for listener in self._listeners:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(listener.wait_closed(), timeout=2.0)


def _crlf(raw: bytes) -> bytes:
    # IMAP serves messages with CRLF line ends; mail composed in Python has LF.
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
