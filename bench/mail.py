"""The mail servers of the benchmarks: the tests' Dovecot behind the tests' SMTP front.

Same setup as the end-to-end tests (tests/servers, tests/e2e/harness.py): what
is addressed to the bot goes into Dovecot over LMTP. On top, the front's
delivery hook notes when each answer is accepted (the moment the client gets
its 250), keyed by the In-Reply-To of the answer.
"""

from __future__ import annotations

import email.parser
import email.policy
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.e2e.harness import lmtp_into
from tests.servers.dovecot import BOT, DovecotServer, make_workdir, remove_workdir
from tests.servers.smtp_front import Received, SmtpFront
from tests.servers.tls import make_tls_material

_HEADERS = email.parser.BytesHeaderParser(policy=email.policy.compat32)


def message_id_of(raw: bytes) -> str:
    return str(_HEADERS.parsebytes(raw).get("Message-ID", "")).strip()


@dataclass
class AnswerClock:
    """When answers (not witness copies) were accepted, by the mail they answer."""

    accepted: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    total: int = 0

    def note(self, received: Received) -> None:
        if all(r.lower() == BOT for r in received.rcpt_tos):
            return  # only the bot: not an answer to anybody
        headers = _HEADERS.parsebytes(received.content)
        for mid in str(headers.get("In-Reply-To", "")).split():
            self.accepted[mid].append(time.monotonic())
        self.total += 1

    def answered(self, message_ids: set[str]) -> int:
        return sum(1 for mid in message_ids if self.accepted.get(mid))

    def duplicates(self, message_ids: set[str]) -> int:
        return sum(len(self.accepted.get(mid, ())) - 1 for mid in message_ids
                   if len(self.accepted.get(mid, ())) > 1)

    def reset(self) -> None:
        self.accepted.clear()
        self.total = 0


@dataclass
class MailServers:
    dovecot: DovecotServer
    front: SmtpFront
    clock: AnswerClock
    workdir: Path


@asynccontextmanager
async def mail_servers() -> AsyncIterator[MailServers]:
    workdir = make_workdir()
    try:
        tls = make_tls_material(workdir / "tls")
        (workdir / "dovecot").mkdir()
        clock = AnswerClock()
        async with DovecotServer(workdir / "dovecot", tls) as dovecot:
            into_dovecot = lmtp_into(dovecot, BOT)

            async def deliver(received: Received) -> None:
                await into_dovecot(received)
                clock.note(received)

            async with SmtpFront(tls, deliver=deliver) as front:
                yield MailServers(dovecot, front, clock, workdir)
    finally:
        remove_workdir(workdir)
