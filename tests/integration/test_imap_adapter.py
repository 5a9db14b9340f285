"""ImapMailbox against a real Dovecot: TLS refusals, client certificates, credentials,
reconnection, and the fallback paths (COPY + EXPUNGE, polling)."""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import logging
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aioimaplib import aioimaplib as aio

from adapters.imap import ImapMailbox
from adapters.imap_wire import parse_fetch_bodies, uid_set
from esp_coord.config import Folders
from esp_coord.mailroom import Backoff
from esp_coord.ports import MailboxAuthError, MailboxError, MailboxTLSError, MailboxUnavailable
from tests.e2e.harness import wait_until
from tests.servers.dovecot import DovecotServer, require_dovecot
from tests.servers.tls import TLSMaterial
from tests.support.imap import Inspector, record_calls
from tests.support.mail import numbered_mail

FOLDERS = Folders()


async def other_dovecot(tmp_path: Path, tls: TLSMaterial, name: str,
                        **kwargs: object) -> DovecotServer:
    require_dovecot()
    workdir = tmp_path / name
    workdir.mkdir()
    return DovecotServer(workdir, tls, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
async def box(dovecot: DovecotServer) -> AsyncIterator[ImapMailbox]:
    mailbox = ImapMailbox(dovecot.imap_settings("starttls"), FOLDERS, poll_interval=0.2)
    await mailbox.connect()
    try:
        yield mailbox
    finally:
        await mailbox.close()


# --- TLS ----------------------------------------------------------------------------


@pytest.mark.parametrize("security", ["implicit", "starttls"])
async def test_untrusted_certificate_is_refused(dovecot: DovecotServer, tls_material: TLSMaterial,
                                                security: str) -> None:
    settings = dovecot.imap_settings(security, ca_file=tls_material.other_ca_file)
    with pytest.raises(MailboxTLSError) as info:
        await ImapMailbox(settings, FOLDERS).connect()
    assert "not signed by an authority we trust" in str(info.value)
    assert str(tls_material.other_ca_file) in str(info.value)


@pytest.mark.dovecot  # starts a Dovecot of its own
@pytest.mark.parametrize("security", ["implicit", "starttls"])
async def test_expired_server_certificate_is_refused(tmp_path: Path, tls_material: TLSMaterial,
                                                     security: str) -> None:
    server = await other_dovecot(tmp_path, tls_material, "expired",
                                 server_cert=tls_material.expired_cert,
                                 server_key=tls_material.expired_key)
    async with server:
        with pytest.raises(MailboxTLSError, match="expired certificate"):
            await ImapMailbox(server.imap_settings(security), FOLDERS).connect()


async def test_plaintext_login_is_refused_off_localhost(dovecot: DovecotServer) -> None:
    # Dovecot counts 127.0.0.1 -> 127.0.0.1 as secure, so the same plaintext
    # settings log in there: the refusal below is the server's TLS rule at work.
    local = dovecot.imap_settings("none", port=dovecot.imap_starttls_port)
    plain = ImapMailbox(local, FOLDERS)
    await plain.connect()
    await plain.close()

    remote = dovecot.imap_settings("none", host=dovecot.insecure_host,
                                   port=dovecot.imap_starttls_port)
    with pytest.raises(MailboxTLSError, match="unencrypted"):
        await ImapMailbox(remote, FOLDERS).connect()
    assert "auth failed" not in dovecot.log()  # the password was never sent


async def test_starttls_on_the_non_local_address(dovecot: DovecotServer) -> None:
    box = ImapMailbox(dovecot.imap_settings("starttls", host=dovecot.insecure_host), FOLDERS)
    await box.connect()
    try:
        assert await box.pending() == []
    finally:
        await box.close()


async def test_no_starttls_offered_is_refused_without_fallback() -> None:
    """A fake server that never offers STARTTLS: we must stop before any login."""
    received: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] plaintext only\r\n")
        while line := await reader.readline():
            received.append(line)
            tag = line.split(b" ", 1)[0]
            if b"CAPABILITY" in line.upper():
                writer.write(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" + tag + b" OK done\r\n")
            else:
                writer.write(tag + b" BAD no\r\n")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    from esp_coord.config import ServerSettings
    settings = ServerSettings(host="127.0.0.1", port=port, security="starttls",
                              username="u", password="p", timeout=5)
    try:
        with pytest.raises(MailboxTLSError, match="does not offer STARTTLS"):
            await ImapMailbox(settings, FOLDERS).connect()
    finally:
        server.close()
        await server.wait_closed()
    assert not any(b"LOGIN" in line.upper() for line in received)


# --- client certificates and credentials ---------------------------------------------


@pytest.mark.dovecot  # starts a Dovecot of its own
@pytest.mark.parametrize("security", ["implicit", "starttls"])
async def test_client_certificate_required(tmp_path: Path, tls_material: TLSMaterial,
                                           security: str) -> None:
    server = await other_dovecot(tmp_path, tls_material, "certreq", require_client_cert=True)
    async with server:
        with_cert = ImapMailbox(server.imap_settings(security), FOLDERS)
        await with_cert.connect()
        await server.deliver(numbered_mail(1))
        assert await with_cert.pending() == [1]
        await with_cert.close()

        without = server.imap_settings(security, client_cert=None, client_key=None)
        with pytest.raises(MailboxAuthError) as info:
            await ImapMailbox(without, FOLDERS).connect()
        assert "client_cert" in str(info.value)
        assert "certificate" in str(info.value).lower()


@pytest.mark.dovecot  # starts a Dovecot of its own
async def test_authenticate_external_with_the_client_certificate(
        tmp_path: Path, tls_material: TLSMaterial) -> None:
    server = await other_dovecot(tmp_path, tls_material, "external", cert_username=True)
    async with server:
        settings = server.imap_settings("starttls", auth="external", username=None,
                                        password=None)
        box = ImapMailbox(settings, FOLDERS)
        await box.connect()
        await server.deliver(numbered_mail(7))
        fetched = await box.fetch(await box.pending())
        assert len(fetched) == 1 and b"message 7" in fetched[0].raw
        await box.close()
        assert "method=EXTERNAL" in server.log()


async def test_external_without_sasl_ir_answers_the_continuation(
        tmp_path: Path, tls_material: TLSMaterial) -> None:
    server = await other_dovecot(tmp_path, tls_material, "external", cert_username=True)
    async with server:
        settings = server.imap_settings("starttls", auth="external", username=None,
                                        password=None)
        box = ImapMailbox(settings, FOLDERS, disabled_capabilities={"SASL-IR"})
        await box.connect()
        assert "SASL-IR" not in box.capabilities
        await box.close()
        assert "method=EXTERNAL" in server.log()


@pytest.mark.parametrize("disabled, command", [
    ((), "AUTHENTICATE PLAIN "),            # the initial response inline (SASL-IR)
    (("SASL-IR",), "AUTHENTICATE PLAIN\r"),  # the response after the server's "+"
    (("AUTH=PLAIN",), "LOGIN "),            # no SASL PLAIN offered: the LOGIN command
])
async def test_password_login_uses_sasl_plain_when_offered(
        dovecot: DovecotServer, disabled: tuple[str, ...], command: str,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="aioimaplib.aioimaplib")
    box = ImapMailbox(dovecot.imap_settings("starttls"), FOLDERS,
                      disabled_capabilities=disabled)
    await box.connect()  # logged in: Dovecot accepted what was sent
    await box.close()
    sent = "\n".join(r.getMessage() for r in caplog.records if "Sending" in r.getMessage())
    assert command in sent.replace("\\r", "\r")
    assert dovecot.password not in sent  # scrubbed from the library's own log


async def test_external_refused_where_not_offered(dovecot: DovecotServer,
                                                  tls_material: TLSMaterial) -> None:
    settings = dovecot.imap_settings("implicit", auth="external",
                                     client_cert=tls_material.client_cert,
                                     client_key=tls_material.client_key)
    with pytest.raises(MailboxAuthError, match="AUTHENTICATE EXTERNAL"):
        await ImapMailbox(settings, FOLDERS).connect()


async def test_wrong_password(dovecot: DovecotServer) -> None:
    box = ImapMailbox(dovecot.imap_settings("starttls", password="not-the-password"), FOLDERS)
    with pytest.raises(MailboxAuthError) as info:
        await box.connect()
    assert "not-the-password" not in str(info.value)
    assert dovecot.username in str(info.value)
    with pytest.raises(MailboxUnavailable):
        await box.pending()  # not connected after a refusal


# --- connection loss and reconnection ---------------------------------------------------


async def test_server_gone_then_back(dovecot: DovecotServer, box: ImapMailbox) -> None:
    await dovecot.deliver(numbered_mail(1))
    assert await box.pending() == [1]
    await dovecot.restart()
    with pytest.raises(MailboxUnavailable):
        await box.pending()
    await box.connect()
    assert await box.pending() == [1]


@pytest.mark.parametrize("security", ["implicit", "starttls"])
async def test_server_crash_during_idle(dovecot: DovecotServer, security: str) -> None:
    box = ImapMailbox(dovecot.imap_settings(security), FOLDERS)
    await box.connect()
    await box.pending()
    # An hour of timeout: only the lost connection can end the wait (10 s is a safety net).
    waiter = asyncio.create_task(box.wait_for_mail(3600))
    await asyncio.sleep(0.3)
    await dovecot.stop(graceful=False)
    with pytest.raises(MailboxUnavailable):
        await asyncio.wait_for(waiter, 10)
    await box.close()  # never raises
    # Refused, reset or cut during the greeting, depending on how far the killed
    # processes are on their way out: the port's error family, not one wording.
    with pytest.raises(MailboxUnavailable):
        await box.connect()
    await dovecot.start()
    await box.connect()
    assert await box.pending() == []


async def test_close_is_idempotent(box: ImapMailbox) -> None:
    await box.close()
    await box.close()
    with pytest.raises(MailboxUnavailable):
        await box.uidvalidity()


# --- fallback paths ---------------------------------------------------------------------


def _flag_deleted(server: DovecotServer, uid: int) -> None:
    conn = imaplib.IMAP4_SSL(server.host, server.imap_port, timeout=10,
                             ssl_context=ssl.create_default_context(cafile=str(server.ca_file)))
    conn.login(server.username, server.password)
    conn.select("INBOX")
    conn.uid("STORE", str(uid), "+FLAGS", r"(\Deleted)")
    conn.logout()


async def test_move_without_move_capability_uses_copy_and_uid_expunge(
        dovecot: DovecotServer) -> None:
    box = ImapMailbox(dovecot.imap_settings("implicit"), FOLDERS,
                      disabled_capabilities={"MOVE"})
    await box.connect()
    assert "MOVE" not in box.capabilities and "UIDPLUS" in box.capabilities
    await dovecot.deliver_many([numbered_mail(i) for i in range(6)])
    uids = await box.pending()
    # Somebody else flagged message 6 \Deleted: our expunge must not touch it.
    await asyncio.to_thread(_flag_deleted, dovecot, uids[-1])
    await box.move(uids[:3], "Traités")
    await box.close()
    inspector = Inspector(dovecot)
    assert await inspector.count("Traités") == 3
    inbox = await inspector.flags("INBOX")
    assert sorted(inbox) == uids[3:]
    assert "\\Deleted" in inbox[uids[-1]]


async def test_move_without_move_nor_uidplus_leaves_deleted_flags(dovecot: DovecotServer) -> None:
    box = ImapMailbox(dovecot.imap_settings("implicit"), FOLDERS,
                      disabled_capabilities={"MOVE", "UIDPLUS"})
    await box.connect()
    await dovecot.deliver_many([numbered_mail(i) for i in range(3)])
    uids = await box.pending()
    await box.move(uids[:2], "Quarantaine")
    assert await box.pending() == uids[2:]  # flagged messages are no longer pending
    await box.close()
    inspector = Inspector(dovecot)
    assert await inspector.count("Quarantaine") == 2
    inbox = await inspector.flags("INBOX")
    assert sorted(inbox) == uids  # nothing expunged
    assert all("\\Deleted" in inbox[u] for u in uids[:2])


async def test_polling_when_idle_is_absent(dovecot: DovecotServer) -> None:
    box = ImapMailbox(dovecot.imap_settings("implicit"), FOLDERS, poll_interval=0.2,
                      disabled_capabilities={"IDLE"})
    await box.connect()
    try:
        await box.pending()
        # An hour of timeout: only the polled NOOP can end the wait (10 s is a safety net).
        waiter = asyncio.create_task(box.wait_for_mail(3600))
        await asyncio.sleep(0.3)
        assert not waiter.done()
        await dovecot.deliver(numbered_mail(1))
        await asyncio.wait_for(waiter, 10)
        assert await box.pending() == [1]
    finally:
        await box.close()


async def test_a_call_during_idle_ends_the_wait(dovecot: DovecotServer, box: ImapMailbox) -> None:
    await box.pending()
    # An hour of timeout and no mail: only the call can end the wait (10 s is a safety net).
    waiter = asyncio.create_task(box.wait_for_mail(3600))
    await asyncio.sleep(0.3)
    assert not waiter.done()
    assert await box.pending() == []
    await asyncio.wait_for(waiter, 10)


async def test_move_to_a_missing_folder_is_an_error(dovecot: DovecotServer,
                                                    box: ImapMailbox) -> None:
    await dovecot.deliver(numbered_mail(1))
    uids = await box.pending()
    with pytest.raises(MailboxError, match="refused UID MOVE"):
        await box.move(uids, "Nulle part")
    assert await box.pending() == uids  # still connected, nothing lost


# --- pure helpers -------------------------------------------------------------------------


def test_uid_set_compresses_ranges() -> None:
    assert uid_set([5, 1, 2, 3, 9, 10, 3]) == "1:3,5,9:10"
    assert uid_set([42]) == "42"


def test_parse_fetch_bodies_with_uid_before_or_after_the_literal() -> None:
    lines = [b"1 FETCH (UID 10 BODY[] {5}", bytearray(b"hello"), b")",
             b"2 FETCH (FLAGS (\\Seen))",
             b"3 FETCH (BODY[] {3}", bytearray(b"abc"), b" UID 12)",
             b"Fetch completed."]
    assert parse_fetch_bodies(lines) == {10: b"hello", 12: b"abc"}


def test_backoff_grows_and_caps() -> None:
    # The reconnect backoff is the mailroom's (the IMAP adapter has none of its own).
    backoff = Backoff(base=1, cap=8)
    delays = [backoff.next() for _ in range(6)]
    for delay, nominal in zip(delays, [1, 2, 4, 8, 8, 8], strict=True):
        assert nominal * 0.8 <= delay <= nominal * 1.2
    backoff.reset()
    assert backoff.next() <= 1.2


async def test_concurrent_calls_do_not_wait_for_the_idle_timeout(dovecot: DovecotServer,
                                                                 box: ImapMailbox) -> None:
    """A call queued while wait_for_mail() is still starting must not sit out the wait."""
    await dovecot.deliver(numbered_mail(1))
    await box.pending()
    # An hour of timeout: the queued call must end the wait (10 s is a safety net).
    waiter = asyncio.create_task(box.wait_for_mail(3600))
    fetched, _ = await asyncio.wait_for(asyncio.gather(box.fetch([1]), waiter), 10)
    assert [f.uid for f in fetched] == [1]


async def test_idle_is_renewed_and_still_hears_new_mail(dovecot: DovecotServer, box: ImapMailbox,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import adapters.imap

    monkeypatch.setattr(adapters.imap, "IDLE_RENEW", 0.3)  # instead of 25 minutes
    idles = record_calls(monkeypatch, aio.IMAP4, "idle_start")
    await box.pending()
    waiter = asyncio.create_task(box.wait_for_mail(3600))
    await wait_until(lambda: len(idles) >= 3, timeout=10, what="three IDLE sessions in a row")
    assert not waiter.done()
    await dovecot.deliver(numbered_mail(1))
    await asyncio.wait_for(waiter, 10)  # a safety net: only the push can end an hour's wait
    assert await box.pending() == [1]


async def test_close_ends_a_wait_in_another_task(box: ImapMailbox) -> None:
    await box.pending()
    waiter = asyncio.create_task(box.wait_for_mail(60))
    await asyncio.sleep(0.3)
    await box.close()
    with contextlib.suppress(MailboxUnavailable):
        await asyncio.wait_for(waiter, 3)
