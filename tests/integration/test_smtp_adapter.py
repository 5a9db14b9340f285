"""SmtpSender against a real in-process SMTP server (aiosmtpd), over real TLS."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from adapters.smtp import SmtpSender
from esp_coord.ports import MailSender, SendAborted, SendRejected, SendTemporaryError
from tests.servers.smtp_front import SmtpFront
from tests.servers.tls import TLSMaterial
from tests.support.mail import BOT, NURSE, SECRET_BODY
from tests.support.mail import SMTP_USER as USER
from tests.support.mail import answer_mail as mail


@pytest.fixture
async def sender(front: SmtpFront):
    s = SmtpSender(front.settings(), local_hostname="esp-coord.test")
    yield s
    await s.close()


def test_implements_the_port() -> None:
    def accepts(_: MailSender) -> None: ...

    accepts(SmtpSender(SmtpFront(security="none").settings()))


async def test_starttls_and_auth_deliver_the_exact_bytes(front: SmtpFront,
                                                        sender: SmtpSender) -> None:
    raw = mail()
    await sender.send(raw, sender=BOT, recipients=[NURSE])
    assert len(front.messages) == 1
    got = front.messages[0]
    assert got.mail_from == BOT
    assert got.rcpt_tos == [NURSE]
    assert got.content.replace(b"\r\n", b"\n") == raw.replace(b"\r\n", b"\n")
    assert front.auth_attempts == [(USER[0], True)]


async def test_wrong_password_is_rejected_with_its_code(front: SmtpFront) -> None:
    bad = SmtpSender(front.settings(password="wrong"))
    with pytest.raises(SendRejected) as info:
        await bad.send(mail(), sender=BOT, recipients=[NURSE])
    await bad.close()
    assert info.value.code == 535
    assert "credentials" in str(info.value)
    assert front.messages == []


async def test_implicit_tls(tls_material: TLSMaterial) -> None:
    async with SmtpFront(tls_material, security="implicit", auth=USER) as server:
        s = SmtpSender(server.settings())
        await s.send(mail(), sender=BOT, recipients=[NURSE])
        await s.close()
        assert [m.rcpt_tos for m in server.messages] == [[NURSE]]


async def test_client_certificate_required_and_presented(tls_material: TLSMaterial) -> None:
    async with SmtpFront(tls_material, require_client_cert=True) as server:
        s = SmtpSender(server.settings())
        assert server.settings().auth == "external"
        await s.send(mail(), sender=BOT, recipients=[NURSE])
        await s.close()
        assert len(server.messages) == 1
        cert = server.messages[0].client_cert
        assert cert is not None
        assert ("commonName", "esp-coord test client") in [rdn[0] for rdn in cert["subject"]]


async def test_client_certificate_missing_is_refused_clearly(tls_material: TLSMaterial) -> None:
    async with SmtpFront(tls_material, require_client_cert=True) as server:
        s = SmtpSender(server.settings(client_cert=None, client_key=None, auth="none"))
        with pytest.raises(SendTemporaryError) as info:
            await s.send(mail(), sender=BOT, recipients=[NURSE])
        await s.close()
        assert "client certificate" in str(info.value)
        assert server.messages == []


@pytest.mark.parametrize("security", ["starttls", "implicit"])
async def test_untrusted_ca_is_refused_in_plain_words(tls_material: TLSMaterial,
                                                     security: str) -> None:
    async with SmtpFront(tls_material, security=security, auth=USER) as server:  # type: ignore[arg-type]
        s = SmtpSender(server.settings(ca_file=tls_material.other_ca_file))
        with pytest.raises(SendTemporaryError) as info:
            await s.send(mail(), sender=BOT, recipients=[NURSE])
        await s.close()
        text = str(info.value)
        assert "not signed by an authority we trust" in text
        assert str(tls_material.other_ca_file) in text
        assert server.messages == []
        assert server.auth_attempts == []  # the password never left the client


async def test_expired_server_certificate(tls_material: TLSMaterial) -> None:
    expired = replace(tls_material, server_cert=tls_material.expired_cert,
                      server_key=tls_material.expired_key)
    async with SmtpFront(expired, auth=USER) as server:
        s = SmtpSender(server.settings())
        with pytest.raises(SendTemporaryError, match="expired certificate"):
            await s.send(mail(), sender=BOT, recipients=[NURSE])
        await s.close()


async def test_server_without_starttls_is_never_used_in_clear() -> None:
    async with SmtpFront(security="none", auth=None) as server:
        s = SmtpSender(server.settings(security="starttls"))
        with pytest.raises(SendTemporaryError, match="does not offer STARTTLS"):
            await s.send(mail(), sender=BOT, recipients=[NURSE])
        await s.close()
        assert server.messages == []
        assert server.sessions == 1


async def test_451_is_temporary_and_the_session_survives(front: SmtpFront,
                                                        sender: SmtpSender) -> None:
    front.refuse(451, count=1)
    with pytest.raises(SendTemporaryError, match="451") as info:
        await sender.send(mail(), sender=BOT, recipients=[NURSE])
    assert SECRET_BODY.split()[1] not in str(info.value)
    await sender.send(mail(), sender=BOT, recipients=[NURSE])
    assert len(front.messages) == 1
    assert front.sessions == 1


async def test_withdrawn_before_the_data_sends_nothing_and_keeps_the_session(
        front: SmtpFront, sender: SmtpSender) -> None:
    asked: list[int] = []

    def withdrawn() -> bool:
        # Asked once the envelope is in: the server has the recipients.
        asked.append(len(front.accepted_rcpts))
        return False

    with pytest.raises(SendAborted):
        await sender.send(mail(), sender=BOT, recipients=[NURSE, BOT], proceed=withdrawn)
    assert asked == [2]
    assert front.messages == []
    await sender.send(mail(), sender=BOT, recipients=[NURSE], proceed=lambda: True)
    assert [m.rcpt_tos for m in front.messages] == [[NURSE]]
    assert front.sessions == 1  # reset, not dropped


@pytest.mark.parametrize("stage", ["mail", "rcpt", "data"])
async def test_550_is_rejected_with_its_code(front: SmtpFront, sender: SmtpSender,
                                            stage: str) -> None:
    front.refuse(550, stage=stage)  # type: ignore[arg-type]
    with pytest.raises(SendRejected) as info:
        await sender.send(mail(), sender=BOT, recipients=[NURSE])
    assert info.value.code == 550
    assert not isinstance(info.value, ConnectionError)
    for word in SECRET_BODY.split():
        assert word not in str(info.value)
    assert front.messages == []


async def test_one_refused_recipient_means_nothing_is_sent(front: SmtpFront,
                                                          sender: SmtpSender) -> None:
    others = [f"membre{i}@esp-valdelorge.mssante.test" for i in range(4)]
    front.refuse(550, stage="rcpt", recipients=[others[2]])
    with pytest.raises(SendRejected) as info:
        await sender.send(mail(), sender=BOT, recipients=others)
    assert others[2] in str(info.value)
    assert front.messages == []
    front.clear_refusals()
    front.refuse(452, count=1, stage="rcpt", recipients=[others[0]])
    with pytest.raises(SendTemporaryError):
        await sender.send(mail(), sender=BOT, recipients=others)
    await sender.send(mail(), sender=BOT, recipients=others)
    assert [m.rcpt_tos for m in front.messages] == [others]


async def test_many_recipients(front: SmtpFront, sender: SmtpSender) -> None:
    team = [f"membre{i:02d}@esp-valdelorge.mssante.test" for i in range(40)]
    await sender.send(mail(), sender=BOT, recipients=team)
    assert front.messages[0].rcpt_tos == team


async def test_connection_reused_across_many_sends(front: SmtpFront,
                                                  sender: SmtpSender) -> None:
    for i in range(25):
        await sender.send(mail(body=f"message {i}"), sender=BOT, recipients=[NURSE])
    assert len(front.messages) == 25
    assert front.sessions == 1
    assert {m.session_number for m in front.messages} == {1}
    assert len(front.auth_attempts) == 1


async def test_pool_of_concurrent_sessions(front: SmtpFront) -> None:
    s = SmtpSender(front.settings(), max_connections=3)
    await asyncio.gather(*(s.send(mail(body=f"m{i}"), sender=BOT, recipients=[NURSE])
                           for i in range(12)))
    await s.close()
    assert len(front.messages) == 12
    assert 1 < front.sessions <= 3


async def test_connection_closed_by_server_is_reopened_transparently(
        front: SmtpFront, sender: SmtpSender) -> None:
    await sender.send(mail(), sender=BOT, recipients=[NURSE])
    front.drop_connections()
    await asyncio.sleep(0.05)
    await sender.send(mail(), sender=BOT, recipients=[NURSE])
    assert len(front.messages) == 2
    assert front.sessions == 2


async def test_idle_connection_dropped_without_the_client_noticing(
        front: SmtpFront, sender: SmtpSender) -> None:
    await sender.send(mail(), sender=BOT, recipients=[NURSE])
    front.drop_connections()  # no sleep: the client learns it while sending
    await sender.send(mail(), sender=BOT, recipients=[NURSE])
    assert len(front.messages) == 2


async def test_server_down_then_back(front: SmtpFront, sender: SmtpSender) -> None:
    await sender.send(mail(), sender=BOT, recipients=[NURSE])
    await front.go_down()
    with pytest.raises(SendTemporaryError, match="cannot reach"):
        await sender.send(mail(), sender=BOT, recipients=[NURSE])
    with pytest.raises(SendTemporaryError):
        await sender.send(mail(), sender=BOT, recipients=[NURSE])
    await front.come_back()
    await sender.send(mail(), sender=BOT, recipients=[NURSE])
    assert len(front.messages) == 2
    assert front.sessions == 2


async def test_close_is_idempotent_and_quiet(front: SmtpFront, sender: SmtpSender) -> None:
    await sender.send(mail(), sender=BOT, recipients=[NURSE])
    await sender.close()
    await sender.close()
    await front.go_down()
    await sender.close()


async def test_deliver_callback_failure_is_temporary(tls_material: TLSMaterial) -> None:
    async def broken(_: object) -> None:
        raise RuntimeError("LMTP down")

    async with SmtpFront(tls_material, auth=USER, deliver=broken) as server:
        s = SmtpSender(server.settings())
        with pytest.raises(SendTemporaryError, match="451"):
            await s.send(mail(), sender=BOT, recipients=[NURSE])
        await s.close()


async def test_client_certificate_missing_on_implicit_tls(tls_material: TLSMaterial) -> None:
    async with SmtpFront(tls_material, security="implicit", require_client_cert=True) as server:
        s = SmtpSender(server.settings(client_cert=None, client_key=None, auth="none"))
        with pytest.raises(SendTemporaryError, match="client certificate"):
            await s.send(mail(), sender=BOT, recipients=[NURSE])
        await s.close()


async def test_client_certificate_from_another_authority(tls_material: TLSMaterial,
                                                        tmp_path) -> None:
    from tests.servers.tls import make_tls_material

    stranger = make_tls_material(tmp_path / "stranger")
    async with SmtpFront(tls_material, require_client_cert=True) as server:
        s = SmtpSender(server.settings(client_cert=stranger.client_cert,
                                       client_key=stranger.client_key))
        with pytest.raises(SendTemporaryError, match="client certificate"):
            await s.send(mail(), sender=BOT, recipients=[NURSE])
        await s.close()
        assert server.messages == []


async def test_421_on_a_reused_session_opens_a_new_one(front: SmtpFront,
                                                       sender: SmtpSender) -> None:
    await sender.send(mail(), sender=BOT, recipients=[NURSE])
    front.refuse(421, count=1, stage="mail")
    await sender.send(mail(), sender=BOT, recipients=[NURSE])
    assert len(front.messages) == 2
    assert front.sessions == 2


async def test_421_on_a_fresh_session_is_temporary(front: SmtpFront,
                                                   sender: SmtpSender) -> None:
    front.refuse(421, count=1, stage="mail")
    with pytest.raises(SendTemporaryError, match="421"):
        await sender.send(mail(), sender=BOT, recipients=[NURSE])
    await sender.send(mail(), sender=BOT, recipients=[NURSE])
    assert len(front.messages) == 1


async def test_silent_server_times_out_as_temporary() -> None:
    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # never greets
        writer.close()

    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    s = SmtpSender(SmtpFront(security="none").settings(port=port, timeout=0.3))
    try:
        with pytest.raises(SendTemporaryError, match="did not answer in time"):
            await s.send(mail(), sender=BOT, recipients=[NURSE])
    finally:
        await s.close()
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("security", ["starttls", "implicit"])
async def test_auth_external_with_the_client_certificate(tls_material: TLSMaterial,
                                                         security: str) -> None:
    async with SmtpFront(tls_material, security=security,  # type: ignore[arg-type]
                         require_client_cert=True, external_auth=True) as server:
        s = SmtpSender(server.settings())
        for _ in range(2):
            await s.send(mail(), sender=BOT, recipients=[NURSE])
        await s.close()
        assert server.auth_attempts == [("EXTERNAL", True)]
        assert len(server.messages) == 2


async def test_auth_required_but_none_configured_is_rejected(tls_material: TLSMaterial) -> None:
    async with SmtpFront(tls_material, auth=USER) as server:
        s = SmtpSender(server.settings(auth="none"))
        with pytest.raises(SendRejected) as info:
            await s.send(mail(), sender=BOT, recipients=[NURSE])
        await s.close()
        assert info.value.code == 530
        assert server.messages == []
