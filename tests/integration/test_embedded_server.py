"""The embedded demo server: SMTP in, IMAP out, over real TLS, with IDLE and MOVE."""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
from collections.abc import Callable
from email.message import EmailMessage

import aioimaplib
import pytest

from adapters.embedded import EmbeddedMailServer
from adapters.mutf7 import encode_mutf7
from adapters.smtp import SmtpSender
from adapters.tls import client_context
from esp_coord.config import ServerSettings
from esp_coord.ports import SendRejected
from tests.servers.embedded import BOT, EmbeddedTestServer, start_embedded
from tests.servers.tls import TLSMaterial

NURSE = "sophie.leroy@infirmiers-lorge.mssante.test"
GP = "julien.marie@medecins-lorge.mssante.test"


def mail(subject: str = "Nouveau PPS", to: str = BOT) -> bytes:
    msg = EmailMessage()
    msg["From"] = GP
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content("Référent : Dr MARIE\nProblème : diabète de type 2\n")
    return msg.as_bytes()


def crlf(raw: bytes) -> bytes:
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


@pytest.fixture
async def embedded(tmp_path, tls_material: TLSMaterial):
    async with start_embedded(tmp_path, tls_material) as server:
        yield server


async def imap_client(settings: ServerSettings,
                      on_lost: Callable[[Exception | None], None] | None = None,
                      ) -> aioimaplib.IMAP4:
    # IMAP4 with a TLS context is what IMAP4_SSL is, and it takes conn_lost_cb.
    client = aioimaplib.IMAP4(host=settings.host, port=settings.port,
                              ssl_context=client_context(settings), timeout=5,
                              conn_lost_cb=on_lost)
    await client.wait_hello_from_server()
    response = await client.login(settings.username, settings.password)
    assert response.result == "OK", response
    await client.protocol.capability()  # pymap lists MOVE, IDLE, UIDPLUS only once logged in
    return client


def fetched_bodies(lines: list) -> list[bytes]:
    return [bytes(line) for line in lines if isinstance(line, bytearray)]


class RawImap:
    """Just enough IMAP over asyncio streams to drive STARTTLS by hand."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer, self.tag = reader, writer, 0

    @classmethod
    async def connect(cls, host: str, port: int) -> tuple[RawImap, bytes]:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer), await reader.readline()

    async def command(self, text: str) -> list[bytes]:
        self.tag += 1
        tag = f"t{self.tag}".encode()
        self.writer.write(tag + b" " + text.encode() + b"\r\n")
        await self.writer.drain()
        lines = []
        while True:
            line = await asyncio.wait_for(self.reader.readline(), 5)
            lines.append(line)
            literal = re.search(rb"\{(\d+)\}\r\n$", line)
            if literal:
                lines.append(await self.reader.readexactly(int(literal.group(1))))
            if line.startswith(tag + b" ") or not line:
                return lines

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, ssl.SSLError):
            pass


async def test_smtp_in_visible_over_implicit_tls_imap(embedded: EmbeddedTestServer) -> None:
    raw = mail()
    sender = SmtpSender(embedded.server.smtp_settings(BOT))
    await sender.send(raw, sender=GP, recipients=[BOT])
    await sender.close()
    client = await imap_client(embedded.imap_settings("implicit"))
    try:
        selected = await client.select("INBOX")
        assert b"1 EXISTS" in selected.lines
        response = await client.uid("fetch", "1:*", "(BODY.PEEK[])")
        assert response.result == "OK"
        assert fetched_bodies(response.lines) == [crlf(raw)]
    finally:
        await client.logout()


async def test_starttls_port_refuses_login_before_tls(embedded: EmbeddedTestServer,
                                                      tls_material: TLSMaterial) -> None:
    await embedded.deliver(mail("par STARTTLS"))
    conn, greeting = await RawImap.connect(embedded.host, embedded.imap_starttls_port)
    try:
        assert b"STARTTLS" in greeting and b"LOGINDISABLED" in greeting
        refused = await conn.command(f'LOGIN "{BOT}" "{embedded.password}"')
        assert not refused[-1].split()[1].startswith(b"OK")
        ok = await conn.command("STARTTLS")
        assert ok[-1].split()[1] == b"OK"
        settings = embedded.imap_settings("starttls")
        await conn.writer.start_tls(client_context(settings), server_hostname=settings.host)
        caps = b"".join(await conn.command("CAPABILITY"))
        assert b"STARTTLS" not in caps and b"AUTH=PLAIN" in caps
        login = await conn.command(f'LOGIN "{BOT}" "{embedded.password}"')
        assert login[-1].split()[1] == b"OK"
        for capability in (b"IDLE", b"MOVE", b"UIDPLUS"):
            assert capability in login[-1]
        await conn.command("SELECT INBOX")
        fetched = await conn.command("UID FETCH 1:* (BODY.PEEK[])")
        assert crlf(mail("par STARTTLS")) in fetched
    finally:
        await conn.close()


async def test_implicit_port_does_not_offer_starttls(embedded: EmbeddedTestServer) -> None:
    client = aioimaplib.IMAP4_SSL(host=embedded.host, port=embedded.imap_port,
                                  ssl_context=client_context(embedded.imap_settings()),
                                  timeout=5)
    await client.wait_hello_from_server()
    assert "STARTTLS" not in client.protocol.capabilities
    assert "AUTH=PLAIN" in client.protocol.capabilities
    bad = await client.login(BOT, "not-the-password")
    assert bad.result == "NO"
    await client.logout()


async def test_every_recipient_gets_a_mailbox(embedded: EmbeddedTestServer) -> None:
    raw = mail("Invitation RCP", to=f"{NURSE}, {GP}")
    sender = SmtpSender(embedded.smtp_settings())
    await sender.send(raw, sender=BOT, recipients=[NURSE, GP])
    await sender.close()
    assert await embedded.messages(user=NURSE) == [crlf(raw)]
    assert await embedded.messages(user=GP) == [crlf(raw)]
    assert await embedded.messages() == []


async def test_submission_needs_tls_and_a_password(embedded: EmbeddedTestServer) -> None:
    wrong = SmtpSender(embedded.smtp_settings(password="wrong"))
    with pytest.raises(SendRejected) as info:
        await wrong.send(mail(), sender=BOT, recipients=[NURSE])
    await wrong.close()
    assert info.value.code == 535
    clear = SmtpSender(embedded.smtp_settings(security="none", auth="none"))
    with pytest.raises(SendRejected) as info:
        await clear.send(mail(), sender=BOT, recipients=[NURSE])
    await clear.close()
    assert info.value.code == 530
    assert await embedded.messages(user=NURSE) == []


async def test_idle_is_told_of_new_mail_at_once(embedded: EmbeddedTestServer) -> None:
    client = await imap_client(embedded.imap_settings())
    try:
        await client.select("INBOX")
        idle = await client.idle_start(timeout=3600)
        await embedded.deliver(mail("pendant IDLE"))
        # The delivery itself tells the session (no polling): the push is the next
        # thing it receives (10 s is a safety net).
        push = await client.wait_server_push(timeout=10)
        client.idle_done()
        await asyncio.wait_for(idle, 10)
        assert any(b"EXISTS" in line for line in push), push
    finally:
        await client.logout()


async def test_move_to_a_folder_with_accents_keeps_uids(embedded: EmbeddedTestServer) -> None:
    await embedded.deliver(mail("premier"))
    await embedded.deliver(mail("second"))
    client = await imap_client(embedded.imap_settings())
    folder = encode_mutf7("Traités")
    try:
        assert (await client.create(folder)).result == "OK"
        await client.select("INBOX")
        search = await client.uid_search("ALL")
        uids = search.lines[0].split()
        assert len(uids) == 2
        moved = await client.uid("move", uids[0].decode(), folder)
        assert moved.result == "OK"
        assert any(b"COPYUID" in line for line in moved.lines)  # UIDPLUS
        left = await client.uid_search("ALL")
        assert left.lines[0].split() == [uids[1]]
    finally:
        await client.logout()
    assert "Traités" in await embedded.server.folders(BOT)
    assert await embedded.messages("Traités") == [crlf(mail("premier"))]
    assert await embedded.messages() == [crlf(mail("second"))]


async def test_own_certificate_authority_and_clean_stop() -> None:
    """The demo flavour: a private CA made at start, removed at stop, even with a
    client still in IDLE."""
    server = EmbeddedMailServer(users={BOT: "demo-pass", NURSE: "autre"})
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(server)
        ca_file = server.ca_file
        assert ca_file.is_file()
        sender = SmtpSender(server.smtp_settings(NURSE))
        await sender.send(mail(), sender=NURSE, recipients=[BOT])
        await sender.close()
        lost = asyncio.Event()
        client = await imap_client(server.imap_settings(BOT), on_lost=lambda _: lost.set())
        await client.select("INBOX")
        await client.idle_start(timeout=3600)
        # The client never leaves IDLE: the stop ends its session, it does not
        # wait for it (the wait_for is a safety net, not a measure).
        await asyncio.wait_for(stack.aclose(), 10)
        assert lost.is_set(), "the stop left the IDLE session open"
    assert not ca_file.exists()
    with pytest.raises(OSError):
        await asyncio.open_connection(server.host, server.imap_port)
    with pytest.raises(OSError):
        await asyncio.open_connection(server.host, server.smtp_port)


async def test_untrusted_client_never_reaches_login(embedded: EmbeddedTestServer,
                                                    tls_material: TLSMaterial) -> None:
    settings = embedded.imap_settings(ca_file=tls_material.other_ca_file)
    with pytest.raises(ssl.SSLCertVerificationError):
        await asyncio.open_connection(settings.host, settings.port,
                                      ssl=client_context(settings))


@pytest.mark.parametrize("security", ["implicit", "starttls"])
async def test_the_service_mailbox_adapter_works_on_it(embedded: EmbeddedTestServer,
                                                       security: str) -> None:
    from adapters.imap import ImapMailbox
    from esp_coord.config import Folders

    mailbox = ImapMailbox(embedded.imap_settings(security), Folders())  # type: ignore[arg-type]
    await mailbox.connect()
    try:
        sender = SmtpSender(embedded.server.smtp_settings(BOT))
        await sender.send(mail("un"), sender=GP, recipients=[BOT])
        await sender.close()
        uids = await mailbox.pending()
        assert [m.raw for m in await mailbox.fetch(uids)] == [crlf(mail("un"))]
        await mailbox.move(uids, "Traités")
        assert await mailbox.pending() == []
        assert await embedded.messages("Traités") == [crlf(mail("un"))]
        # An hour of timeout: only the delivery can end the wait (10 s is a safety net).
        waiting = asyncio.create_task(mailbox.wait_for_mail(3600))
        await asyncio.sleep(0.2)
        assert not waiting.done()
        await embedded.deliver(mail("deux"))
        await asyncio.wait_for(waiting, 10)
        assert len(await mailbox.pending()) == 1
    finally:
        await mailbox.close()
