"""An independent IMAP client that inspects a test server (stdlib imaplib, implicit TLS).

What the tests see through it does not depend on the adapter under test.
"""

from __future__ import annotations

import asyncio
import imaplib
import re
import ssl
from typing import Any

from adapters.mutf7 import encode_mutf7
from tests.support.mutf7 import decode_mutf7

__all__ = ["Inspector"]


class Inspector:
    """A second, independent IMAP client (stdlib imaplib, implicit TLS)."""

    def __init__(self, server: Any) -> None:
        self.server = server

    def _conn(self) -> imaplib.IMAP4_SSL:
        s = self.server.imap_settings("implicit")
        ctx = ssl.create_default_context(cafile=str(s.ca_file))
        conn = imaplib.IMAP4_SSL(s.host, s.port, ssl_context=ctx, timeout=10)
        conn.login(s.username, s.password)
        return conn

    def _folders(self) -> list[str]:
        conn = self._conn()
        try:
            _, data = conn.list('""', "*")
            names = []
            for line in data:
                m = re.search(rb'"((?:[^"\\]|\\.)*)"$|(\S+)$', line)
                names.append(decode_mutf7((m.group(1) or m.group(2)).decode()))
            return names
        finally:
            conn.logout()

    def _flags(self, folder: str) -> dict[int, str]:
        conn = self._conn()
        try:
            typ, _ = conn.select(f'"{encode_mutf7(folder)}"', readonly=True)
            assert typ == "OK", folder
            _, data = conn.uid("FETCH", "1:*", "(UID FLAGS)")
            out = {}
            for line in data:
                if not line:
                    continue
                m = re.search(rb"UID (\d+)", line)
                f = re.search(rb"FLAGS \(([^)]*)\)", line)
                if m and f:
                    out[int(m.group(1))] = f.group(1).decode()
            return out
        finally:
            conn.logout()

    async def folders(self) -> list[str]:
        return await asyncio.to_thread(self._folders)

    async def flags(self, folder: str = "INBOX") -> dict[int, str]:
        """UID -> flags of every message in ``folder``."""
        return await asyncio.to_thread(self._flags, folder)

    async def count(self, folder: str) -> int:
        return len(await self.flags(folder))


def record_calls(monkeypatch: Any, owner: type, name: str) -> list[tuple[Any, ...]]:
    """Every call of the coroutine method ``owner.name`` from now on (its
    arguments), the method still doing its work: the tests count IMAP commands
    instead of timing them."""
    calls: list[tuple[Any, ...]] = []
    real = getattr(owner, name)

    async def recording(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return await real(self, *args, **kwargs)

    monkeypatch.setattr(owner, name, recording)
    return calls
