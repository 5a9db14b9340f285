"""The Mailbox contract, held by ImapMailbox against every mail server we ship with.

Inspection goes through a separate stdlib imaplib connection, so what the tests
see does not depend on the adapter under test.
"""

from __future__ import annotations

import asyncio
import imaplib
import re
import ssl
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from adapters.imap import HEADER_LIMIT, ImapMailbox
from adapters.mutf7 import decode_mutf7, encode_mutf7
from esp_coord.config import Folders
from esp_coord.ports import FetchedMail

FOLDERS = Folders()


def mail(i: int, *, mid: str | None = None) -> bytes:
    mid = mid or f"<contract-{i}@cabinet.mssante.test>"
    return (f"From: Infirmière {i} <ide{i}@cabinet.mssante.test>\r\n"
            "To: coordination@esp-valdelorge.mssante.test\r\n"
            f"Subject: message {i}\r\nMessage-ID: {mid}\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n"
            f"Corps du message n° {i}, accentué.\r\n").encode()


def padded(i: int, size: int) -> bytes:
    """``mail(i)`` grown to about ``size`` bytes of body lines."""
    line = b"Ligne de compte rendu, sans rien de particulier.\r\n"
    return mail(i) + line * (size // len(line))


async def deliver_all(server: Any, raws: list[bytes]) -> None:
    if hasattr(server, "deliver_many"):
        await server.deliver_many(raws)
    else:
        for raw in raws:
            await server.deliver(raw)


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


@pytest.fixture
def inspector(mail_server: Any) -> Inspector:
    return Inspector(mail_server)


@pytest.fixture
async def mailbox(mail_server: Any) -> AsyncIterator[ImapMailbox]:
    box = ImapMailbox(mail_server.imap_settings("implicit"), FOLDERS, poll_interval=0.2)
    await box.connect()
    try:
        yield box
    finally:
        await box.close()


@pytest.mark.parametrize("security", ["implicit", "starttls"])
async def test_connects_and_creates_the_folders(mail_server: Any, inspector: Inspector,
                                                security: str) -> None:
    box = ImapMailbox(mail_server.imap_settings(security), FOLDERS)
    await box.connect()
    try:
        assert await box.pending() == []
    finally:
        await box.close()
    folders = await inspector.folders()
    for name in ("Traités", "Quarantaine", "Envoyés"):
        assert folders.count(name) == 1, folders
    # A second connection finds them and creates nothing more.
    again = ImapMailbox(mail_server.imap_settings(security), FOLDERS)
    await again.connect()
    await again.close()
    assert sorted(await inspector.folders()) == sorted(folders)


async def test_round_trip_of_many_messages(mail_server: Any, mailbox: ImapMailbox,
                                           inspector: Inspector) -> None:
    raws = [mail(i) for i in range(150)]
    await deliver_all(mail_server, raws)

    uids = await mailbox.pending()
    assert len(uids) == 150 and uids == sorted(uids)

    started = time.monotonic()
    fetched = await mailbox.fetch(list(reversed(uids)))
    assert time.monotonic() - started < 5
    assert [f.uid for f in fetched] == uids
    assert all(isinstance(f, FetchedMail) and isinstance(f.raw, bytes) for f in fetched)
    for i, f in enumerate(fetched):
        assert f"Message-ID: <contract-{i}@cabinet.mssante.test>".encode() in f.raw
        assert "accentué".encode() in f.raw
    # BODY.PEEK: nothing was marked as read.
    assert not any("\\Seen" in flags for flags in (await inspector.flags()).values())

    await mailbox.move(uids[:120], FOLDERS.processed)
    await mailbox.move(uids[120:], FOLDERS.quarantine)
    assert await mailbox.pending() == []
    assert await inspector.count("Traités") == 120
    assert await inspector.count("Quarantaine") == 30
    assert await inspector.count("INBOX") == 0


@pytest.mark.parametrize("max_bytes", [None, 10])
async def test_fetch_leaves_out_uids_not_in_the_inbox(mail_server: Any, mailbox: ImapMailbox,
                                                      max_bytes: int | None) -> None:
    await deliver_all(mail_server, [mail(1), mail(2)])
    first, second = await mailbox.pending()
    await mailbox.move([first], FOLDERS.processed)
    fetched = await mailbox.fetch([first, second, second + 1000], max_bytes=max_bytes)
    assert [f.uid for f in fetched] == [second]
    assert await mailbox.fetch([], max_bytes=max_bytes) == []
    await mailbox.move([], FOLDERS.processed)  # nothing to do, no error


async def test_a_mail_over_max_bytes_comes_as_its_header_block(
        mail_server: Any, mailbox: ImapMailbox, inspector: Inspector) -> None:
    await deliver_all(mail_server, [mail(1), padded(2, 300_000), mail(3)])
    uids = await mailbox.pending()
    whole = await mailbox.fetch(uids)
    # The size is the server's (RFC822.SIZE), the length of what it hands out.
    assert [f.size for f in whole] == [len(f.raw) for f in whole]
    assert not any(f.headers_only for f in whole)
    big = whole[1]
    assert big.size > 300_000

    fetched = await mailbox.fetch(uids, max_bytes=big.size - 1)
    assert [fetched[0], fetched[2]] == [whole[0], whole[2]]
    cut = fetched[1]
    assert (cut.uid, cut.size, cut.headers_only) == (big.uid, big.size, True)
    head, blank, _ = big.raw.partition(b"\r\n\r\n")
    assert cut.raw == head + blank
    assert b"Message-ID: <contract-2@cabinet.mssante.test>" in cut.raw
    # At the limit exactly, a mail still comes whole.
    assert await mailbox.fetch(uids, max_bytes=big.size) == whole
    assert not any("\\Seen" in flags for flags in (await inspector.flags()).values())


async def test_max_bytes_across_fetch_batches(mail_server: Any, mailbox: ImapMailbox) -> None:
    raws = [padded(i, 20_000) if i % 7 == 0 else mail(i) for i in range(230)]
    await deliver_all(mail_server, raws)
    uids = await mailbox.pending()
    fetched = await mailbox.fetch(list(reversed(uids)), max_bytes=10_000)
    assert [f.uid for f in fetched] == uids
    assert [f.headers_only for f in fetched] == [i % 7 == 0 for i in range(230)]
    for i, f in enumerate(fetched):
        assert f"Message-ID: <contract-{i}@cabinet.mssante.test>".encode() in f.raw
        assert b"Ligne de compte rendu" not in f.raw
        assert (f.size > 10_000) is f.headers_only


async def test_an_overlong_header_block_is_cut(mail_server: Any, mailbox: ImapMailbox) -> None:
    pad = b"".join(b"X-Pad-%d: %s\r\n" % (n, b"p" * 70) for n in range(20_000))
    await deliver_all(mail_server, [pad + padded(1, 100_000)])
    (fetched,) = await mailbox.fetch(await mailbox.pending(), max_bytes=100_000)
    assert fetched.headers_only and fetched.size > len(pad) + 100_000
    assert len(fetched.raw) == HEADER_LIMIT and b"X-Pad-0: ppp" in fetched.raw


async def test_wait_for_mail_returns_promptly_after_a_delivery(mail_server: Any,
                                                               mailbox: ImapMailbox) -> None:
    assert await mailbox.pending() == []
    waiter = asyncio.create_task(mailbox.wait_for_mail(30))
    await asyncio.sleep(0.3)
    assert not waiter.done()
    delivered_at = time.monotonic()
    await mail_server.deliver(mail(1))
    await asyncio.wait_for(waiter, 5)
    assert time.monotonic() - delivered_at < 2.0
    assert len(await mailbox.pending()) == 1


async def test_wait_for_mail_times_out_without_mail(mailbox: ImapMailbox) -> None:
    await mailbox.pending()
    started = time.monotonic()
    await mailbox.wait_for_mail(0.6)
    assert 0.5 <= time.monotonic() - started < 3


async def test_wait_for_mail_sees_mail_that_arrived_while_busy(mail_server: Any,
                                                               mailbox: ImapMailbox) -> None:
    await mailbox.pending()
    await mail_server.deliver(mail(1))
    await mailbox.fetch([1])  # any command in between swallows the server's EXISTS
    started = time.monotonic()
    await mailbox.wait_for_mail(10)
    assert time.monotonic() - started < 1.0


async def test_contains_message_id(mail_server: Any, mailbox: ImapMailbox) -> None:
    await deliver_all(mail_server, [mail(1, mid="<abc.42@cabinet.mssante.test>"), mail(2)])
    validity = await mailbox.uidvalidity()
    uids = await mailbox.pending()
    await mailbox.move(uids[:1], FOLDERS.processed)

    assert await mailbox.contains_message_id("Traités", "<abc.42@cabinet.mssante.test>")
    assert await mailbox.contains_message_id("Traités", "abc.42@cabinet.mssante.test")
    assert not await mailbox.contains_message_id("Traités", "<bc.42@cabinet.mssante.test>")
    assert not await mailbox.contains_message_id("Traités", "<contract-2@cabinet.mssante.test>")
    assert not await mailbox.contains_message_id("Quarantaine", "<abc.42@cabinet.mssante.test>")
    assert await mailbox.contains_message_id("INBOX", "<contract-2@cabinet.mssante.test>")
    # The inbox is selected again afterwards.
    assert await mailbox.pending() == uids[1:]
    assert await mailbox.uidvalidity() == validity
    await mailbox.move(uids[1:], FOLDERS.quarantine)
    assert await mailbox.pending() == []


async def test_uidvalidity_is_stable_across_connections(mail_server: Any,
                                                        mailbox: ImapMailbox) -> None:
    first = await mailbox.uidvalidity()
    assert isinstance(first, int) and first > 0
    other = ImapMailbox(mail_server.imap_settings("starttls"), FOLDERS)
    await other.connect()
    try:
        assert await other.uidvalidity() == first
    finally:
        await other.close()
    await mailbox.connect()  # reconnecting the same adapter starts afresh
    assert await mailbox.uidvalidity() == first
