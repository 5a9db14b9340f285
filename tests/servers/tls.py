"""TLS material made on the fly for the test servers (``tests.servers.pki``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from tests.servers.pki import Authority


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
    authority: Authority     # the issuing authority, to make more certificates


def make_tls_material(folder: Path, *, hosts: tuple[str, ...] = ("127.0.0.1", "127.0.0.2",
                                                                  "localhost")) -> TLSMaterial:
    folder.mkdir(parents=True, exist_ok=True)
    issuing = Authority.root().subordinate("AC TEST ORGANISATIONS")
    now = dt.datetime.now(dt.UTC)
    server = issuing.issue(*hosts)
    client = issuing.issue("coordination@esp-valdelorge.mssante.test",
                           common_name="esp-coord test client", client=True)
    expired = issuing.issue(*hosts, not_before=now - dt.timedelta(days=30),
                            not_after=now - dt.timedelta(days=1))
    server_cert, server_key = server.write(folder, "server")
    client_cert, client_key = client.write(folder, "client")
    expired_cert, expired_key = expired.write(folder, "expired")
    return TLSMaterial(
        ca_file=issuing.write(folder / "ca.pem"),
        server_cert=server_cert, server_key=server_key,
        client_cert=client_cert, client_key=client_key,
        expired_cert=expired_cert, expired_key=expired_key,
        other_ca_file=Authority.root("AC INCONNUE").write(folder / "other-ca.pem"),
        authority=issuing,
    )
