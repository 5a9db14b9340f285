"""TLS material made on the fly for the test servers (trustme)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class TLSMaterial:
    """Files of one test PKI: a CA, a server certificate and a client certificate."""

    ca_file: Path            # CA certificate the clients trust
    server_cert: Path        # server chain (PEM)
    server_key: Path
    client_cert: Path        # client certificate, signed by the same CA
    client_key: Path
    expired_cert: Path       # server chain already expired, same CA
    expired_key: Path
    other_ca_file: Path      # a CA nobody's certificate is signed by


def make_tls_material(folder: Path, *, hosts: tuple[str, ...] = ("127.0.0.1", "127.0.0.2",
                                                                  "localhost")) -> TLSMaterial:
    folder.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    server = ca.issue_cert(*hosts)
    client = ca.issue_cert("coordination@esp-valdelorge.mssante.test",
                           common_name="esp-coord test client")
    now = dt.datetime.now(dt.UTC)
    expired = ca.issue_cert(*hosts, not_before=now - dt.timedelta(days=30),
                            not_after=now - dt.timedelta(days=1))
    other = trustme.CA()

    def write(name: str, blob: trustme.Blob) -> Path:
        p = folder / name
        blob.write_to_path(str(p))
        return p

    def write_chain(name: str, cert: trustme.LeafCert) -> Path:
        p = folder / name
        p.write_bytes(b"".join(b.bytes() for b in cert.cert_chain_pems))
        return p

    return TLSMaterial(
        ca_file=write("ca.pem", ca.cert_pem),
        server_cert=write_chain("server.pem", server),
        server_key=write("server.key", server.private_key_pem),
        client_cert=write_chain("client.pem", client),
        client_key=write("client.key", client.private_key_pem),
        expired_cert=write_chain("expired.pem", expired),
        expired_key=write("expired.key", expired.private_key_pem),
        other_ca_file=write("other-ca.pem", other.cert_pem),
    )
