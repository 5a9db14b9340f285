"""SMTP submission for the embedded demo server (aiosmtpd, in the caller's loop).

STARTTLS is required before anything else and AUTH before MAIL, like an MSSanté
operator's submission port. Every accepted message is handed to ``deliver``
once per recipient before the server answers 250.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import warnings
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

log = logging.getLogger(__name__)

Deliver = Callable[[str, bytes], Awaitable[None]]


class _DropLoginDataNotice(logging.Filter):
    """aiosmtpd 1.4 warns on every successful AUTH about its own deprecated field."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "login_data is deprecated" not in record.getMessage()


logging.getLogger("mail.log").addFilter(_DropLoginDataNotice())


class _Handler:
    def __init__(self, deliver: Deliver) -> None:
        self._deliver = deliver

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        assert isinstance(raw, bytes)
        try:
            for rcpt in envelope.rcpt_tos:
                await self._deliver(rcpt, raw)
        except Exception as exc:
            # The type only: a traceback could quote the message.
            log.error("embedded server: local delivery failed (%s)", type(exc).__name__)
            return "451 4.3.0 Local delivery failed, try again later"
        return "250 2.0.0 Delivered"


class SubmissionServer:
    """aiosmtpd on a loopback port, STARTTLS and AUTH (PLAIN/LOGIN) required."""

    def __init__(self, ssl_context: ssl.SSLContext, *, users: Mapping[str, str],
                 deliver: Deliver, host: str = "127.0.0.1",
                 hostname: str = "mail.esp-coord.localhost") -> None:
        self.host = host
        self.smtp_port = 0
        self._ssl = ssl_context
        self._users = users  # read at each login: users added later can log in
        self._handler = _Handler(deliver)
        self._hostname = hostname
        self._live: set[SMTP] = set()

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope,
                      mechanism: str, auth_data: Any) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            login = auth_data.login.decode("utf-8", "replace").lower()
            password = auth_data.password.decode("utf-8", "replace")
            expected = self._users.get(login)
            if expected is not None and password == expected:
                return AuthResult(success=True)
        # handled=False: let aiosmtpd answer 535 itself.
        return AuthResult(success=False, handled=False)

    def _protocol(self) -> SMTP:
        with warnings.catch_warnings():
            # aiosmtpd warns about any verify_mode; ours (no client certificate) is fine.
            warnings.simplefilter("ignore", UserWarning)
            smtp = SMTP(self._handler, hostname=self._hostname, tls_context=self._ssl,
                        require_starttls=True, authenticator=self._authenticate,
                        auth_required=True, auth_require_tls=True,
                        loop=asyncio.get_running_loop())
        self._live.add(smtp)
        lost = smtp.connection_lost

        def connection_lost(error: Exception | None) -> None:
            self._live.discard(smtp)
            lost(error)

        smtp.connection_lost = connection_lost  # type: ignore[method-assign]
        return smtp

    async def start(self, stack: AsyncExitStack) -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(self._protocol, self.host, 0)
        self.smtp_port = server.sockets[0].getsockname()[1]

        async def stop() -> None:
            server.close()
            for smtp in list(self._live):
                if smtp.transport is not None:
                    smtp.transport.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), timeout=2.0)
            await asyncio.sleep(0)

        stack.push_async_callback(stop)
