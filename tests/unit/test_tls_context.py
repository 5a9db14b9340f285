"""The strict client TLS context and its plain-words errors, against a real local TLS server."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
import warnings
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from adapters.tls import ECO_CIPHERS, client_context, describe_tls_error, no_starttls_message
from adapters.tls_probe import Probe, explain
from esp_coord.config import ServerSettings
from tests.servers.tls import TLSMaterial


def settings(ca: Path | None, **kw: object) -> ServerSettings:
    return ServerSettings(host=str(kw.pop("host", "127.0.0.1")), port=int(kw.pop("port", 993)),
                          security="implicit", ca_file=ca, **kw)  # type: ignore[arg-type]


def test_verification_is_always_on(tls_material: TLSMaterial) -> None:
    for ca in (tls_material.ca_file, None):
        ctx = client_context(settings(ca))
        assert ctx.verify_mode == ssl.CERT_REQUIRED
        assert ctx.check_hostname is True
        assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2


def test_versions_and_suites_are_the_referentiels(tls_material: TLSMaterial) -> None:
    """ECO.1.1.2: TLS 1.2 only by default; ECO.1.1.3: the four ECDHE-RSA suites only."""
    strict = client_context(settings(tls_material.ca_file))
    assert strict.maximum_version == ssl.TLSVersion.TLSv1_2
    tls12 = {c["name"] for c in strict.get_ciphers() if c["protocol"] == "TLSv1.2"}
    assert tls12 == set(ECO_CIPHERS)
    wider = client_context(settings(tls_material.ca_file, tls_versions="1.2+"))
    assert wider.minimum_version == ssl.TLSVersion.TLSv1_2
    assert wider.maximum_version == ssl.TLSVersion.MAXIMUM_SUPPORTED
    assert {c["name"] for c in wider.get_ciphers() if c["protocol"] == "TLSv1.2"} == tls12


def test_our_expired_client_certificate_is_named(tls_material: TLSMaterial,
                                                 tmp_path: Path) -> None:
    import datetime as dt

    now = dt.datetime.now(dt.UTC)
    old = tls_material.authority.issue(common_name="ancien", client=True,
                                       not_before=now - dt.timedelta(days=400),
                                       not_after=now - dt.timedelta(days=2))
    cert, key = old.write(tmp_path, "old")
    s = settings(tls_material.ca_file, client_cert=cert, client_key=key)
    with pytest.raises(ssl.SSLError) as info:
        client_context(s)
    assert f"Our client certificate {cert} expired on" in describe_tls_error(info.value, s)


def test_only_the_configured_ca_is_trusted(tls_material: TLSMaterial) -> None:
    ctx = client_context(settings(tls_material.ca_file))
    assert len(ctx.get_ca_certs()) == 2  # the issuing authority and its root, nothing else


def test_client_certificate_is_loaded(tls_material: TLSMaterial) -> None:
    client_context(settings(tls_material.ca_file, client_cert=tls_material.client_cert,
                            client_key=tls_material.client_key))
    with pytest.raises(ssl.SSLError) as info:  # a key that is not the certificate's
        client_context(settings(tls_material.ca_file, client_cert=tls_material.client_cert,
                                client_key=tls_material.server_key))
    assert "client_cert" in describe_tls_error(info.value, settings(None))


@pytest.fixture
async def tls_server(tls_material: TLSMaterial) -> AsyncIterator[Callable[..., object]]:
    servers: list[asyncio.Server] = []

    async def start(cert: Path, key: Path, *, host: str = "127.0.0.1") -> int:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(cert), str(key))

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.close()

        server = await asyncio.start_server(handle, host, 0, ssl=ctx)
        servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


async def handshake_error(s: ServerSettings) -> BaseException:
    with pytest.raises((ssl.SSLError, ConnectionError)) as info:
        _, writer = await asyncio.open_connection(s.host, s.port, ssl=client_context(s))
        writer.close()
    return info.value


async def test_untrusted_certificate(tls_material: TLSMaterial, tls_server) -> None:  # type: ignore[no-untyped-def]
    port = await tls_server(tls_material.server_cert, tls_material.server_key)
    s = settings(tls_material.other_ca_file, port=port)
    message = describe_tls_error(await handshake_error(s), s)
    assert "not signed by an authority we trust" in message
    assert str(tls_material.other_ca_file) in message


async def test_expired_certificate(tls_material: TLSMaterial, tls_server) -> None:  # type: ignore[no-untyped-def]
    port = await tls_server(tls_material.expired_cert, tls_material.expired_key)
    s = settings(tls_material.ca_file, port=port)
    assert "expired certificate" in describe_tls_error(await handshake_error(s), s)


async def test_hostname_mismatch(tls_material: TLSMaterial, tls_server) -> None:  # type: ignore[no-untyped-def]
    # The certificate names 127.0.0.1, 127.0.0.2 and localhost, not 127.0.0.3.
    port = await tls_server(tls_material.server_cert, tls_material.server_key, host="127.0.0.3")
    s = settings(tls_material.ca_file, host="127.0.0.3", port=port)
    error = await handshake_error(s)
    assert "was not issued for the name '127.0.0.3'" in describe_tls_error(error, s)


async def test_protocol_too_old(tls_material: TLSMaterial) -> None:
    # A blocking server in a thread: an asyncio server resets the connection before
    # its protocol-version alert reaches the client.
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(str(tls_material.server_cert), str(tls_material.server_key))
    server.set_ciphers("DEFAULT:@SECLEVEL=0")  # let this OpenSSL speak old TLS at all
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.1 is the point here
        server.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        server.maximum_version = ssl.TLSVersion.TLSv1_1
    listener = socket.create_server(("127.0.0.1", 0))

    def serve_once() -> None:
        conn, _ = listener.accept()
        with conn, contextlib.suppress(OSError):
            server.wrap_socket(conn, server_side=True)

    thread = threading.Thread(target=serve_once, daemon=True)
    thread.start()
    s = settings(tls_material.ca_file, port=listener.getsockname()[1])
    try:
        error = await handshake_error(s)
        assert not isinstance(error, ssl.SSLCertVerificationError)
        # The alert is ambiguous with our ECO.1.1.3 suites; the probe says TLS 1.1.
        assert "only offers TLS 1.1" in explain(Probe("TLSv1.1", "ECDHE-RSA-AES256-SHA"),
                                                error, s)
    finally:
        thread.join(5)
        listener.close()


def test_no_starttls_message_says_what_to_do() -> None:
    message = no_starttls_message(settings(None, port=143))
    assert "does not offer STARTTLS" in message and "implicit" in message
