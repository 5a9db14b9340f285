"""An IGC-Santé-like PKI whose certificates name a real CRL server (and, for
some, an OCSP responder), for the tests against operator-like servers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.servers.dovecot import CERT_USER
from tests.servers.pki import Authority, Leaf
from tests.servers.revocation import CrlServer, OcspResponder
from tests.servers.tls import TLSMaterial

HOSTS = ("127.0.0.1", "127.0.0.2", "localhost")


@dataclass
class OperatorPki:
    material: TLSMaterial        # what the servers and the client use by default
    crl: CrlServer
    ocsp: OcspResponder
    revoked_cert: Path           # a server certificate listed in the CRL
    revoked_key: Path
    ocsp_good_cert: Path         # server certificates naming the OCSP responder
    ocsp_good_key: Path
    ocsp_revoked_cert: Path
    ocsp_revoked_key: Path
    no_crl_cert: Path            # a server certificate naming no revocation source
    no_crl_key: Path
    expired_client_cert: Path
    expired_client_key: Path
    stranger_client_cert: Path   # a valid certificate no mailbox belongs to
    stranger_client_key: Path


@contextmanager
def operator_pki(folder: Path) -> Iterator[OperatorPki]:
    folder.mkdir(parents=True, exist_ok=True)
    issuing = Authority.root("AC RACINE IGC-SANTE TEST").subordinate(
        "AC IGC-SANTE TEST ORGANISATIONS")
    now = dt.datetime.now(dt.UTC)
    with ExitStack() as stack:
        crl = stack.enter_context(CrlServer(issuing))
        server = issuing.issue(*HOSTS, crl_url=crl.url)
        revoked = issuing.issue(*HOSTS, crl_url=crl.url)
        issuing.revoke(revoked)
        ocsp_leaves: list[Leaf] = []
        responder = OcspResponder(folder / "ocsp", issuing, ocsp_leaves)
        good = issuing.issue(*HOSTS, crl_url=crl.url, ocsp_url=responder.url)
        bad = issuing.issue(*HOSTS, crl_url=crl.url, ocsp_url=responder.url)
        issuing.revoke(bad)
        ocsp_leaves += [good, bad]
        stack.enter_context(responder)
        bare = issuing.issue(*HOSTS)
        client = issuing.issue(common_name=CERT_USER, client=True)
        expired_client = issuing.issue(common_name=CERT_USER, client=True,
                                       not_before=now - dt.timedelta(days=30),
                                       not_after=now - dt.timedelta(days=1))
        stranger = issuing.issue(common_name="inconnu", client=True)
        expired = issuing.issue(*HOSTS, crl_url=crl.url, not_before=now - dt.timedelta(days=30),
                                not_after=now - dt.timedelta(days=1))

        def write(leaf: Leaf, stem: str) -> tuple[Path, Path]:
            return leaf.write(folder, stem)

        server_cert, server_key = write(server, "server")
        client_cert, client_key = write(client, "client")
        expired_cert, expired_key = write(expired, "expired")
        material = TLSMaterial(
            ca_file=issuing.write(folder / "igc-sante-chain.pem"), server_cert=server_cert,
            server_key=server_key, client_cert=client_cert, client_key=client_key,
            expired_cert=expired_cert, expired_key=expired_key,
            other_ca_file=Authority.root("AC INCONNUE").write(folder / "other-ca.pem"),
            authority=issuing)
        yield OperatorPki(material, crl, responder,
                          *write(revoked, "revoked"), *write(good, "ocsp-good"),
                          *write(bad, "ocsp-revoked"), *write(bare, "no-crl"),
                          *write(expired_client, "expired-client"),
                          *write(stranger, "stranger-client"))
