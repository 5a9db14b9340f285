"""Is the operator's certificate revoked? CRL and OCSP, checked after the handshake.

MSSanté Référentiel #2 asks the client to check that the operator's
certificate is not revoked, through the CRLs or an OCSP responder, whatever
authority issued it (ECO.1.1.6), and to keep the last CRL that has not
expired so that a failed download does not break the connection (ECO.1.1.7).

OpenSSL can only use CRLs loaded before the handshake, and the CRL to load is
named by the certificate the server presents. So the check runs right after
the handshake, before any credential is sent: the server's certificate (the
handshake already verified its chain and name) is looked up in its issuer's
CRL, downloaded once and kept on disk while valid, and in its OCSP responder
when it names one. Every failure is one plain sentence for the operator.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import logging
import os
import ssl
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from esp_coord.config import ServerSettings

log = logging.getLogger(__name__)

# A national authority's CRL is a few megabytes; more is not a CRL.
MAX_CRL_BYTES = 20 * 1024 * 1024
MAX_OCSP_BYTES = 64 * 1024
# A CRL still valid is downloaded again after this long: revocations are
# published before the nextUpdate of the CRL that does not list them yet.
CRL_REFRESH = dt.timedelta(hours=6)

# (url, body or None for GET, content type, limit) -> bytes; raises OSError.
Fetch = Callable[[str, bytes | None, str, int], Awaitable[bytes]]


class RevocationError(Exception):
    """The certificate is revoked, or its status cannot be established."""


async def http_fetch(url: str, body: bytes | None, content_type: str, limit: int,
                     timeout: float = 15.0) -> bytes:
    def get() -> bytes:
        request = urllib.request.Request(url, data=body, headers=(
            {"Content-Type": content_type} if body is not None else {}))
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            data: bytes = response.read(limit + 1)
        if len(data) > limit:
            raise OSError(f"more than {limit} bytes")
        return data

    if not url.lower().startswith(("http://", "https://")):
        raise OSError("not an http URL")
    return await asyncio.to_thread(get)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _uris(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    """(CRL URLs, OCSP URLs) the certificate names."""
    crls: list[str] = []
    responders: list[str] = []
    with contextlib.suppress(x509.ExtensionNotFound):
        for point in cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value:
            crls += [n.value for n in point.full_name or ()
                     if isinstance(n, x509.UniformResourceIdentifier)]
    with contextlib.suppress(x509.ExtensionNotFound):
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess)
        for access in aia.value:
            if access.access_method == AuthorityInformationAccessOID.OCSP and \
                    isinstance(access.access_location, x509.UniformResourceIdentifier):
                responders.append(access.access_location.value)
    http = ("http://", "https://")
    return ([u for u in crls if u.lower().startswith(http)],
            [u for u in responders if u.lower().startswith(http)])


def _common_name(name: x509.Name) -> str:
    for attribute in name:
        if attribute.oid == x509.NameOID.COMMON_NAME:
            return str(attribute.value)
    return name.rfc4514_string()


@dataclass
class _KeptCrl:
    crl: x509.CertificateRevocationList
    fetched: dt.datetime


class RevocationChecker:
    """Checks servers' certificates for one ``ServerSettings`` (its CA file,
    its policy); CRLs are kept in memory and in ``settings.crl_cache``."""

    def __init__(self, settings: ServerSettings, fetch: Fetch | None = None,
                 clock: Callable[[], dt.datetime] = _now) -> None:
        self._settings = settings
        self._fetch = fetch or self._default_fetch
        self._clock = clock
        self._kept: dict[str, _KeptCrl] = {}
        self._issuers: list[x509.Certificate] | None = None

    async def _default_fetch(self, url: str, body: bytes | None, content_type: str,
                             limit: int) -> bytes:
        return await http_fetch(url, body, content_type, limit, timeout=self._settings.timeout)

    @property
    def _where(self) -> str:
        return f"{self._settings.host}:{self._settings.port}"

    async def check_connection(self, ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> None:
        if ssl_object is None:
            raise RevocationError(f"The connection to {self._where} is not encrypted; its "
                                  "certificate cannot be checked.")
        der = ssl_object.getpeercert(binary_form=True)
        if not der:
            raise RevocationError(f"The server {self._where} presented no certificate.")
        await self.check(der)

    async def check(self, der: bytes) -> None:
        cert = x509.load_der_x509_certificate(der)
        crl_urls, ocsp_urls = _uris(cert)
        if not crl_urls and not ocsp_urls:
            if self._settings.revocation == "required":
                raise RevocationError(
                    f"The certificate of {self._where} names neither a revocation list (CRL) "
                    "nor an OCSP responder, so we cannot check that it is not revoked, as "
                    "MSSanté requires (ECO.1.1.6). Contact the server's operator, or set "
                    "revocation = \"when-named\" for a test server.")
            return
        issuer = self._issuer_of(cert)
        if ocsp_urls:
            try:
                if await self._ocsp_good(cert, issuer, ocsp_urls[0]):
                    return
            except RevocationError:
                raise
            except Exception as exc:  # noqa: BLE001 - the CRL is the fallback
                log.warning("OCSP responder %s did not answer usefully (%s); using the CRL",
                            ocsp_urls[0], type(exc).__name__)
                if not crl_urls:
                    raise RevocationError(
                        f"The OCSP responder {ocsp_urls[0]} named by the certificate of "
                        f"{self._where} did not answer ({exc}), and the certificate names no "
                        "CRL: its revocation cannot be checked.") from exc
        failures: list[str] = []
        for url in crl_urls:
            try:
                crl = await self._crl(url, issuer)
            except RevocationError as exc:
                failures.append(str(exc))
                continue
            revoked = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
            if revoked is not None:
                raise RevocationError(
                    f"The certificate of {self._where} has been revoked (on "
                    f"{revoked.revocation_date_utc:%Y-%m-%d}, according to the CRL of "
                    f"{_common_name(issuer.subject)}). Contact the server's operator.")
            return
        raise RevocationError(" ".join(failures))

    # --- issuer -----------------------------------------------------------------

    def _issuer_of(self, cert: x509.Certificate) -> x509.Certificate:
        if self._issuers is None:
            ca_file = self._settings.ca_file
            self._issuers = (x509.load_pem_x509_certificates(ca_file.read_bytes())
                             if ca_file is not None else [])
        for candidate in self._issuers:
            if candidate.subject != cert.issuer:
                continue
            try:
                cert.verify_directly_issued_by(candidate)
            except (ValueError, TypeError, InvalidSignature):
                continue
            return candidate
        raise RevocationError(
            f"The authority that issued the certificate of {self._where} "
            f"({_common_name(cert.issuer)}) is not in the CA file, so its revocation list "
            "cannot be verified. Put the operator's whole IGC-Santé chain in ca_file.")

    # --- CRL --------------------------------------------------------------------

    def _cache_path(self, url: str) -> Path | None:
        folder = self._settings.crl_cache
        if folder is None:
            return None
        return folder / (hashlib.sha256(url.encode()).hexdigest()[:32] + ".crl")

    def _valid(self, crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> bool:
        key = issuer.public_key()
        if crl.issuer != issuer.subject or not isinstance(key, rsa.RSAPublicKey) \
                or not crl.is_signature_valid(key):
            return False  # IGC-Santé keys are RSA
        next_update = crl.next_update_utc
        return next_update is None or next_update > self._clock()

    def _from_disk(self, url: str, issuer: x509.Certificate) -> _KeptCrl | None:
        path = self._cache_path(url)
        if path is None or not path.is_file():
            return None
        try:
            crl = x509.load_der_x509_crl(path.read_bytes())
        except (OSError, ValueError):
            return None
        if not self._valid(crl, issuer):
            return None
        return _KeptCrl(crl, dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC))

    def _keep(self, url: str, crl: x509.CertificateRevocationList) -> None:
        self._kept[url] = _KeptCrl(crl, self._clock())
        path = self._cache_path(url)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(crl.public_bytes(serialization.Encoding.DER))
            os.replace(tmp, path)
        except OSError as exc:  # the memory copy still serves this process
            log.warning("cannot keep the CRL of %s on disk: %s", url, exc.strerror)

    async def _crl(self, url: str, issuer: x509.Certificate) -> x509.CertificateRevocationList:
        kept = self._kept.get(url) or self._from_disk(url, issuer)
        if kept is not None and self._valid(kept.crl, issuer) \
                and self._clock() - kept.fetched < CRL_REFRESH:
            return kept.crl
        try:
            data = await self._fetch(url, None, "", MAX_CRL_BYTES)
            crl = (x509.load_pem_x509_crl(data) if data.lstrip().startswith(b"-----")
                   else x509.load_der_x509_crl(data))
            if not self._valid(crl, issuer):
                raise ValueError("not signed by the issuing authority, or expired")
        except Exception as exc:  # noqa: BLE001 - ECO.1.1.7: fall back on the kept CRL
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            if kept is not None and self._valid(kept.crl, issuer):
                log.warning("CRL %s could not be refreshed (%s); using the one kept, valid "
                            "until %s", url, reason, kept.crl.next_update_utc)
                return kept.crl
            raise RevocationError(
                f"The revocation list (CRL) of {_common_name(issuer.subject)} at {url} could "
                f"not be obtained ({reason}) and no valid copy is kept, so the certificate of "
                f"{self._where} cannot be checked.") from exc
        self._keep(url, crl)
        return crl

    # --- OCSP -------------------------------------------------------------------

    async def _ocsp_good(self, cert: x509.Certificate, issuer: x509.Certificate,
                         url: str) -> bool:
        """True when the responder vouches for the certificate; raises when it
        says revoked; False (or an exception) when it cannot tell."""
        request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1()).build()
        data = await self._fetch(url, request.public_bytes(serialization.Encoding.DER),
                                 "application/ocsp-request", MAX_OCSP_BYTES)
        response = ocsp.load_der_ocsp_response(data)
        if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
            return False
        if response.serial_number != cert.serial_number:
            return False
        signer = self._ocsp_signer(response, issuer)
        if signer is None:
            return False
        now = self._clock()
        if response.next_update_utc is not None and response.next_update_utc < now:
            return False
        if response.certificate_status == ocsp.OCSPCertStatus.REVOKED:
            when = response.revocation_time_utc
            raise RevocationError(
                f"The certificate of {self._where} has been revoked"
                f"{f' (on {when:%Y-%m-%d})' if when else ''}, according to the OCSP responder "
                f"{url}. Contact the server's operator.")
        return response.certificate_status == ocsp.OCSPCertStatus.GOOD

    @staticmethod
    def _ocsp_signer(response: ocsp.OCSPResponse,
                     issuer: x509.Certificate) -> x509.Certificate | None:
        """The certificate whose key signed the response: the issuer itself, or a
        responder it delegated (RFC 6960 4.2.2.2). None when neither verifies."""
        candidates = [issuer]
        for delegated in response.certificates:
            try:
                delegated.verify_directly_issued_by(issuer)
                usage = delegated.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
            except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
                continue
            if ExtendedKeyUsageOID.OCSP_SIGNING in usage.value:
                candidates.append(delegated)
        algorithm = response.signature_hash_algorithm
        for candidate in candidates:
            key = candidate.public_key()
            if not isinstance(key, rsa.RSAPublicKey) or algorithm is None:
                continue  # IGC-Santé keys are RSA
            try:
                key.verify(response.signature, response.tbs_response_bytes,
                           padding.PKCS1v15(), algorithm)
            except InvalidSignature:
                continue
            return candidate
        return None
