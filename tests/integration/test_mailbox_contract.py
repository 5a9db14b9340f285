"""The Mailbox contract, held by ImapMailbox against every mail server we ship with.

Inspection goes through a separate stdlib imaplib connection, so what the tests
see does not depend on the adapter under test.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aioimaplib import aioimaplib as aio

from adapters.imap import FETCH_BATCH, HEADER_LIMIT, ImapMailbox
from esp_coord.config import Folders
from esp_coord.ports import FetchedMail
from tests.support.imap import Inspector, record_calls
from tests.support.mail import numbered_mail, padded

FOLDERS = Folders()


async def deliver_all(server: Any, raws: list[bytes]) -> None:
    if hasattr(server, "deliver_many"):
        await server.deliver_many(raws)
    else:
        for raw in raws:
            await server.deliver(raw)


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
                                           inspector: Inspector,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    raws = [numbered_mail(i) for i in range(150)]
    await deliver_all(mail_server, raws)

    uids = await mailbox.pending()
    assert len(uids) == 150 and uids == sorted(uids)

    fetches = record_calls(monkeypatch, aio.IMAP4ClientProtocol, "fetch")
    fetched = await mailbox.fetch(list(reversed(uids)))
    # In batches: aioimaplib re-scans a response per line received, so one FETCH
    # of every UID would cost the square of the backlog (its speed is `make bench`'s).
    assert len(fetches) == math.ceil(150 / FETCH_BATCH) == 2
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
    await deliver_all(mail_server, [numbered_mail(1), numbered_mail(2)])
    first, second = await mailbox.pending()
    await mailbox.move([first], FOLDERS.processed)
    fetched = await mailbox.fetch([first, second, second + 1000], max_bytes=max_bytes)
    assert [f.uid for f in fetched] == [second]
    assert await mailbox.fetch([], max_bytes=max_bytes) == []
    await mailbox.move([], FOLDERS.processed)  # nothing to do, no error


async def test_a_mail_over_max_bytes_comes_as_its_header_block(
        mail_server: Any, mailbox: ImapMailbox, inspector: Inspector) -> None:
    await deliver_all(mail_server, [numbered_mail(1), padded(2, 300_000), numbered_mail(3)])
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
    raws = [padded(i, 20_000) if i % 7 == 0 else numbered_mail(i) for i in range(230)]
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
    # An hour of timeout: only the delivery can end the wait (10 s is a safety net).
    waiter = asyncio.create_task(mailbox.wait_for_mail(3600))
    await asyncio.sleep(0.3)
    assert not waiter.done()
    await mail_server.deliver(numbered_mail(1))
    await asyncio.wait_for(waiter, 10)
    assert len(await mailbox.pending()) == 1


async def test_wait_for_mail_times_out_without_mail(mailbox: ImapMailbox) -> None:
    await mailbox.pending()
    # Not early: a timer of 0.5 s, set before the wait of 0.6 s, has run when it returns.
    timer = asyncio.Event()
    asyncio.get_running_loop().call_later(0.5, timer.set)
    await asyncio.wait_for(mailbox.wait_for_mail(0.6), 10)
    assert timer.is_set()
    assert await mailbox.pending() == []


async def test_wait_for_mail_sees_mail_that_arrived_while_busy(
        mail_server: Any, mailbox: ImapMailbox, monkeypatch: pytest.MonkeyPatch) -> None:
    await mailbox.pending()
    await mail_server.deliver(numbered_mail(1))
    await mailbox.fetch([1])  # any command in between swallows the server's EXISTS
    idles = record_calls(monkeypatch, aio.IMAP4, "idle_start")
    # An hour of timeout (10 s is a safety net): it returns on the UIDs it finds,
    # without waiting in IDLE for a push that will never come.
    await asyncio.wait_for(mailbox.wait_for_mail(3600), 10)
    assert idles == []


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
