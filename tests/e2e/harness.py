"""The whole service against a real mailbox: Dovecot behind an aiosmtpd front.

Mail from professionals is submitted over SMTP to the front, which delivers
what is addressed to the bot into Dovecot over LMTP (and records everything).
The service reads Dovecot over IMAPS and answers through the same front, so
every answer and its witness copy take the real path.
"""

from __future__ import annotations

import asyncio
import dataclasses
import smtplib
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiosmtplib

from esp_coord.bootstrap import Service, Tuning, build_service
from esp_coord.config import Config
from esp_coord.crypto import Keyring
from esp_coord.intake import IncomingMail, parse_mail
from esp_coord.ports import Clock, Mailbox, MailSender
from esp_coord.triage import read_and_triage
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp_front import Received, SmtpFront
from tests.support.config import offline_config

FAST = Tuning(idle_timeout=5.0, outbox_poll=0.2, witness_grace=timedelta(seconds=1),
              retry_base=timedelta(milliseconds=200), retry_cap=timedelta(seconds=1))


def example_config(dovecot: DovecotServer, front: SmtpFront, folder: Path) -> Config:
    return dataclasses.replace(
        offline_config(),
        imap=dovecot.imap_settings("implicit"),
        smtp=front.settings(),
        database_url=f"sqlite:///{folder / 'esp.db'}",
        key_file=folder / "esp.key",
    )


async def wait_until(predicate: Callable[[], Any], timeout: float = 60.0,
                     what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


class Team:
    """The example team's service on real servers, restartable on the same data."""

    def __init__(self, dovecot: DovecotServer, front: SmtpFront, folder: Path,
                 *, database_url: str | None = None) -> None:
        self.dovecot = dovecot
        self.front = front
        self.config = example_config(dovecot, front, folder)
        if database_url:
            self.config = dataclasses.replace(self.config, database_url=database_url)
        self.keyring = Keyring.generate()
        self.service: Service | None = None
        self._stack: AsyncExitStack | None = None

    async def start(self, *, mailbox: Mailbox | None = None, sender: MailSender | None = None,
                    clock: Clock | None = None, tuning: Tuning = FAST) -> Service:
        self._stack = AsyncExitStack()
        self.service = build_service(self.config, keyring=self.keyring, mailbox=mailbox,
                                     sender=sender, clock=clock, tuning=tuning)
        await self.service.start(self._stack)
        return self.service

    async def stop(self) -> None:
        if self._stack is not None:
            await self._stack.aclose()
            self._stack = None

    def as_recorded(self, raw: bytes) -> IncomingMail:
        """``raw`` as the service reads it, with the dedup key it records."""
        keyring = self.service.store.keyring if self.service is not None else None
        return read_and_triage(raw, self.config, keyring)[0]

    async def submit(self, raw: bytes, sender: str | None = None) -> IncomingMail:
        """A professional sends ``raw`` to the bot through SMTP."""
        mail = self.as_recorded(raw)
        await aiosmtplib.send(raw, sender=sender or mail.from_address or "x@x.test",
                              recipients=[self.config.bot_address], hostname=self.front.host,
                              port=self.front.port, start_tls=True,
                              tls_context=_trusting(self.front))
        return mail

    def answers_to(self, address: str) -> list[IncomingMail]:
        """Mails the service sent to ``address`` (witness copies excluded)."""
        return [parse_mail(m.content) for m in self.front.messages
                if m.mail_from == self.config.bot_address and address in m.rcpt_tos]

    def answers_in_reply_to(self, mail: IncomingMail) -> list[IncomingMail]:
        return [a for a in self.answers_to(mail.from_address)
                if mail.message_id in a.in_reply_to]

    async def wait_answer(self, mail: IncomingMail, timeout: float = 15.0) -> IncomingMail:
        await wait_until(lambda: self.answers_in_reply_to(mail), timeout,
                         f"an answer to {mail.message_id}")
        return self.answers_in_reply_to(mail)[0]

    async def settled(self) -> bool:
        """Nothing left in the inbox, nothing waiting to be sent."""
        assert self.service is not None
        stats = await self.service.store.run(lambda tx: tx.outbox_stats())
        return (await self.dovecot.folder_count("INBOX") == 0
                and not stats.get("pending") and not stats.get("sending"))

    async def outcome(self, mail: IncomingMail) -> str | None:
        assert self.service is not None
        record = await self.service.store.run(lambda tx: tx.processed(mail.dedup_key))
        return record.outcome if record else None

    async def wait_outcome(self, mail: IncomingMail, timeout: float = 15.0) -> str:
        await wait_until(lambda: self.outcome(mail), timeout, f"processing of {mail.message_id}")
        result = await self.outcome(mail)
        assert result is not None
        return result


def _trusting(front: SmtpFront):  # type: ignore[no-untyped-def]
    import ssl

    assert front.tls is not None
    return ssl.create_default_context(cafile=str(front.tls.ca_file))


LOCAL_DELIVERY_ATTEMPTS = 50  # 10 s: a Dovecot restart takes about one


def lmtp_into(dovecot: DovecotServer, bot: str) -> Callable[[Received], Awaitable[None]]:
    """The front's delivery: what is addressed to the bot goes into Dovecot."""

    async def deliver(received: Received) -> None:
        if bot not in received.rcpt_tos:
            return
        # Like an MTA that has queued the message: a failed local delivery is
        # tried again, never answered 451. Dovecot restarting may have saved
        # the copy and dropped the LMTP session before its reply; a 451 then
        # would tell the client "not accepted" while the bot's copy (the
        # witness that the answer left) is in the inbox, and the other
        # recipients would never get it. Delivering twice is what a real
        # queue may do too.
        for attempt in range(LOCAL_DELIVERY_ATTEMPTS):
            try:
                await dovecot.deliver(received.content, bot)
                return
            except OSError as e:
                refused = isinstance(e, smtplib.SMTPResponseException) and e.smtp_code >= 500
                if refused or attempt == LOCAL_DELIVERY_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(0.2)

    return deliver
