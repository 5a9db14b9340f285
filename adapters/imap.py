"""The team's mailbox over IMAP (aioimaplib 2.0.3), implementing ``ports.Mailbox``.

Where it differs from the port's documentation:

- ``pending()`` leaves out messages flagged \\Deleted: on a server without
  UIDPLUS a moved message stays in the inbox flagged \\Deleted (we never run a
  plain EXPUNGE, which would also remove messages somebody else flagged).
- ``wait_for_mail()`` first checks the inbox for UIDs not seen by the last
  ``pending()`` (a message may have arrived while we were busy, and its EXISTS
  went to another command), then IDLEs, or polls with NOOP.
- Any other call made while ``wait_for_mail()`` is IDLE-ing ends the wait early.
- ``fetch(max_bytes=...)`` asks the sizes first (one small FETCH per batch),
  then the small messages whole and the large ones' header blocks, each in one
  FETCH; a header block is cut after ``HEADER_LIMIT`` bytes.

aioimaplib has no STARTTLS, does not wake pending commands when the connection
drops, and leaves stray tokens in its capability set: this module handles the
three (``loop.start_tls``, a per-connection "lost" future raced against every
command, and a capability set of its own).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import ssl
from collections.abc import AsyncIterator, Awaitable, Iterable, Sequence
from typing import Any, TypeVar

from aioimaplib import aioimaplib as aio

from adapters.imap_wire import (
    announces_new_mail,
    chunks,
    parse_fetch_bodies,
    parse_fetch_sizes,
    response_text,
    search_uids,
    uid_set,
    uidvalidity_of,
)
from adapters.mutf7 import encode_mutf7
from adapters.revocation import RevocationChecker, RevocationError
from adapters.tls import client_context, describe_tls_error, no_starttls_message
from adapters.tls_probe import ambiguous, diagnose
from esp_coord.config import Folders, ServerSettings
from esp_coord.ports import (
    FetchedMail,
    MailboxAuthError,
    MailboxError,
    MailboxTLSError,
    MailboxUnavailable,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
__all__ = ["ImapMailbox"]

FETCH_BATCH = 100      # UIDs per FETCH: aioimaplib re-scans a response per line received
UID_SET_BATCH = 1000   # UIDs per MOVE/COPY/STORE/EXPUNGE; ranges keep the line short
HEADER_LIMIT = 2**20    # bytes of header block fetched for a mail over the size limit
IDLE_RENEW = 25 * 60.0  # servers may drop an IDLE after 30 minutes (RFC 2177)


def _text(response: aio.Response) -> str:
    return response_text(response.result, response.lines)


class ImapMailbox:
    """``ports.Mailbox`` over IMAP. ``disabled_capabilities`` hides server
    capabilities (e.g. ``{"MOVE"}``) so tests can exercise the fallback paths."""

    def __init__(self, settings: ServerSettings, folders: Folders, *,
                 poll_interval: float = 1.0, disabled_capabilities: Iterable[str] = ()) -> None:
        self._settings = settings
        self._folders = folders
        self._poll_interval = poll_interval
        self._disabled = frozenset(c.upper() for c in disabled_capabilities)
        self._imap: aio.IMAP4 | None = None
        self._lost: asyncio.Future[BaseException | None] | None = None
        self._caps: frozenset[str] = frozenset()
        self._uidvalidity: int | None = None
        self._known: set[int] | None = None
        self._lock = asyncio.Lock()
        self._interrupt = asyncio.Event()
        self._waiting = False
        self._queued = 0
        self._established = False  # logged in on the current connection
        self._revocation = RevocationChecker(settings)
        self.created_folders: list[str] = []  # by the last connect (esp-coord check says so)

    @property
    def capabilities(self) -> frozenset[str]:
        return self._caps

    @property
    def _where(self) -> str:
        return f"{self._settings.host}:{self._settings.port}"

    # --- plumbing -----------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _op(self) -> AsyncIterator[aio.IMAP4]:
        # A wait_for_mail() holding the connection gives way to any other call.
        self._queued += 1
        if self._waiting:
            self._interrupt.set()
        try:
            await self._lock.acquire()
        finally:
            self._queued -= 1
        try:
            yield self._require()
        finally:
            self._lock.release()

    def _require(self) -> aio.IMAP4:
        if self._imap is None:
            raise MailboxUnavailable(f"not connected to the IMAP server {self._where}")
        return self._imap

    def _drop(self) -> None:
        imap, self._imap = self._imap, None
        if imap is not None and imap.protocol.transport is not None:
            imap.protocol.transport.close()
        if imap is not None and imap._client_task.done() and not imap._client_task.cancelled():
            imap._client_task.exception()  # retrieved: a failed connect is reported by us

    def _tls_failure(self, exc: ssl.SSLError, what: str) -> MailboxError:
        # Before login a TLS error is a configuration matter (certificates, versions);
        # once logged in, a TLS-level error is a broken connection like any other.
        if self._established:
            return MailboxUnavailable(f"connection to the IMAP server {self._where} lost "
                                      f"during {what} ({exc})")
        return MailboxTLSError(describe_tls_error(exc, self._settings))

    def _lost_error(self, exc: BaseException | None, what: str) -> MailboxError:
        if isinstance(exc, ssl.SSLError):
            return self._tls_failure(exc, what)
        detail = f" ({exc})" if exc else ""
        return MailboxUnavailable(f"connection to the IMAP server {self._where} lost "
                                  f"during {what}{detail}")

    async def _call(self, aw: Awaitable[T], what: str, *, timeout: float | None = -1.0) -> T:
        """Await one aioimaplib call, raced against the connection dropping.

        ``timeout=-1`` means the configured timeout; ``None`` relies on the
        command's own inactivity timer (long FETCHes keep receiving data).
        """
        lost = self._lost
        assert lost is not None
        limit = self._settings.timeout if timeout == -1.0 else timeout
        task = asyncio.ensure_future(aw)
        racers: set[asyncio.Future[Any]] = {task, lost}
        try:
            done, _ = await asyncio.wait(racers, timeout=limit,
                                         return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            task.cancel()
            raise
        if task in done:
            try:
                return task.result()
            except ssl.SSLError as e:
                self._drop()
                raise self._tls_failure(e, what) from e
            except (TimeoutError, aio.CommandTimeout) as e:
                self._drop()
                raise MailboxUnavailable(f"no answer from the IMAP server {self._where} "
                                         f"to {what} within {self._settings.timeout:g} s") from e
            except (OSError, aio.Abort, aio.Error) as e:
                self._drop()
                if lost.done():
                    raise self._lost_error(lost.result(), what) from e
                raise MailboxUnavailable(f"IMAP {what} failed on {self._where}: {e}") from e
        task.cancel()
        self._drop()
        if lost in done:
            raise self._lost_error(lost.result(), what)
        raise MailboxUnavailable(f"no answer from the IMAP server {self._where} to {what} "
                                 f"within {limit:g} s")

    async def _checked(self, aw: Awaitable[aio.Response], what: str, **kw: Any) -> aio.Response:
        response = await self._call(aw, what, **kw)
        if response.result != "OK":
            raise MailboxError(f"the IMAP server {self._where} refused {what}: {_text(response)}")
        return response

    async def _refresh_capabilities(self, imap: aio.IMAP4, *, ask: bool = True) -> None:
        if ask:
            await self._call(imap.protocol.capability(), "CAPABILITY")
        caps = {c.strip("[]()").upper() for c in imap.protocol.capabilities}
        caps.discard("CAPABILITY")
        self._caps = frozenset(c for c in caps if c) - self._disabled

    # --- connection ---------------------------------------------------------------

    async def connect(self) -> None:
        await self.close()
        s = self._settings
        if s.security == "none":
            log.warning("IMAP to %s WITHOUT encryption (security = none): for tests only",
                        self._where)
        try:
            ctx = client_context(s) if s.security != "none" else None
        except (ssl.SSLError, OSError) as e:
            raise MailboxTLSError(describe_tls_error(e, s)) from e
        loop = asyncio.get_running_loop()
        lost: asyncio.Future[BaseException | None] = loop.create_future()
        self._lost = lost
        self._established = False

        def on_lost(exc: BaseException | None) -> None:
            if not lost.done():
                lost.set_result(exc)

        async with self._lock:
            self._imap = imap = aio.IMAP4(s.host, s.port, timeout=s.timeout, conn_lost_cb=on_lost,
                                          ssl_context=ctx if s.security == "implicit" else None)
            try:
                await self._open(imap, ctx)
            except MailboxTLSError as e:
                self._drop()
                if isinstance(e.__cause__, ssl.SSLError) and ambiguous(e.__cause__):
                    raise MailboxTLSError(await diagnose(e.__cause__, s, "imap")) from e
                raise
            except BaseException:
                self._drop()
                raise
        self._known = None
        log.info("IMAP connected to %s (%s), UIDVALIDITY %s", self._where, s.security,
                 self._uidvalidity)

    async def _open(self, imap: aio.IMAP4, ctx: ssl.SSLContext | None) -> None:
        try:
            await self._call(imap.wait_hello_from_server(), "the greeting")
        except MailboxUnavailable as e:
            cause = e.__cause__
            if isinstance(cause, OSError) and not isinstance(cause, ssl.SSLError):
                raise MailboxUnavailable(f"cannot reach the IMAP server {self._where}: "
                                         f"{cause.strerror or cause}") from cause
            if self._settings.security == "implicit" and cause is None:
                # Hung up during the implicit-TLS handshake, with no alert.
                raise MailboxTLSError(await diagnose(e, self._settings, "imap")) from e
            raise
        # The greeting handler has already asked for CAPABILITY.
        await self._refresh_capabilities(imap, ask=False)
        if self._settings.security == "starttls":
            assert ctx is not None
            await self._starttls(imap, ctx)
        if self._settings.security != "none":
            # Before any credential leaves: the server must not be a revoked one.
            try:
                await self._revocation.check_connection(
                    imap.protocol.transport.get_extra_info("ssl_object"))
            except RevocationError as e:
                self._drop()
                raise MailboxTLSError(str(e)) from e
        await self._authenticate(imap)
        self._established = True
        await self._refresh_capabilities(imap)
        self.created_folders = []
        for name in (self._folders.processed, self._folders.quarantine, self._folders.sent):
            await self._ensure_folder(imap, name)
        await self._select_inbox(imap)

    async def _starttls(self, imap: aio.IMAP4, ctx: ssl.SSLContext) -> None:
        if "STARTTLS" not in self._caps:
            self._drop()
            raise MailboxTLSError(no_starttls_message(self._settings))
        proto = imap.protocol
        response = await self._call(
            proto.execute(aio.Command("STARTTLS", proto.new_tag(), loop=proto.loop)), "STARTTLS")
        if response.result != "OK":
            self._drop()
            raise MailboxTLSError(f"The server {self._where} refused STARTTLS "
                                  f"({_text(response)}); the connection cannot be secured.")
        loop = asyncio.get_running_loop()
        try:
            transport = await self._call(
                loop.start_tls(proto.transport, proto, ctx, server_hostname=self._settings.host,
                               ssl_handshake_timeout=self._settings.timeout),
                "the TLS handshake")
        except MailboxUnavailable as e:
            # Hung up during the handshake (Dovecot does, rather than alert):
            # ask the server what it would accept.
            raise MailboxTLSError(await diagnose(e.__cause__ or e, self._settings,
                                                 "imap")) from e
        if transport is None:
            self._drop()
            raise MailboxUnavailable(f"the IMAP server {self._where} closed the connection "
                                     "during STARTTLS")
        proto.transport = transport
        # RFC 3501 6.2.1: capabilities before TLS must be forgotten.
        await self._refresh_capabilities(imap)

    async def _authenticate(self, imap: aio.IMAP4) -> None:
        s = self._settings
        proto = imap.protocol
        if s.auth == "none":
            return
        if s.auth == "external":
            if "AUTH=EXTERNAL" not in self._caps:
                self._drop()
                raise MailboxAuthError(f"The server {self._where} does not offer "
                                       "AUTHENTICATE EXTERNAL (login by client certificate). "
                                       "Use auth = \"login\" with a user name and password.")
            # An empty response: the identity comes from the certificate.
            response = await self._sasl("EXTERNAL", b"")
            if response.result == "OK":
                return
            who = "the client certificate"
        else:
            if "LOGINDISABLED" in self._caps:
                self._drop()
                raise MailboxTLSError(f"The server {self._where} refuses to receive a password "
                                      "over an unencrypted connection. Use security = "
                                      "\"starttls\" or \"implicit\".")
            if s.username is None or s.password is None:
                raise MailboxAuthError("no IMAP user name or password configured")
            if "AUTH=PLAIN" in self._caps:
                # SASL PLAIN (RFC 4616): UTF-8 and any character, unlike LOGIN's quoting.
                response = await self._sasl(
                    "PLAIN", b"\0" + s.username.encode() + b"\0" + s.password.encode())
            else:
                try:
                    login = proto.login(aio.quoted(s.username), s.password)
                    response = await self._call(login, "LOGIN")
                except ValueError:
                    raise MailboxAuthError("the IMAP password contains a line break") from None
            if response.result == "OK":
                return
            who = f"the user {s.username}"
        text = _text(response)
        self._drop()
        if "PRIVACYREQUIRED" in text.upper():
            raise MailboxTLSError(f"The server {self._where} refuses a login over an unencrypted "
                                  f"connection ({text}).")
        if "certificate" in text.lower() or "ssl" in text.lower():
            raise MailboxAuthError(f"The IMAP server {self._where} requires a valid client "
                                   f"certificate and refused {who} ({text}). Check "
                                   "client_cert and client_key in the configuration.")
        raise MailboxAuthError(f"The IMAP server {self._where} refused {who}: {text}. Check "
                               "the user name and password in the configuration.")

    async def _sasl(self, mechanism: str, initial: bytes) -> aio.Response:
        """AUTHENTICATE with one client response: inline with SASL-IR (RFC 4959,
        "=" for an empty one), else after the server's "+" continuation."""
        imap = self._require()
        proto = imap.protocol
        encoded = base64.b64encode(initial).decode("ascii")
        args = [mechanism]
        if "SASL-IR" in self._caps:
            args.append(encoded or "=")
        command = aio.Command("AUTHENTICATE", proto.new_tag(), *args, loop=proto.loop)
        if "SASL-IR" not in self._caps:
            # aioimaplib answers continuations only for APPEND and IDLE.
            plain_continuation = proto._continuation

            def answer(line: bytes) -> None:
                if proto.pending_sync_command is command:
                    proto.transport.write(encoded.encode("ascii") + b"\r\n")
                else:
                    plain_continuation(line)

            proto._continuation = answer
        try:
            response: aio.Response = await self._call(
                proto.execute(command, scrub=encoded or None), f"AUTHENTICATE {mechanism}")
        finally:
            if "SASL-IR" not in self._caps:
                del proto._continuation  # back to the class's method
        if response.result == "OK":
            async with proto.state_condition:
                proto.state = aio.AUTH
                proto.state_condition.notify_all()
        return response

    async def _ensure_folder(self, imap: aio.IMAP4, name: str) -> None:
        wire = aio.quoted(encode_mutf7(name))
        listed = await self._checked(imap.protocol.simple_command("LIST", '""', wire), "LIST")
        if len(listed.lines) > 1:
            return
        created = await self._call(imap.protocol.simple_command("CREATE", wire), "CREATE")
        if created.result != "OK" and "ALREADYEXISTS" not in _text(created).upper():
            raise MailboxError(f"cannot create the folder « {name} » on {self._where}: "
                               f"{_text(created)}")
        # Subscribed, so that the coordinator's mail client shows it.
        await self._call(imap.protocol.simple_command("SUBSCRIBE", wire), "SUBSCRIBE")
        log.info("IMAP folder created: %s", name)
        self.created_folders.append(name)

    async def _select_inbox(self, imap: aio.IMAP4) -> None:
        wire = aio.quoted(encode_mutf7(self._folders.inbox))
        response = await self._checked(imap.protocol.select(wire), "SELECT")
        self._uidvalidity = uidvalidity_of(response.lines) or self._uidvalidity

    async def close(self) -> None:
        imap = self._imap
        if imap is None:
            return
        self._interrupt.set()  # a wait_for_mail() in another task stops waiting
        try:
            if imap.has_pending_idle():
                imap.idle_done()
            if self._lost is not None and not self._lost.done() \
                    and imap.protocol.state in (aio.AUTH, aio.SELECTED, aio.NONAUTH):
                await asyncio.wait_for(self._call(imap.protocol.logout(), "LOGOUT"), 2.0)
        except (TimeoutError, MailboxError, OSError, aio.AioImapException):
            pass
        finally:
            if self._imap is imap:
                self._drop()

    # --- the inbox ------------------------------------------------------------------

    async def uidvalidity(self) -> int:
        self._require()
        assert self._uidvalidity is not None
        return self._uidvalidity

    async def _uids(self, imap: aio.IMAP4, criterion: str = "UNDELETED") -> list[int]:
        # Dovecot runs a command on its current view and syncs after it: without this
        # NOOP, mail delivered since the last command would be missing from the search.
        await self._checked(imap.protocol.simple_command("NOOP"), "NOOP")
        response = await self._checked(
            imap.protocol.search(criterion, charset=None, by_uid=True), "UID SEARCH")
        return search_uids(response.lines)

    async def pending(self) -> list[int]:
        async with self._op() as imap:
            uids = await self._uids(imap)
        self._known = set(uids)
        return uids

    async def fetch(self, uids: Sequence[int], *,
                    max_bytes: int | None = None) -> list[FetchedMail]:
        wanted = sorted(set(uids))
        found: dict[int, FetchedMail] = {}
        async with self._op() as imap:
            for chunk in chunks(wanted, FETCH_BATCH):
                if max_bytes is None:
                    found.update(await self._fetch_whole(imap, chunk, None))
                    continue
                sizes = parse_fetch_sizes(await self._fetch_lines(imap, chunk, "RFC822.SIZE"))
                # A UID without a size is fetched whole, as before sizes were
                # asked: left out, it would stay in the inbox, pending forever.
                large = [uid for uid in chunk if sizes.get(uid, 0) > max_bytes]
                small = [uid for uid in chunk if sizes.get(uid, 0) <= max_bytes]
                if small:
                    found.update(await self._fetch_whole(imap, small, sizes))
                if large:
                    found.update(await self._fetch_headers(imap, large, sizes))
        return [found[uid] for uid in wanted if uid in found]

    async def _fetch_lines(self, imap: aio.IMAP4, uids: Sequence[int], items: str) -> list[Any]:
        response = await self._checked(
            imap.protocol.fetch(uid_set(uids), f"(UID {items})", by_uid=True,
                                timeout=self._settings.timeout),
            "UID FETCH", timeout=None)
        lines: list[Any] = response.lines  # aioimaplib is untyped
        return lines

    async def _fetch_whole(self, imap: aio.IMAP4, uids: Sequence[int],
                           sizes: dict[int, int] | None) -> dict[int, FetchedMail]:
        items = "RFC822.SIZE BODY.PEEK[]" if sizes is None else "BODY.PEEK[]"
        lines = await self._fetch_lines(imap, uids, items)
        if sizes is None:
            sizes = parse_fetch_sizes(lines)
        return {uid: FetchedMail(uid, raw, sizes.get(uid, len(raw)))
                for uid, raw in parse_fetch_bodies(lines).items()}

    async def _fetch_headers(self, imap: aio.IMAP4, uids: Sequence[int],
                             sizes: dict[int, int]) -> dict[int, FetchedMail]:
        # A mail of megabytes of header lines must not come whole either.
        lines = await self._fetch_lines(imap, uids, f"BODY.PEEK[HEADER]<0.{HEADER_LIMIT}>")
        return {uid: FetchedMail(uid, block, sizes[uid], headers_only=True)
                for uid, block in parse_fetch_bodies(lines).items() if uid in sizes}

    async def move(self, uids: Sequence[int], folder: str) -> None:
        wanted = sorted(set(uids))
        if not wanted:
            return
        target = aio.quoted(encode_mutf7(folder))
        async with self._op() as imap:
            proto = imap.protocol
            for chunk in chunks(wanted, UID_SET_BATCH):
                uset = uid_set(chunk)
                if "MOVE" in self._caps:
                    await self._checked(proto.move(uset, target, by_uid=True), "UID MOVE")
                    continue
                await self._checked(proto.copy(uset, target, by_uid=True), "UID COPY")
                await self._checked(proto.store(uset, "+FLAGS.SILENT", r"(\Deleted)", by_uid=True),
                                    "UID STORE")
                if "UIDPLUS" in self._caps:
                    await self._checked(proto.expunge(uset, by_uid=True), "UID EXPUNGE")
                else:
                    log.warning("IMAP server %s has neither MOVE nor UIDPLUS: %d message(s) left "
                                "in the inbox flagged \\Deleted", self._where, len(chunk))
        if self._known is not None:
            self._known.difference_update(wanted)
        log.info("IMAP moved %d message(s) to %s", len(wanted), folder)

    # --- waiting --------------------------------------------------------------------

    async def wait_for_mail(self, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with self._lock:
            imap = self._require()
            self._interrupt.clear()
            self._waiting = True
            try:
                if self._queued:
                    return
                uids = set(await self._uids(imap))
                if self._known is None:
                    self._known = uids
                elif uids - self._known:
                    return
                if "IDLE" in self._caps:
                    await self._idle(imap, deadline)
                else:
                    await self._poll(imap, deadline)
            finally:
                self._waiting = False

    async def _poll(self, imap: aio.IMAP4, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        while (remaining := deadline - loop.time()) > 0:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can lose a
            # cancellation that lands as the wait ends (gh-86296).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(self._poll_interval, remaining)):
                    await self._interrupt.wait()
                return
            response = await self._checked(imap.protocol.simple_command("NOOP"), "NOOP")
            if announces_new_mail(response.lines[:-1]):
                return

    async def _idle(self, imap: aio.IMAP4, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        queue = imap.protocol.idle_queue
        while not queue.empty():  # pushes from an earlier IDLE: already looked at since
            queue.get_nowait()
        while (remaining := deadline - loop.time()) > 0 and not self._interrupt.is_set():
            session = min(remaining, IDLE_RENEW)
            idle = await self._call(imap.idle_start(timeout=session), "IDLE")
            try:
                if await self._wait_push(imap, loop.time() + session):
                    return
            finally:
                if self._imap is not None and self._imap is imap and imap.has_pending_idle():
                    imap.idle_done()
                    await self._call(asyncio.shield(idle), "IDLE DONE")

    async def _wait_push(self, imap: aio.IMAP4, until: float) -> bool:
        """True when the server announced new mail, False when ``until`` came."""
        loop = asyncio.get_running_loop()
        interrupt = asyncio.ensure_future(self._interrupt.wait())
        try:
            while (remaining := until - loop.time()) > 0:
                push = asyncio.ensure_future(imap.protocol.idle_queue.get())
                try:
                    done, _ = await self._wait_any(push, interrupt, remaining)
                finally:
                    push.cancel()
                if interrupt in done:
                    return True
                if push not in done:
                    return False
                lines = push.result()
                if lines is aio.STOP_WAIT_SERVER_PUSH or lines == aio.STOP_WAIT_SERVER_PUSH:
                    return False
                if announces_new_mail(lines):
                    return True
            return False
        finally:
            interrupt.cancel()

    async def _wait_any(self, push: asyncio.Future[Any], interrupt: asyncio.Future[Any],
                        remaining: float) -> tuple[set[Any], set[Any]]:
        lost = self._lost
        assert lost is not None
        done, pending = await asyncio.wait({push, interrupt, lost}, timeout=remaining,
                                           return_when=asyncio.FIRST_COMPLETED)
        if lost in done:
            self._drop()
            raise self._lost_error(lost.result(), "IDLE")
        return done, pending
