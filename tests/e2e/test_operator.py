"""Against servers set up as an MSSanté operator sets them up.

Dovecot: TLS 1.2 only, the four ECO.1.1.3 suites only, a client certificate
required and AUTHENTICATE EXTERNAL; Postfix (Debian's): submission with
STARTTLS, TLS 1.2, the same suites, a client certificate required, then SASL
through Dovecot or the certificate alone. The certificates name a real CRL
server and OCSP responder. ``esp-coord check`` must explain every failure in
plain words, and the service must work end to end through both.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest

from adapters.revocation import RevocationChecker
from adapters.smtp import SmtpSender
from esp_coord.bootstrap import build_service
from esp_coord.config import Config
from esp_coord.crypto import Keyring
from esp_coord.entrypoints.cli import _check
from esp_coord.ports import SendRejected, SendTemporaryError
from tests.e2e.harness import FAST, wait_until
from tests.e2e.operator_pki import OperatorPki, operator_pki
from tests.servers.dovecot import DovecotServer, require_dovecot
from tests.servers.postfix import ECO_CIPHERS, PostfixServer, require_postfix
from tests.support.config import offline_config

pytestmark = pytest.mark.dovecot

NURSE = "julien.marie@infirmier.mssante.test"
COORDINATOR = "ana.costa@esp-valdelorge.mssante.test"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OperatorPki]:
    with operator_pki(tmp_path_factory.mktemp("igc")) as made:
        yield made


def operator_dovecot(folder: Path, pki: OperatorPki, **kw: Any) -> DovecotServer:
    folder.mkdir(parents=True, exist_ok=True)
    options: dict[str, Any] = dict(cert_username=True, ciphers=ECO_CIPHERS,
                                   max_protocol="TLSv1.2", mailboxes=(NURSE, COORDINATOR))
    options.update(kw)
    return DovecotServer(folder, pki.material, **options)


def external(dovecot: DovecotServer, folder: Path, **overrides: Any) -> Any:
    """The applicative mailbox's IMAP settings: certificate, EXTERNAL, CRL required."""
    values: dict[str, Any] = dict(auth="external", username=None, password=None,
                                  revocation="required", crl_cache=folder / "crl")
    values.update(overrides)
    return dovecot.imap_settings("starttls", **values)


async def check(folder: Path, imap: Any, smtp: Any, capsys: pytest.CaptureFixture[str]
                ) -> tuple[int, str]:
    folder.mkdir(parents=True, exist_ok=True)
    key = folder / "esp.key"
    if not key.exists():
        Keyring.generate().save(key)
    config = dataclasses.replace(offline_config(), imap=imap, smtp=smtp, key_file=key,
                                 database_url=f"sqlite:///{folder / 'esp.db'}")
    capsys.readouterr()
    code = await _check(config)
    return code, capsys.readouterr().out


def line_of(out: str, protocol: str) -> str:
    return next(line for line in out.splitlines() if line.startswith(protocol))


@pytest.fixture
async def servers(tmp_path: Path, pki: OperatorPki) -> AsyncIterator[tuple[DovecotServer,
                                                                          PostfixServer]]:
    require_dovecot()
    require_postfix()
    async with operator_dovecot(tmp_path / "dovecot", pki) as dovecot, \
            PostfixServer(tmp_path / "postfix", pki.material, dovecot, cert_only=True) as smtp:
        yield dovecot, smtp


async def test_check_is_green_against_the_operator_setup(
        servers: tuple[DovecotServer, PostfixServer], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    dovecot, postfix = servers
    smtp = postfix.settings(revocation="required", crl_cache=tmp_path / "crl")
    code, out = await check(tmp_path / "svc", external(dovecot, tmp_path), smtp, capsys)
    assert code == 0, out
    assert "connected, logged in" in line_of(out, "IMAP")
    assert "accepted our credentials" in line_of(out, "SMTP")
    assert out.rstrip().endswith("Everything is ready.")
    assert "folders created: Traités, Quarantaine, Envoyés" in line_of(out, "IMAP")
    # The CRL was downloaded once and kept for the next start (ECO.1.1.7).
    assert list((tmp_path / "crl").glob("*.crl"))
    code, out = await check(tmp_path / "svc", external(dovecot, tmp_path), smtp, capsys)
    assert code == 0 and "folders present: Traités, Quarantaine, Envoyés" in out, out


async def test_a_mail_is_answered_through_dovecot_and_postfix(
        servers: tuple[DovecotServer, PostfixServer], tmp_path: Path) -> None:
    dovecot, postfix = servers
    config: Config = dataclasses.replace(
        offline_config(), imap=external(dovecot, tmp_path),
        smtp=postfix.settings(revocation="required", crl_cache=tmp_path / "crl"),
        database_url=f"sqlite:///{tmp_path / 'esp.db'}", key_file=tmp_path / "esp.key")
    service = build_service(config, keyring=Keyring.generate(), tuning=FAST)
    async with AsyncExitStack() as stack:
        await service.start(stack)
        await dovecot.deliver(
            f"From: Julien MARIE <{NURSE}>\r\nTo: {config.bot_address}\r\n"
            "Subject: AIDE\r\nMessage-ID: <aide-1@infirmier.mssante.test>\r\n"
            "Date: Thu, 03 Dec 2026 09:00:00 +0100\r\n\r\nAIDE\r\n".encode())
        inbox = dovecot.datadir / "mail" / NURSE / "Maildir"
        await wait_until(lambda: any(inbox.glob("new/*")), 30, "the answer in the nurse's box")
    answer = email.message_from_bytes(next(inbox.glob("new/*")).read_bytes())
    assert answer["In-Reply-To"] == "<aide-1@infirmier.mssante.test>"
    assert answer["Auto-Submitted"] == "auto-replied"
    assert answer["X-MSS-NIL"] == config.product_reference
    assert config.bot_name in answer["From"]
    # Through Postfix (certificate only: no SASL) and its LMTP to the operator's store.
    assert f"to=<{NURSE}>" in postfix.log() and "status=sent" in postfix.log()
    assert "sasl_method" not in postfix.log()


async def test_a_client_without_certificate_is_refused(
        servers: tuple[DovecotServer, PostfixServer], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    dovecot, postfix = servers
    imap = external(dovecot, tmp_path, client_cert=None, client_key=None, auth="login",
                    username=dovecot.username, password=dovecot.password)
    smtp = postfix.settings(client_cert=None, client_key=None)
    code, out = await check(tmp_path / "svc", imap, smtp, capsys)
    assert code == 1
    for protocol in ("IMAP", "SMTP"):
        assert "client certificate" in line_of(out, protocol), out


@pytest.mark.parametrize("case, expected", [
    ("wrong CA", "not signed by an authority we trust"),
    ("revoked server certificate", "has been revoked"),
    ("revoked, says OCSP", "according to the OCSP responder"),
    ("no revocation source", "names neither a revocation list (CRL) nor an OCSP responder"),
    ("expired client certificate", "expired"),
    ("TLS 1.1 server", "only offers TLS 1.1; MSSanté requires TLS 1.2"),
    ("no common cipher", "shares none of the cipher suites MSSanté allows"),
    ("EXTERNAL refused", "refused the client certificate"),
    ("EXTERNAL not offered", "does not offer AUTHENTICATE EXTERNAL"),
    ("wrong password", "refused the user"),
])
async def test_check_explains_each_failure_in_plain_words(
        case: str, expected: str, pki: OperatorPki, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    require_dovecot()
    server: dict[str, Any] = {}
    client: dict[str, Any] = {}
    if case == "wrong CA":
        client = dict(ca_file=pki.material.other_ca_file)
    elif case == "revoked server certificate":
        server = dict(server_cert=pki.revoked_cert, server_key=pki.revoked_key)
    elif case == "revoked, says OCSP":
        server = dict(server_cert=pki.ocsp_revoked_cert, server_key=pki.ocsp_revoked_key)
    elif case == "no revocation source":
        server = dict(server_cert=pki.no_crl_cert, server_key=pki.no_crl_key)
    elif case == "expired client certificate":
        client = dict(client_cert=pki.expired_client_cert, client_key=pki.expired_client_key)
    elif case == "TLS 1.1 server":
        server = dict(min_protocol="TLSv1.1", max_protocol="TLSv1.1",
                      ciphers="DEFAULT@SECLEVEL=0")
    elif case == "no common cipher":
        server = dict(ciphers="AES256-GCM-SHA384")
    elif case == "EXTERNAL refused":
        client = dict(client_cert=pki.stranger_client_cert,
                      client_key=pki.stranger_client_key)
    elif case == "EXTERNAL not offered":
        server = dict(cert_username=False, require_client_cert=True)
    elif case == "wrong password":
        server = dict(cert_username=False, require_client_cert=True)
        client = dict(auth="login", username="coordination@esp-valdelorge.mssante.test",
                      password="pas-le-bon")
    async with operator_dovecot(tmp_path / "dovecot", pki, **server) as dovecot:
        imap = external(dovecot, tmp_path, **client)
        smtp = dataclasses.replace(imap, port=1, crl_cache=None)  # nothing listens: not ours
        code, out = await check(tmp_path / "svc", imap, smtp, capsys)
    assert code == 1
    text = line_of(out, "IMAP")
    assert expected in text, text
    assert "Traceback" not in out


async def test_the_kept_crl_serves_while_its_server_is_down(
        pki: OperatorPki, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """ECO.1.1.7: a failed download does not stop the service while the last
    CRL has not expired; with no CRL kept, the failure is said plainly."""
    require_dovecot()
    async with operator_dovecot(tmp_path / "dovecot", pki) as dovecot:
        imap = external(dovecot, tmp_path)
        smtp = dataclasses.replace(imap, port=1)
        _, out = await check(tmp_path / "svc", imap, smtp, capsys)
        assert "connected, logged in" in line_of(out, "IMAP"), out
        pki.crl.down = True
        try:
            _, out = await check(tmp_path / "svc", imap, smtp, capsys)  # a new process
            assert "connected, logged in" in line_of(out, "IMAP"), out
            fresh = dataclasses.replace(imap, crl_cache=tmp_path / "empty")
            _, out = await check(tmp_path / "svc", fresh, smtp, capsys)
            text = line_of(out, "IMAP")
            assert "could not be obtained" in text and pki.crl.url in text, text
        finally:
            pki.crl.down = False


async def test_ocsp_good_is_enough(pki: OperatorPki, tmp_path: Path) -> None:
    require_dovecot()
    async with operator_dovecot(tmp_path / "dovecot", pki, server_cert=pki.ocsp_good_cert,
                                server_key=pki.ocsp_good_key) as dovecot:
        settings = external(dovecot, tmp_path)
        before = pki.crl.requests
        der = await asyncio.to_thread(_server_der, settings)
        await RevocationChecker(settings).check(der)
        assert pki.crl.requests == before  # the responder answered: no CRL needed


def _server_der(settings: Any) -> bytes:
    import socket
    import ssl

    ctx = ssl.create_default_context(cafile=str(settings.ca_file))
    ctx.load_cert_chain(str(settings.client_cert), str(settings.client_key))
    with socket.create_connection((settings.host, settings.port), timeout=5) as raw:
        raw.recv(4096)
        raw.sendall(b"a STARTTLS\r\n")
        raw.recv(4096)
        with ctx.wrap_socket(raw, server_hostname=settings.host) as tls:
            return tls.getpeercert(binary_form=True)


async def test_postfix_sasl_through_dovecot(pki: OperatorPki, tmp_path: Path) -> None:
    """The other per-operator login: client certificate, then SASL PLAIN
    (checked by Dovecot's authentication for Postfix)."""
    require_dovecot()
    require_postfix()
    async with DovecotServer(tmp_path / "dovecot", pki.material, auth_port=True,
                             mailboxes=(NURSE,)) as dovecot, \
            PostfixServer(tmp_path / "postfix", pki.material, dovecot) as postfix:
        sender = SmtpSender(postfix.settings(revocation="required", crl_cache=tmp_path))
        raw = (f"From: <{dovecot.username}>\r\nTo: <{NURSE}>\r\nSubject: t\r\n"
               "Message-ID: <t1@esp-valdelorge.mssante.test>\r\n\r\nbonjour\r\n").encode()
        await sender.send(raw, sender=dovecot.username, recipients=[NURSE])
        await sender.close()
        inbox = dovecot.datadir / "mail" / NURSE / "Maildir"
        await wait_until(lambda: any(inbox.glob("new/*")), 30, "delivery through Postfix")
        assert "sasl_method=PLAIN" in postfix.log()
        wrong = SmtpSender(postfix.settings(password="pas-le-bon"))
        with pytest.raises(SendRejected, match="refused our credentials"):
            await wrong.send(raw, sender=dovecot.username, recipients=[NURSE])
        await wrong.close()
        bare = SmtpSender(postfix.settings(client_cert=None, client_key=None))
        with pytest.raises(SendTemporaryError, match="client certificate"):
            await bare.send(raw, sender=dovecot.username, recipients=[NURSE])
        await bare.close()
