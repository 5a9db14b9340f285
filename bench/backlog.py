"""Backlog: N plan mails waiting in the inbox, the service against the raw transport.

Service: the real service (tests/e2e/harness.py ``Team``) on a fresh database,
started with the whole backlog already delivered. Its time runs from the start
of the service until every mail has its answer accepted by SMTP and sits in
the processed folder. "Settled" adds the time for every witness copy to come
back and be filed (the outbox confirmed).

Baseline: the same libraries and servers doing only the mail work, as fast as
they reasonably can: list the inbox, fetch in batches (one FETCH per batch),
move each batch with one UID MOVE, and send one short answer per mail over as
many concurrent SMTP sessions as the service uses, overlapping with the IMAP
work. No database, no parsing beyond the two headers it needs, no witness copy.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email.parser
import email.policy
import resource
import time
from collections.abc import Callable
from datetime import timedelta
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import Any

from sqlalchemy import text

from adapters.imap import ImapMailbox
from adapters.imap_wire import chunks
from adapters.smtp import SmtpSender
from bench.mail import MailServers, message_id_of
from esp_coord.bootstrap import Tuning
from esp_coord.config import Folders
from tests.e2e.harness import Team, wait_until
from tests.servers.dovecot import BOT

BASELINE_FOLDER = "Baseline"
# Production settings, except a short grace before re-sending after a crash
# (there is none here) so that a run cannot stall on it.
TUNING = Tuning(witness_grace=timedelta(seconds=5))
_HEADERS = email.parser.BytesHeaderParser(policy=email.policy.compat32)

Tick = Callable[[int], None]


def cpu_seconds() -> float:
    """CPU used by this process so far: the service and the test servers'
    Python side (SMTP front, LMTP client) share it; Dovecot is not counted."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _folder_count(mail: MailServers, folder: str) -> int:
    if folder != "INBOX" and folder not in await mail.dovecot.folders():
        return 0  # created by the service on its first connection
    return await mail.dovecot.folder_count(folder)


async def run_service(mail: MailServers, raws: list[bytes], folder: Path, *,
                      tuning: Tuning = TUNING, tick: Tick = lambda done: None,
                      timeout: float = 1800.0) -> dict[str, Any]:
    """The service working through ``raws``; figures and checks."""
    mail.clock.reset()
    mail.front.messages.clear()
    before = await _folder_count(mail, "Traités")
    started = time.monotonic()
    await mail.dovecot.deliver_many(raws)
    delivered_s = time.monotonic() - started
    ids = {message_id_of(raw) for raw in raws}
    team = Team(mail.dovecot, mail.front, folder)
    t0, cpu0 = time.monotonic(), cpu_seconds()
    await team.start(tuning=tuning)
    try:
        def answered() -> bool:
            done = mail.clock.answered(ids)
            tick(done)
            return done == len(ids)

        await wait_until(answered, timeout, "every answer")
        answered_s = time.monotonic() - t0
        await wait_until(lambda: _filed(mail, "Traités", before + len(raws)), timeout,
                         "every mail filed")
        done_s, cpu_s = time.monotonic() - t0, cpu_seconds() - cpu0
        assert team.service is not None
        store = team.service.store
        await wait_until(lambda: _settled(mail, store), timeout, "witness copies filed")
        settled_s = time.monotonic() - t0
        outcomes = await store.run(_outcomes)
    finally:
        await team.stop()
    return {
        "mails": len(raws),
        "delivery_s": round(delivered_s, 3),
        "answered_s": round(answered_s, 3),
        "seconds": round(done_s, 3),
        "rate_per_s": round(len(raws) / done_s, 2),
        "cpu_s": round(cpu_s, 3),
        "cpu_ms_per_mail": round(cpu_s / len(raws) * 1000, 2),
        "settled_s": round(settled_s, 3),
        "outcomes": outcomes,
        "answered": mail.clock.answered(ids),
        "duplicate_answers": mail.clock.duplicates(ids),
        "smtp_workers": tuning.smtp_workers,
        "batch_size": tuning.batch_size,
    }


async def _filed(mail: MailServers, folder: str, count: int) -> bool:
    await asyncio.sleep(0.2)  # each check is one IMAP session: keep them sparse
    return await _folder_count(mail, folder) >= count


async def _settled(mail: MailServers, store: Any) -> bool:
    stats = await store.run(lambda tx: tx.outbox_stats())
    if stats.get("pending") or stats.get("sending"):
        return False
    await asyncio.sleep(0.2)
    return await _folder_count(mail, "INBOX") == 0


def _outcomes(tx: Any) -> dict[str, int]:
    rows = tx.connection.execute(
        text("SELECT outcome, count(*) FROM processed_mail GROUP BY outcome"))
    return {str(outcome): int(count) for outcome, count in rows}


def _short_answer(raw_headers: bytes) -> tuple[bytes, str]:
    headers = _HEADERS.parsebytes(raw_headers)
    to = parseaddr(str(headers.get("From", "")))[1]
    mid = str(headers.get("Message-ID", "")).strip()
    answer = (f"From: {BOT}\r\nTo: {to}\r\nSubject: Re: bien reçu\r\n"
              f"Date: {formatdate(localtime=True)}\r\nMessage-ID: {make_msgid(domain='bench')}\r\n"
              f"In-Reply-To: {mid}\r\nMIME-Version: 1.0\r\n"
              "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
              "\r\nMessage reçu.\r\n").encode()
    return answer, to


async def run_baseline(mail: MailServers, raws: list[bytes], *, smtp_workers: int,
                       batch_size: int, tick: Tick = lambda done: None) -> dict[str, Any]:
    """Fetch, move and answer each mail with nothing else: the transport's limit."""
    mail.clock.reset()
    mail.front.messages.clear()
    await mail.dovecot.deliver_many(raws)
    ids = {message_id_of(raw) for raw in raws}
    settings = mail.dovecot.imap_settings("implicit")
    folders = dataclasses.replace(Folders(), processed=BASELINE_FOLDER)
    mailbox = ImapMailbox(settings, folders)
    sender = SmtpSender(mail.front.settings(), max_connections=smtp_workers)
    queue: asyncio.Queue[tuple[bytes, str] | None] = asyncio.Queue()
    sent = 0

    async def smtp_worker() -> None:
        nonlocal sent
        while (item := await queue.get()) is not None:
            await sender.send(item[0], sender=BOT, recipients=[item[1]])
            sent += 1
            tick(sent)

    t0, cpu0 = time.monotonic(), cpu_seconds()
    await mailbox.connect()
    workers = [asyncio.create_task(smtp_worker()) for _ in range(smtp_workers)]
    try:
        while uids := await mailbox.pending():
            for chunk in chunks(uids, batch_size):
                for fetched in await mailbox.fetch(chunk):
                    queue.put_nowait(_short_answer(fetched.raw.split(b"\r\n\r\n", 1)[0]))
                await mailbox.move(chunk, BASELINE_FOLDER)
        for _ in workers:
            queue.put_nowait(None)
        await asyncio.gather(*workers)
        seconds, cpu_s = time.monotonic() - t0, cpu_seconds() - cpu0
    finally:
        for w in workers:
            w.cancel()
        await sender.close()
        await mailbox.close()
    return {
        "mails": len(raws),
        "seconds": round(seconds, 3),
        "rate_per_s": round(len(raws) / seconds, 2),
        "cpu_s": round(cpu_s, 3),
        "cpu_ms_per_mail": round(cpu_s / len(raws) * 1000, 2),
        "answered": mail.clock.answered(ids),
        "smtp_workers": smtp_workers,
        "batch_size": batch_size,
    }
