"""A test PKI shaped like IGC-Santé: a root, an issuing authority, RSA leaves.

IGC-Santé certificates are RSA (the ECO.1.1.3 suites are all ECDHE-RSA) and
name the issuing authority's CRL (CRL distribution points) and, for some,
an OCSP responder (authority information access). The leaves made here can
carry both, pointing at the local HTTP server of ``tests.servers.revocation``.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

_KEY_SIZE = 2048


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=_KEY_SIZE)


def _name(common_name: str, organisation: str = "ESP-COORD TEST PKI") -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem_key(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@dataclass
class Leaf:
    cert: x509.Certificate
    key: rsa.RSAPrivateKey
    chain: list[x509.Certificate]  # the issuing authorities, leaf's issuer first

    def write(self, folder: Path, stem: str) -> tuple[Path, Path]:
        """``stem.pem`` (leaf then its issuers) and ``stem.key``."""
        cert_path, key_path = folder / f"{stem}.pem", folder / f"{stem}.key"
        cert_path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM)
                                       for c in [self.cert, *self.chain]))
        key_path.write_bytes(_pem_key(self.key))
        key_path.chmod(0o600)
        return cert_path, key_path

    @property
    def serial(self) -> int:
        return self.cert.serial_number


@dataclass
class Authority:
    """A certificate authority that issues leaves and signs its own CRL."""

    cert: x509.Certificate
    key: rsa.RSAPrivateKey
    parents: list[x509.Certificate] = field(default_factory=list)
    revoked: dict[int, dt.datetime] = field(default_factory=dict)

    @classmethod
    def root(cls, common_name: str = "AC RACINE TEST") -> Authority:
        key = _key()
        name = _name(common_name)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(_now() - dt.timedelta(days=1))
                .not_valid_after(_now() + dt.timedelta(days=3650))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                             False, False), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                               critical=False)
                .sign(key, hashes.SHA256()))
        return cls(cert, key)

    def subordinate(self, common_name: str) -> Authority:
        key = _key()
        cert = (x509.CertificateBuilder().subject_name(_name(common_name))
                .issuer_name(self.cert.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(_now() - dt.timedelta(days=1))
                .not_valid_after(_now() + dt.timedelta(days=1825))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                             False, False), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                               critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    self.key.public_key()), critical=False)
                .sign(self.key, hashes.SHA256()))
        return Authority(cert, key, [self.cert, *self.parents])

    def issue(self, *hosts: str, common_name: str | None = None, client: bool = False,
              crl_url: str | None = None, ocsp_url: str | None = None,
              not_before: dt.datetime | None = None,
              not_after: dt.datetime | None = None) -> Leaf:
        key = _key()
        names: list[x509.GeneralName] = []
        for h in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(h)))
            except ValueError:
                names.append(x509.DNSName(h))
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        builder = (x509.CertificateBuilder()
                   .subject_name(_name(common_name or (hosts[0] if hosts else "leaf"),
                                       "ESP-COORD TEST ORGANISATION"))
                   .issuer_name(self.cert.subject).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(not_before or _now() - dt.timedelta(days=1))
                   .not_valid_after(not_after or _now() + dt.timedelta(days=365))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None),
                                  critical=True)
                   .add_extension(x509.KeyUsage(True, False, True, False, False, False, False,
                                                False, False), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                       self.key.public_key()), critical=False))
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        if crl_url:
            builder = builder.add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
                [x509.UniformResourceIdentifier(crl_url)], None, None, None)]), critical=False)
        if ocsp_url:
            builder = builder.add_extension(x509.AuthorityInformationAccess([
                x509.AccessDescription(AuthorityInformationAccessOID.OCSP,
                                       x509.UniformResourceIdentifier(ocsp_url))]),
                critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        return Leaf(cert, key, [self.cert, *self.parents])

    def revoke(self, leaf: Leaf) -> None:
        self.revoked[leaf.serial] = _now() - dt.timedelta(minutes=1)

    def crl(self, *, next_update: dt.timedelta = dt.timedelta(days=7),
            last_update: dt.datetime | None = None) -> bytes:
        """This authority's CRL, DER-encoded, listing what was revoked."""
        last = last_update or _now() - dt.timedelta(minutes=5)
        builder = (x509.CertificateRevocationListBuilder().issuer_name(self.cert.subject)
                   .last_update(last).next_update(last + next_update))
        for serial, when in self.revoked.items():
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when)
                .build())
        return builder.sign(self.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    def write(self, path: Path) -> Path:
        """This authority and its parents, PEM: what a client's ``ca_file`` holds."""
        path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM)
                                  for c in [self.cert, *self.parents]))
        return path

    def write_key(self, path: Path) -> Path:
        path.write_bytes(_pem_key(self.key))
        path.chmod(0o600)
        return path
