"""SMTP submission (aiosmtplib): the ``MailSender`` port.

Differences from the port's general contract worth knowing:

- Sending is all-or-nothing per message: every recipient is announced (RCPT)
  before DATA, and if the server refuses any of them the transaction is reset
  and nothing is sent, so a retry never duplicates mail for the recipients that
  were accepted.
- Connections are kept and reused, up to ``max_connections`` concurrent
  sessions. When a reused connection turns out to have been closed by the
  server (idle timeout), the message is retried once on a fresh connection; this
  is safe because the failure happened before DATA.
- With ``security = "starttls"`` the session is refused unless the server
  offers STARTTLS: no silent fallback to clear text.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable, Sequence

import aiosmtplib
from aiosmtplib import (
    SMTPAuthenticationError,
    SMTPException,
    SMTPRecipientRefused,
    SMTPResponseException,
    SMTPServerDisconnected,
    SMTPTimeoutError,
)

from adapters.revocation import RevocationChecker, RevocationError
from adapters.tls import client_context, describe_tls_error, no_starttls_message
from adapters.tls_probe import ambiguous, diagnose
from esp_coord.config import ServerSettings
from esp_coord.ports import SendAborted, SendError, SendRejected, SendTemporaryError

log = logging.getLogger(__name__)


def _tls_cause(exc: BaseException) -> ssl.SSLError | None:
    """The TLS error behind ``exc``, if any: aiosmtplib wraps it in its own errors."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _reply_text(exc: SMTPResponseException) -> str:
    # The server's own words help a coordinator; bounded so that a chatty
    # server cannot flood the logs.
    return " ".join(str(exc.message).split())[:200]


class _Session:
    """One authenticated SMTP session, reused between messages."""

    def __init__(self, client: aiosmtplib.SMTP) -> None:
        self.client = client

    @property
    def usable(self) -> bool:
        return self.client.is_connected

    async def quit(self) -> None:
        with contextlib.suppress(Exception):
            if self.client.is_connected:
                await asyncio.wait_for(self.client.quit(), timeout=2.0)
        with contextlib.suppress(Exception):
            self.client.close()


class SmtpSender:
    """``MailSender`` over SMTP submission, with implicit TLS or STARTTLS."""

    def __init__(self, settings: ServerSettings, *, local_hostname: str | None = None,
                 max_connections: int = 1) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self._settings = settings
        self._local_hostname = local_hostname
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: list[_Session] = []
        self._busy: set[_Session] = set()
        self._tls: ssl.SSLContext | None = None
        self._revocation = RevocationChecker(settings)

    # --- public API -------------------------------------------------------------

    async def send(self, message: bytes, *, sender: str, recipients: Sequence[str],
                   proceed: Callable[[], bool] = lambda: True) -> None:
        if not recipients:
            raise SendRejected("no recipient given", code=None)
        async with self._slots:
            session = self._idle.pop() if self._idle else None
            reused = session is not None and session.usable
            if session is not None and not reused:
                await session.quit()
                session = None
            if session is None:
                session = await self._open()
            self._busy.add(session)
            try:
                try:
                    await self._transaction(session, message, sender, recipients, proceed)
                except _StaleConnection as stale:
                    if not reused:
                        raise self._translate(stale.cause, stage=stale.stage) from stale.cause
                    # The server closed our idle connection before we spoke:
                    # nothing was accepted, so one retry on a fresh session is safe.
                    log.info("SMTP connection to %s was closed by the server; reconnecting",
                             self._where)
                    await session.quit()
                    self._busy.discard(session)
                    session = await self._open()
                    self._busy.add(session)
                    try:
                        await self._transaction(session, message, sender, recipients, proceed)
                    except _StaleConnection as stale:
                        raise self._translate(stale.cause, stage=stale.stage) from stale.cause
            except SendError:
                self._busy.discard(session)
                # A refusal leaves a healthy session (the transaction was reset).
                if session.usable:
                    self._idle.append(session)
                else:
                    await session.quit()
                raise
            except BaseException:
                self._busy.discard(session)
                await session.quit()
                raise
            self._busy.discard(session)
            self._idle.append(session)

    async def check(self) -> None:
        """Connect, secure, authenticate, send nothing (``esp-coord check``).
        Raises the same errors as ``send``, written for a coordinator."""
        async with self._slots:
            self._idle.append(await self._open())

    async def close(self) -> None:
        sessions = self._idle + list(self._busy)
        self._idle.clear()
        self._busy.clear()
        for session in sessions:
            await session.quit()

    # --- connection -------------------------------------------------------------

    @property
    def _where(self) -> str:
        return f"{self._settings.host}:{self._settings.port}"

    def _closed_after_handshake(self) -> str:
        # With TLS 1.3 a server that rejects (or wants) our client certificate
        # says so after the handshake; asyncio reports only the closed connection.
        if self._settings.client_cert is None:
            hint = ("it probably requires a client certificate: check client_cert and "
                    "client_key in the configuration")
        else:
            hint = ("it probably does not accept our client certificate "
                    f"({self._settings.client_cert}): check that it is valid and issued "
                    "by an authority the server trusts")
        return (f"The SMTP server {self._where} closed the connection right after the TLS "
                f"handshake; {hint}.")

    def _context(self) -> ssl.SSLContext:
        if self._tls is None:
            try:
                self._tls = client_context(self._settings)
            except (ssl.SSLError, OSError) as exc:
                raise SendTemporaryError(describe_tls_error(exc, self._settings)) from exc
        return self._tls

    async def _open(self) -> _Session:
        s = self._settings
        implicit = s.security == "implicit"
        client = aiosmtplib.SMTP(
            hostname=s.host, port=s.port, timeout=s.timeout,
            local_hostname=self._local_hostname,
            use_tls=implicit, start_tls=False,
            tls_context=self._context() if s.security != "none" else None,
        )
        # With implicit TLS, connect() covers the handshake and the greeting:
        # a disconnection there (not a refusal) came after a completed handshake.
        handshake_done = implicit
        in_handshake = implicit
        try:
            await client.connect()
            in_handshake = False
            await client.ehlo()
            if s.security == "starttls":
                if not client.supports_extension("starttls"):
                    raise SendTemporaryError(no_starttls_message(s))
                in_handshake = True
                await client.starttls(tls_context=self._context())
                in_handshake = False
                handshake_done = True
                await client.ehlo()
            if s.security != "none":
                # Before any credential leaves: the server must not be a revoked one.
                try:
                    await self._revocation.check_connection(
                        client.get_transport_info("ssl_object"))
                except RevocationError as e:
                    raise SendTemporaryError(str(e)) from e
            await self._authenticate(client)
        except SendError:
            client.close()
            raise
        except BaseException as exc:
            client.close()
            tls = _tls_cause(exc)
            if handshake_done and _disconnected(exc) and tls is None:
                raise SendTemporaryError(self._closed_after_handshake()) from exc
            if in_handshake and isinstance(exc, Exception) and (
                    (tls is not None and ambiguous(tls)) or (tls is None and _disconnected(exc))):
                # The alert (or a reset) alone does not say what the server wants.
                raise SendTemporaryError(await diagnose(tls or exc, s, "smtp")) from exc
            raise self._translate(exc, stage="connect") from exc
        return _Session(client)

    async def _authenticate(self, client: aiosmtplib.SMTP) -> None:
        s = self._settings
        if s.auth == "login":
            if s.username is None or s.password is None:
                raise SendRejected(f"SMTP server {self._where}: login needs a user name and "
                                   "a password", code=None)
            methods = client.supported_auth_methods
            if "plain" in methods:
                await client.auth_plain(s.username, s.password)
            elif "login" in methods:
                await client.auth_login(s.username, s.password)
            else:
                await client.login(s.username, s.password)
        elif s.auth == "external" and "external" in client.server_auth_methods:
            # The client certificate is the credential; "=" is the empty
            # authorisation identity (RFC 4954): the server derives it from the certificate.
            response = await client.execute_command(b"AUTH", b"EXTERNAL", b"=")
            if response.code != 235:
                raise SMTPAuthenticationError(response.code, response.message)
        # "none", or "external" without the mechanism: the certificate already
        # authenticated us during the handshake.

    # --- transaction ------------------------------------------------------------

    async def _transaction(self, session: _Session, message: bytes, sender: str,
                           recipients: Sequence[str], proceed: Callable[[], bool]) -> None:
        client = session.client
        stage = "mail"
        try:
            await client.mail(sender)
            stage = "rcpt"
            refused: list[SMTPRecipientRefused] = []
            for rcpt in recipients:
                try:
                    await client.rcpt(rcpt)
                except SMTPRecipientRefused as exc:
                    refused.append(exc)
            if refused:
                with contextlib.suppress(SMTPException):
                    await client.rset()
                raise _refused_recipients(refused, self._where)
            if not proceed():
                with contextlib.suppress(SMTPException):
                    await client.rset()
                raise SendAborted("not sending: the caller withdrew before the message data")
            stage = "data"
            await client.data(message)
        except SendError:
            raise
        except (SMTPServerDisconnected, ConnectionError) as exc:
            if stage != "data":
                raise _StaleConnection(exc, stage) from exc
            raise self._translate(exc, stage=stage) from exc
        except SMTPResponseException as exc:
            # 421: the server is closing this session (idle too long, too many
            # messages on one connection); before DATA a new session may do.
            if exc.code == 421 and stage != "data":
                client.close()
                raise _StaleConnection(exc, stage) from exc
            raise self._translate(exc, stage=stage) from exc
        except BaseException as exc:
            raise self._translate(exc, stage=stage) from exc

    def _translate(self, exc: BaseException, *, stage: str) -> BaseException:
        """Map an aiosmtplib error to the port's errors, without message content."""
        if not isinstance(exc, Exception):
            return exc  # cancellation and friends pass through untouched
        tls = _tls_cause(exc)
        if tls is not None:
            return SendTemporaryError(describe_tls_error(tls, self._settings))
        if isinstance(exc, SMTPResponseException):
            code = exc.code
            text = _reply_text(exc)
            if isinstance(exc, SMTPAuthenticationError) and code >= 500:
                return SendRejected(f"SMTP server {self._where} refused our credentials "
                                    f"({code} {text}); check the user name, password "
                                    "or client certificate", code=code)
            if "certificate" in text.lower():
                return SendTemporaryError(f"SMTP server {self._where} refused us because of "
                                          f"our client certificate ({code} {text}). Check "
                                          "client_cert and client_key in the configuration.")
            if 400 <= code < 500 or code < 0:
                return SendTemporaryError(f"SMTP server {self._where} refused for now at "
                                          f"{stage} ({code} {text}); will retry")
            return SendRejected(f"SMTP server {self._where} refused the message at {stage} "
                                f"({code} {text})", code=code)
        if isinstance(exc, (SMTPTimeoutError, TimeoutError)):
            return SendTemporaryError(f"the SMTP server {self._where} did not answer in time "
                                      f"({stage}); will retry")
        if isinstance(exc, (SMTPException, OSError)):
            return SendTemporaryError(f"cannot reach the SMTP server {self._where} "
                                      f"({type(exc).__name__}: {exc}); will retry")
        return exc


def _disconnected(exc: BaseException) -> bool:
    current: BaseException | None = exc
    while current is not None:
        if isinstance(current, (SMTPServerDisconnected, ConnectionResetError,
                                BrokenPipeError)):
            return True
        current = current.__cause__
    return False


class _StaleConnection(Exception):
    """The session ended before DATA: nothing was accepted, a new session may retry."""

    def __init__(self, cause: Exception, stage: str) -> None:
        super().__init__(stage)
        self.cause = cause
        self.stage = stage


def _refused_recipients(refused: list[SMTPRecipientRefused], where: str) -> SendError:
    # One temporary refusal is enough to make the whole message worth retrying.
    first = refused[0]
    temporary = [r for r in refused if 400 <= r.code < 500]
    summary = ", ".join(f"{r.recipient} ({r.code})" for r in refused[:5])
    more = f" and {len(refused) - 5} more" if len(refused) > 5 else ""
    if temporary:
        return SendTemporaryError(f"SMTP server {where} refused for now the recipients "
                                  f"{summary}{more}; nothing sent, will retry")
    return SendRejected(f"SMTP server {where} refused the recipients {summary}{more}; "
                        "nothing sent", code=first.code)
