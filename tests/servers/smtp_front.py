"""An SMTP server in the test's own event loop (aiosmtpd protocol, port 0).

Records every accepted message, optionally hands it to a ``deliver`` coroutine
(into Dovecot over LMTP, or into the embedded server) before answering 250,
and injects faults: refusals with a chosen code, a server that goes down and
comes back on the same port, connections dropped under the client's feet.
"""

from __future__ import annotations

import asyncio
import ssl
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from esp_coord.config import ServerSettings
from tests.servers.tls import TLSMaterial

Stage = Literal["mail", "rcpt", "data"]


@dataclass
class Received:
    """One accepted message, as the server saw it."""

    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    session_number: int
    client_cert: dict[str, Any] | None = None


@dataclass
class _Refusal:
    code: int
    stage: Stage
    remaining: int | None  # None: until cleared
    recipients: frozenset[str] | None = None

    def applies(self, stage: Stage, address: str | None = None) -> bool:
        if self.stage != stage or self.remaining == 0:
            return False
        if self.recipients is not None and (address or "").lower() not in self.recipients:
            return False
        if self.remaining is not None:
            self.remaining -= 1
        return True

    @property
    def reply(self) -> str:
        kind = "4.3.0 Try again later" if self.code < 500 else "5.7.1 Refused"
        return f"{self.code} {kind}"


Deliver = Callable[[Received], Awaitable[None]]


class _Handler:
    def __init__(self, front: SmtpFront) -> None:
        self.front = front

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, mail_options: list[str]) -> str:
        refusal = self.front._refusal_for("mail")
        if refusal:
            return refusal
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        refusal = self.front._refusal_for("rcpt", address)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        self.front.accepted_rcpts.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        refusal = self.front._refusal_for("data")
        if refusal:
            return refusal
        content = envelope.original_content or envelope.content or b""
        assert isinstance(content, bytes)
        cert = _peer_cert(server)
        received = Received(mail_from=envelope.mail_from or "", rcpt_tos=list(envelope.rcpt_tos),
                            content=content, session_number=self.front._session_of(server),
                            client_cert=cert)
        try:
            # aiosmtpd cancels the handler when the client vanishes; a client
            # killed after its final "." does not take the message back: like
            # a real MTA that queued it, finish delivering and recording it.
            await asyncio.shield(self.front._accept(received))
        except Exception:  # noqa: BLE001 - the client only needs "try later"
            return "451 4.3.0 Local delivery failed"
        return "250 2.0.0 Accepted"


class _ExternalAuthHandler(_Handler):
    """Also offers AUTH EXTERNAL: the TLS client certificate is the credential."""

    async def auth_EXTERNAL(self, server: SMTP, args: list[str]) -> AuthResult:
        cert = _peer_cert(server)
        self.front.auth_attempts.append(("EXTERNAL", cert is not None))
        return AuthResult(success=cert is not None, handled=False, auth_data=cert)


def _peer_cert(server: SMTP) -> dict[str, Any] | None:
    transport = server.transport
    cert = transport.get_extra_info("peercert") if transport is not None else None
    return cert or None


class SmtpFront:
    """An SMTP server for tests.

    ``security``: "starttls" (STARTTLS offered and required before MAIL),
    "implicit" (TLS from the first byte), or "none" (clear text, no STARTTLS:
    what a misconfigured or downgraded server looks like).
    """

    def __init__(self, tls: TLSMaterial | None = None, *, host: str = "127.0.0.1",
                 security: Literal["starttls", "implicit", "none"] = "starttls",
                 auth: tuple[str, str] | None = None, require_client_cert: bool = False,
                 external_auth: bool = False,
                 deliver: Deliver | None = None, hostname: str = "smtp.test") -> None:
        if security != "none" and tls is None:
            raise ValueError("TLS material is needed unless security is 'none'")
        self.host = host
        self.port = 0
        self.security = security
        self.tls = tls
        self.auth = auth
        self.require_client_cert = require_client_cert
        self.deliver = deliver
        self.hostname = hostname
        self.messages: list[Received] = []
        #: Every recipient accepted at RCPT, message or not.
        self.accepted_rcpts: list[str] = []
        #: Number of SMTP sessions (TCP connections) opened so far.
        self.sessions = 0
        self.auth_attempts: list[tuple[str, bool]] = []
        self._refusals: list[_Refusal] = []
        self._live: dict[SMTP, int] = {}
        self._server: asyncio.AbstractServer | None = None
        self.external_auth = external_auth
        self._handler = _ExternalAuthHandler(self) if external_auth else _Handler(self)
        self._ctx: ssl.SSLContext | None = None

    # --- TLS and authentication ------------------------------------------------

    def _server_context(self) -> ssl.SSLContext:
        assert self.tls is not None
        if self._ctx is not None:
            return self._ctx
        self._ctx = ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(str(self.tls.server_cert), str(self.tls.server_key))
        if self.require_client_cert:
            ctx.load_verify_locations(cafile=str(self.tls.ca_file))
            ctx.verify_mode = ssl.CERT_REQUIRED
        return ctx

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope,
                      mechanism: str, auth_data: Any) -> AuthResult:
        ok = False
        login = ""
        if self.auth is not None and isinstance(auth_data, LoginPassword):
            login = auth_data.login.decode("utf-8", "replace")
            ok = (login, auth_data.password.decode("utf-8", "replace")) == self.auth
        self.auth_attempts.append((login, ok))
        return AuthResult(success=ok, handled=False)

    def _protocol(self) -> SMTP:
        ctx = self._server_context() if self.security != "none" else None
        with warnings.catch_warnings():
            # aiosmtpd cannot see TLS below it and warns about AUTH without TLS.
            warnings.simplefilter("ignore", UserWarning)
            smtp = self._new_smtp(ctx)
        return self._register(smtp)

    def _new_smtp(self, ctx: ssl.SSLContext | None) -> SMTP:
        return SMTP(
            self._handler,
            hostname=self.hostname,
            # STARTTLS offered only on the "starttls" flavour; implicit TLS is
            # handled by the listening socket, below aiosmtpd.
            tls_context=ctx if self.security == "starttls" else None,
            require_starttls=self.security == "starttls",
            authenticator=self._authenticate if self.auth or self.external_auth else None,
            auth_required=self.auth is not None or self.external_auth,
            auth_require_tls=self.security == "starttls",
            loop=asyncio.get_running_loop(),
        )

    def _register(self, smtp: SMTP) -> SMTP:
        self.sessions += 1
        self._live[smtp] = self.sessions
        original_lost = smtp.connection_lost

        def connection_lost(error: Exception | None) -> None:
            self._live.pop(smtp, None)
            original_lost(error)

        smtp.connection_lost = connection_lost  # type: ignore[method-assign]
        return smtp

    def _session_of(self, server: SMTP) -> int:
        return self._live.get(server, 0)

    async def _accept(self, received: Received) -> None:
        if self.deliver is not None:
            await self.deliver(received)
        self.messages.append(received)

    # --- fault injection ------------------------------------------------------

    def refuse(self, code: int = 451, count: int | None = None, *, stage: Stage = "data",
               recipients: list[str] | None = None) -> None:
        """Answer ``code`` at ``stage`` for the next ``count`` attempts (None: until
        ``clear_refusals()``), for every recipient or only these ones."""
        rcpts = frozenset(r.lower() for r in recipients) if recipients else None
        self._refusals.append(_Refusal(code=code, stage=stage, remaining=count, recipients=rcpts))

    def clear_refusals(self) -> None:
        self._refusals.clear()

    def _refusal_for(self, stage: Stage, address: str | None = None) -> str | None:
        for refusal in self._refusals:
            if refusal.applies(stage, address):
                return refusal.reply
        return None

    def drop_connections(self) -> None:
        """Close every open session, as a server does on its idle timeout."""
        for smtp in list(self._live):
            if smtp.transport is not None:
                smtp.transport.close()

    async def go_down(self) -> None:
        """Stop listening and drop every session: connections are refused."""
        if self._server is not None:
            self._server.close()
            self.drop_connections()
            await self._server.wait_closed()
            self._server = None
        await asyncio.sleep(0)

    async def come_back(self) -> None:
        """Listen again, on the same port."""
        if self._server is None:
            await self._listen()

    # --- lifecycle ------------------------------------------------------------

    async def _listen(self) -> None:
        loop = asyncio.get_running_loop()
        ssl_ctx = self._server_context() if self.security == "implicit" else None
        self._server = await loop.create_server(self._protocol, self.host, self.port,
                                                ssl=ssl_ctx, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def __aenter__(self) -> SmtpFront:
        await self._listen()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.go_down()

    def settings(self, **overrides: Any) -> ServerSettings:
        """Client settings that reach this server (trusting the test CA)."""
        values: dict[str, Any] = dict(host=self.host, port=self.port, security=self.security,
                                      ca_file=self.tls.ca_file if self.tls else None,
                                      auth="none", timeout=5.0, revocation="when-named")
        if self.auth:
            values.update(auth="login", username=self.auth[0], password=self.auth[1])
        if self.require_client_cert and self.tls:
            values.update(client_cert=self.tls.client_cert, client_key=self.tls.client_key)
            if not self.auth:
                values["auth"] = "external"
                values["username"] = None
        values.update(overrides)
        return ServerSettings(**values)
