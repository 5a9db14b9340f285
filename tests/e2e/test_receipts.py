"""Acknowledgements and bounces end to end: SMTP in, a real Dovecot mailbox
(which writes Return-Path from the envelope, as an operator's server does),
the whole service, SMTP out.

- a member's mail asking for an MDN gets its answer and one MDN; again, none;
- a stranger's, a robot's, or a request to another address than the
  Return-Path gets none;
- a bounce (DSN) of one of our answers is recorded on its outbox row and the
  coordination gets one notice, even after a second bounce: a DSN written
  like Postfix's, and a real one, from Debian's Postfix delivering to a
  mailbox Dovecot does not have.
"""

from __future__ import annotations

import dataclasses
import email
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from email import policy
from email.message import EmailMessage, Message
from pathlib import Path

import aiosmtplib
import pytest

from esp_coord.bootstrap import build_service
from esp_coord.crypto import Keyring
from esp_coord.intake import IncomingMail
from esp_coord.store.records import OutboxItem
from tests.e2e.harness import FAST, Team, _trusting, wait_until
from tests.servers.dovecot import BOT, DovecotServer
from tests.servers.postfix import PostfixServer, require_postfix
from tests.servers.smtp_front import Received, SmtpFront
from tests.servers.tls import TLSMaterial
from tests.support.config import offline_config
from tests.support.dsn import postfix_dsn
from tests.support.mail import ANA, CLAIRE, mail

STRANGER = "marc.petit@medecin.mssante.test"
PAUL = "paul.girard@medecin.mssante.test"


@pytest.fixture
async def front(dovecot: DovecotServer, tls_material: TLSMaterial) -> AsyncIterator[SmtpFront]:
    """The SMTP front, delivering into Dovecot with the real envelope sender."""

    async def deliver(received: Received) -> None:
        if BOT in received.rcpt_tos:
            await dovecot.deliver(received.content, BOT, mail_from=received.mail_from)

    async with SmtpFront(tls_material, deliver=deliver) as server:
        yield server


def asking(subject: str, *, sender: str = CLAIRE, name: str = "Claire DURAND",
           dnt: str | None = None, extra: str = "") -> bytes:
    return mail(subject, "Bonjour", sender=sender, name=name,
                extra=f"Disposition-Notification-To: {name} <{dnt or sender}>\r\n{extra}")


def sent_to(team: Team, address: str) -> list[EmailMessage]:
    """What the service sent to ``address`` (its witness copies excluded)."""
    found = []
    for m in team.front.messages:
        if m.mail_from == team.config.bot_address and address in m.rcpt_tos:
            message = email.message_from_bytes(m.content, policy=policy.default)
            assert isinstance(message, EmailMessage)
            found.append(message)
    return found


def is_mdn(message: Message) -> bool:
    return (message.get_content_type() == "multipart/report"
            and message.get_param("report-type") == "disposition-notification")


def report_of(mdn: Message) -> Message:
    part = mdn.get_payload()[1]
    assert isinstance(part, Message)
    block = part.get_payload()[0]
    assert isinstance(block, Message)
    return block


async def settled(team: Team) -> bool:
    return await team.settled()


async def test_a_member_asking_for_an_mdn_gets_one_with_the_answer_and_none_again(
        team: Team) -> None:
    await team.start()
    raw = asking("AIDE")
    sent = await team.submit(raw)
    await wait_until(lambda: len(sent_to(team, CLAIRE)) == 2, what="answer and MDN")
    (mdn,) = [m for m in sent_to(team, CLAIRE) if is_mdn(m)]
    (answer,) = [m for m in sent_to(team, CLAIRE) if not is_mdn(m)]
    assert answer["Subject"].startswith("RE: AIDE")
    assert mdn["In-Reply-To"] == sent.message_id == answer["In-Reply-To"]
    assert mdn["Subject"] == "AIDE" and mdn["Auto-Submitted"] == "auto-replied"
    assert "Disposition-Notification-To" not in mdn
    report = report_of(mdn)
    assert report["Original-Message-ID"] == sent.message_id
    assert report["Final-Recipient"] == f"rfc822;{BOT}"
    assert report["Disposition"] == "automatic-action/MDN-sent-automatically; processed"
    # Both witnessed: the MDN's own copy came back and was recognised as ours.
    await wait_until(lambda: settled(team), what="settled")
    await wait_until(lambda: team.dovecot.folder_count("Envoyés"), what="copies filed")
    stats = await team.service.store.run(lambda tx: tx.outbox_stats())  # type: ignore[union-attr]
    assert stats["sent"] == 2
    # The same mail delivered again: recognised, nothing sent.
    await team.submit(raw)
    await wait_until(lambda: team.dovecot.folder_count("Traités"), what="filed")
    await wait_until(lambda: settled(team), what="settled again")
    assert len(sent_to(team, CLAIRE)) == 2


async def test_an_error_mdn_for_a_mail_not_understood(team: Team) -> None:
    await team.start()
    sent = await team.submit(asking("stauts", dnt=CLAIRE))
    await wait_until(lambda: len(sent_to(team, CLAIRE)) == 2, what="answer and MDN")
    (mdn,) = [m for m in sent_to(team, CLAIRE) if is_mdn(m)]
    assert mdn["Subject"] == "[KO Intégration système !][906] stauts"
    assert report_of(mdn)["Disposition"].endswith("processed/Error: 906^Erreur 'Autre'")
    assert report_of(mdn)["Original-Message-ID"] == sent.message_id


async def test_no_mdn_for_strangers_robots_or_another_address(team: Team) -> None:
    await team.start()
    stranger = await team.submit(asking("AIDE", sender=STRANGER, name="Marc PETIT"))
    robot = await team.submit(asking("AIDE", extra="Auto-Submitted: auto-replied\r\n"))
    elsewhere = await team.submit(asking("AIDE", dnt=PAUL))
    assert await team.wait_outcome(stranger) == "quarantined"
    assert await team.wait_outcome(robot) == "ignored"
    assert await team.wait_outcome(elsewhere) == "answered"
    await wait_until(lambda: settled(team), what="settled")
    assert sent_to(team, STRANGER) == [] and sent_to(team, PAUL) == []
    # Claire's own mail is answered (once), never acknowledged: the request
    # named an address other than the Return-Path.
    assert len(sent_to(team, CLAIRE)) == 1 and not is_mdn(sent_to(team, CLAIRE)[0])


async def _bounce(team: Team, raw: bytes) -> IncomingMail:
    """A relay's DSN, sent with the null envelope sender of bounces."""
    recorded = team.as_recorded(raw)
    async with aiosmtplib.SMTP(hostname=team.front.host, port=team.front.port, start_tls=True,
                               tls_context=_trusting(team.front)) as smtp:
        # aiosmtplib's mail() refuses "<>": the null reverse-path by hand.
        await smtp.ehlo()
        reply = await smtp.execute_command(b"MAIL", b"FROM:<>")
        assert reply.code == 250, reply
        await smtp.rcpt(team.config.bot_address)
        await smtp.data(raw)
    return recorded


async def _row(team: Team, message_id: str) -> OutboxItem:
    assert team.service is not None
    rows = await team.service.store.run(
        lambda tx: [tx.outbox_item(i) for i in range(1, 50)])
    (row,) = [r for r in rows if r is not None and r.message_id == message_id]
    return row


async def test_a_bounce_of_our_answer_is_recorded_and_told_once(team: Team) -> None:
    await team.start()
    notices = lambda: [m for m in sent_to(team, ANA)  # noqa: E731
                       if str(m["Subject"]).startswith("Adresse en échec")]
    first = await team.submit(mail("AIDE", "un"))
    answer = await team.wait_answer(first)
    assert answer.message_id is not None
    as_sent = next(m.content for m in team.front.messages
                   if m.mail_from == BOT and CLAIRE in m.rcpt_tos)
    report = await _bounce(team, postfix_dsn(as_sent, CLAIRE))
    assert await team.wait_outcome(report) == "ignored"
    row = await _row(team, answer.message_id)
    assert (row.bounce_status, row.bounce_recipient) == ("5.1.1", CLAIRE)
    assert row.bounced_at is not None
    await wait_until(lambda: notices(), what="the coordinator's notice")
    (notice,) = notices()
    text = notice.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert CLAIRE in text and "5.1.1" in text and "User unknown" in text
    # A second answer to the same address bounces too: recorded, not told again.
    second = await team.submit(mail("AIDE", "deux"))
    again = await team.wait_answer(second)
    assert again.message_id is not None
    as_sent = [m.content for m in team.front.messages
               if m.mail_from == BOT and CLAIRE in m.rcpt_tos][-1]
    report = await _bounce(team, postfix_dsn(
        as_sent, CLAIRE, report_id="<20261123111244.9B4D32B1C6@relay.medecin.mssante.test>"))
    assert await team.wait_outcome(report) == "ignored"
    assert (await _row(team, again.message_id)).bounce_recipient == CLAIRE
    await wait_until(lambda: settled(team), what="settled")
    assert len(notices()) == 1
    record = await team.service.store.run(  # type: ignore[union-attr]
        lambda tx: tx.address_bounces(CLAIRE))
    assert record is not None and record.bounces == 2


# --- a real bounce: Debian's Postfix refuses nothing, Dovecot's LMTP does -------------


@pytest.fixture
async def operator(tmp_path: Path, tls_material: TLSMaterial
                   ) -> AsyncIterator[tuple[DovecotServer, PostfixServer]]:
    """An operator's two servers: Dovecot holds the bot's and the coordinator's
    mailboxes (not Claire's), Postfix takes submissions and delivers over LMTP,
    bouncing what Dovecot refuses to the envelope sender, the bot."""
    require_postfix()
    workdir = tmp_path / "dovecot"
    workdir.mkdir()
    async with DovecotServer(workdir, tls_material, auth_port=True,
                             mailboxes=(ANA,)) as dovecot:
        async with PostfixServer(tmp_path / "postfix", tls_material, dovecot) as postfix:
            yield dovecot, postfix


async def test_a_real_postfix_bounce_is_recorded_and_told_once(
        operator: tuple[DovecotServer, PostfixServer], tmp_path: Path) -> None:
    dovecot, postfix = operator
    config = dataclasses.replace(
        offline_config(), imap=dovecot.imap_settings("implicit"), smtp=postfix.settings(),
        database_url=f"sqlite:///{tmp_path / 'esp.db'}", key_file=tmp_path / "esp.key")
    service = build_service(config, keyring=Keyring.generate(), tuning=FAST)
    store = service.store

    async def rows() -> list[OutboxItem]:
        return await store.run(lambda tx: [i for i in (tx.outbox_item(n) for n in range(1, 50))
                                           if i is not None])

    async def bounced() -> list[OutboxItem]:
        return [r for r in await rows() if r.bounced_at is not None]

    async def notices() -> list[OutboxItem]:
        return [r for r in await rows() if r.recipients == (ANA,)]

    async with AsyncExitStack() as stack:
        await service.start(stack)
        # Claire writes twice (her mail reaches the bot); her mailbox is gone.
        for body in ("un", "deux"):
            await dovecot.deliver(mail("AIDE", body), BOT, mail_from=CLAIRE)
        await wait_until(lambda: _count(bounced, 2), 90, what="both answers bounced")
        for row in await bounced():
            assert (row.bounce_recipient, row.bounce_status) == (CLAIRE, "5.1.1"), row
        await wait_until(lambda: _count(notices, 1), 30, what="the coordinator's notice")
        await wait_until(lambda: _sent(notices), 30, what="the notice sent")
        # The second bounce told nobody again; the notice itself went through.
        assert len(await notices()) == 1
        record = await store.run(lambda tx: tx.address_bounces(CLAIRE))
        assert record is not None and record.bounces == 2
        assert await store.run(lambda tx: tx.address_bounces(ANA)) is None


async def _count(rows: Callable[[], Awaitable[list[OutboxItem]]], n: int) -> bool:
    return len(await rows()) >= n


async def _sent(rows: Callable[[], Awaitable[list[OutboxItem]]]) -> bool:
    return all(r.status == "sent" for r in await rows())
