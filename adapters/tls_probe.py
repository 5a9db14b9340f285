"""Why did the handshake fail? A second, permissive handshake tells.

With our strict client (TLS 1.2 and the four ECO.1.1.3 suites only) a server
that only speaks TLS 1.1, one that shares none of our suites, and one that
wants a client certificate we lack all answer with the same alert
(handshake_failure). To tell the operator which, we look once more, in plain
sight: a handshake that accepts any version and any suite, sends our client
certificate if we have one, verifies nothing and sends nothing after it. What
the server then chooses (its version, its suite), or that it still refuses,
says what is wrong. Only run after a failure; never used for mail.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import warnings
from dataclasses import dataclass

from adapters.tls import ECO_CIPHERS, describe_tls_error, refused_handshake_message
from esp_coord.config import ServerSettings

# Alerts that do not say which of the three it is.
_AMBIGUOUS = ("HANDSHAKE_FAILURE", "NO_CIPHERS", "NO_SHARED_CIPHER", "UNSUPPORTED_PROTOCOL",
              "UNEXPECTED_EOF",  # Dovecot hangs up rather than send an alert
              "PROTOCOL_VERSION", "WRONG_VERSION", "NO_PROTOCOLS_AVAILABLE")


@dataclass(frozen=True)
class Probe:
    version: str | None      # what the server chose, None when it refused again
    cipher: str | None
    error: str | None = None


def _preamble(sock: socket.socket, protocol: str) -> None:
    """The clear-text exchange before STARTTLS (RFC 3207, RFC 3501 6.2.1)."""
    reader = sock.makefile("rb")

    def line() -> bytes:
        data = reader.readline(4096)
        if not data:
            raise OSError("connection closed before STARTTLS")
        return data

    if protocol == "smtp":
        while line()[3:4] == b"-":
            pass
        sock.sendall(b"EHLO probe.invalid\r\n")
        while line()[3:4] == b"-":
            pass
        sock.sendall(b"STARTTLS\r\n")
        if not line().startswith(b"220"):
            raise OSError("STARTTLS refused")
    else:
        line()
        sock.sendall(b"p1 STARTTLS\r\n")
        while not (reply := line()).startswith(b"p1 "):
            pass
        if not reply.startswith(b"p1 OK"):
            raise OSError("STARTTLS refused")


def probe(settings: ServerSettings, protocol: str, *, tls13: bool = False) -> Probe:
    """One permissive handshake with the server of ``settings`` (blocking), up
    to TLS 1.2 (a TLS 1.3 server checks client certificates only after the
    handshake, so a 1.3 probe would hide a refused certificate) or 1.3."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # old versions are the point
        ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    if not tls13:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    if settings.client_cert is not None:
        with contextlib.suppress(ssl.SSLError, OSError):
            ctx.load_cert_chain(str(settings.client_cert),
                                str(settings.client_key) if settings.client_key else None)
    try:
        with socket.create_connection((settings.host, settings.port),
                                      timeout=min(settings.timeout, 10.0)) as raw:
            if settings.security == "starttls":
                _preamble(raw, protocol)
            with ctx.wrap_socket(raw, server_hostname=settings.host) as tls:
                cipher = tls.cipher()
                # A TLS 1.3 server judges our certificate after the handshake:
                # only a reply proves the session was accepted.
                tls.sendall(b"EHLO probe.invalid\r\n" if protocol == "smtp"
                            else b"p2 NOOP\r\n")
                if not tls.recv(1):
                    raise OSError("closed right after the handshake")
                return Probe(tls.version(), cipher[0] if cipher else None)
    except (OSError, ssl.SSLError) as exc:
        return Probe(None, None, str(exc))


def ambiguous(exc: BaseException) -> bool:
    reason = str(getattr(exc, "reason", None) or exc).upper()
    return isinstance(exc, ssl.SSLError) and not isinstance(exc, ssl.SSLCertVerificationError) \
        and any(a in reason for a in _AMBIGUOUS)


def explain(found: Probe, exc: BaseException, settings: ServerSettings,
            found13: Probe | None = None) -> str:
    """What ``exc`` meant, given what a probe up to TLS 1.2 (``found``) and,
    when that failed too, one up to TLS 1.3 (``found13``) saw."""
    where = f"{settings.host}:{settings.port}"
    if found.version is None:
        if found13 is not None and found13.version == "TLSv1.3" \
                and settings.tls_versions == "1.2":
            return (f"The server {where} only offers TLS 1.3, and the configuration allows "
                    "TLS 1.2 only, as ECO.1.1.2 says. Ask the operator, or set "
                    "tls_versions = \"1.2+\".")
        return (describe_tls_error(exc, settings) if isinstance(exc, ssl.SSLError)
                else refused_handshake_message(settings))
    if found.version != "TLSv1.2":
        return (f"The server {where} only offers {found.version.replace('v', ' ')}; MSSanté "
                "requires TLS 1.2 (ECO.1.1.2). Contact the server's operator.")
    if found.cipher not in ECO_CIPHERS:
        return (f"The server {where} shares none of the cipher suites MSSanté allows "
                f"(ECO.1.1.3: {', '.join(ECO_CIPHERS)}); it chose {found.cipher}. "
                "Contact the server's operator.")
    return describe_tls_error(exc, settings)


async def diagnose(exc: BaseException, settings: ServerSettings, protocol: str) -> str:
    """The plain-words reason of a failed handshake, probing the server when
    the alert alone does not tell."""
    if isinstance(exc, ssl.SSLError) and not ambiguous(exc):
        return describe_tls_error(exc, settings)
    found = await asyncio.to_thread(probe, settings, protocol)
    found13 = (await asyncio.to_thread(probe, settings, protocol, tls13=True)
               if found.version is None else None)
    return explain(found, exc, settings, found13)
