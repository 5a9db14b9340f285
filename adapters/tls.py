"""TLS for the mail adapters: one strict client context, and errors in plain words.

Certificate verification is never optional: a secure health mailbox reached
through an unverified connection is not a secure health mailbox. The only
knobs are which CA to trust and which client certificate to present.
"""

from __future__ import annotations

import ssl
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509

from esp_coord.config import ServerSettings

# MSSanté Référentiel #2, ECO.1.1.3: the only suites a client may negotiate
# (OpenSSL names of 0xC030, 0xC02F, 0xC028, 0xC027).
ECO_CIPHERS = ("ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-AES128-GCM-SHA256",
               "ECDHE-RSA-AES256-SHA384", "ECDHE-RSA-AES128-SHA256")


def client_context(settings: ServerSettings) -> ssl.SSLContext:
    """A verifying client context: the TLS versions of ``tls_versions`` (1.2
    only by default, ECO.1.1.2), the ECO.1.1.3 suites only, the configured CA
    (else the system's), the client certificate when configured."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED + check_hostname
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.check_hostname = True
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if settings.tls_versions == "1.2":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    # TLS 1.3 suites are not chosen by set_ciphers: with "1.2+" they stay
    # OpenSSL's (all AEAD), the text predating TLS 1.3.
    ctx.set_ciphers(":".join(ECO_CIPHERS))
    if settings.ca_file is not None:
        # Only the configured CA: the system store must not widen the trust.
        ctx.load_verify_locations(cafile=str(settings.ca_file))
    else:
        ctx.load_default_certs(ssl.Purpose.SERVER_AUTH)
    if settings.client_cert is not None:
        ctx.load_cert_chain(str(settings.client_cert),
                            str(settings.client_key) if settings.client_key else None)
        _check_validity(settings.client_cert)
    return ctx


class ClientCertificateError(ssl.SSLError):
    """Our own client certificate cannot be used (expired, not yet valid)."""


def _check_validity(path: Path) -> None:
    # A server may accept an expired certificate at the TLS level and refuse
    # the login later, in its own words: say it first, and plainly.
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    now = datetime.now(UTC)
    if cert.not_valid_after_utc < now:
        raise ClientCertificateError(
            f"Our client certificate {path} expired on {cert.not_valid_after_utc:%Y-%m-%d}. "
            "Renew the organisation certificate (IGC-Santé) and update client_cert and "
            "client_key.")
    if cert.not_valid_before_utc > now:
        raise ClientCertificateError(
            f"Our client certificate {path} is only valid from "
            f"{cert.not_valid_before_utc:%Y-%m-%d}. Check this computer's clock.")


def _where(settings: ServerSettings) -> str:
    return f"{settings.host}:{settings.port}"


def describe_tls_error(exc: BaseException, settings: ServerSettings) -> str:
    """A message a coordinator can act on, for a TLS failure talking to ``settings``."""
    if isinstance(exc, ClientCertificateError):
        return str(exc)
    where = _where(settings)
    ca_hint = (f"the CA file {settings.ca_file}" if settings.ca_file
               else "the system's trusted certificate authorities")
    if isinstance(exc, ssl.SSLCertVerificationError):
        code = exc.verify_code
        msg = (exc.verify_message or str(exc)).lower()
        if code == 10 or "expired" in msg:
            return (f"The server {where} presented an expired certificate. "
                    "Its operator must renew it; until then the connection is refused.")
        if code == 9 or "not yet valid" in msg:
            return (f"The server {where} presented a certificate that is not valid yet. "
                    "Check this computer's clock, then the server's certificate.")
        if "hostname mismatch" in msg or "ip address mismatch" in msg or code == 62:
            return (f"The certificate of {where} was not issued for the name "
                    f"'{settings.host}'. Check the server name in the configuration.")
        if code in (18, 19, 20, 21, 2) or "self-signed" in msg or "unable to get" in msg:
            return (f"The certificate of {where} is not signed by an authority we trust "
                    f"({ca_hint}). Check ca_file in the configuration, or the server's "
                    "certificate chain.")
        if code == 23 or "revoked" in msg:
            return f"The certificate of {where} has been revoked. Contact the server's operator."
        return f"The certificate of {where} could not be verified: {exc.verify_message or exc}."
    if isinstance(exc, ssl.SSLError):
        reason = (exc.reason or str(exc)).upper()
        if "VERSION" in reason or "PROTOCOL" in reason:
            return (f"The server {where} only offers an old TLS version; MSSanté requires "
                    "TLS 1.2 (ECO.1.1.2). Contact the server's operator.")
        if "CERTIFICATE_EXPIRED" in reason:
            return (f"The server {where} refused our client certificate because it has "
                    "expired. Renew the organisation certificate (client_cert).")
        if "CERTIFICATE_REQUIRED" in reason or "HANDSHAKE_FAILURE" in reason \
                or "BAD_CERTIFICATE" in reason or "UNKNOWN_CA" in reason:
            return refused_handshake_message(settings)
        if "PEM" in reason or "KEY_VALUES_MISMATCH" in reason:
            return ("The client certificate or key file cannot be used (unreadable, or the "
                    "key does not match the certificate). Check client_cert and client_key.")
        return f"The TLS connection to {where} failed: {exc.reason or exc}."
    if isinstance(exc, FileNotFoundError):
        return f"A TLS file is missing: {exc.filename}. Check ca_file, client_cert and client_key."
    return f"The TLS connection to {where} failed: {exc}."


def refused_handshake_message(settings: ServerSettings) -> str:
    return (f"The server {_where(settings)} refused the TLS connection, probably because it "
            "requires a client certificate we did not present or does not trust. "
            "Check client_cert and client_key in the configuration.")


def no_starttls_message(settings: ServerSettings) -> str:
    return (f"The server {_where(settings)} does not offer STARTTLS, so the connection "
            "cannot be secured. Use its implicit-TLS port (security = \"implicit\") or "
            "contact the server's operator; we never fall back to an unencrypted connection.")
