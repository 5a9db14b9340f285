"""Where a test PKI publishes revocation: an HTTP server for its CRL, and
OpenSSL's own OCSP responder (``openssl ocsp``), both on loopback.

The CRL server can be made to fail (``down``), to prove that the last valid
CRL kept on disk keeps the service connected (ECO.1.1.7).
"""

from __future__ import annotations

import http.server
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from tests.servers.pki import Authority, Leaf

OPENSSL = shutil.which("openssl")


class CrlServer:
    """Serves ``/ca.crl`` (the authority's current CRL, made per request)."""

    def __init__(self, authority: Authority) -> None:
        self.authority = authority
        self.down = False
        self.requests = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                outer.requests += 1
                if outer.down or self.path != "/ca.crl":
                    self.send_error(503 if outer.down else 404)
                    return
                body = outer.authority.crl()
                self.send_response(200)
                self.send_header("Content-Type", "application/pkix-crl")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/ca.crl"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> CrlServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def _index_line(leaf: Leaf, revoked: bool) -> str:
    expiry = leaf.cert.not_valid_after_utc.strftime("%y%m%d%H%M%SZ")
    when = time.strftime("%y%m%d%H%M%SZ", time.gmtime(time.time() - 60)) if revoked else ""
    subject = "/" + "/".join(a.rfc4514_string() for a in reversed(leaf.cert.subject.rdns))
    return f"{'R' if revoked else 'V'}\t{expiry}\t{when}\t{leaf.serial:X}\tunknown\t{subject}\n"


class OcspResponder:
    """``openssl ocsp`` answering for ``leaves`` of ``authority`` (signed with
    the authority's own key), until the block ends."""

    def __init__(self, folder: Path, authority: Authority, leaves: list[Leaf]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.authority = authority
        self.leaves = leaves
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> OcspResponder:
        if OPENSSL is None:
            raise RuntimeError("openssl is not installed")
        index = self.folder / "index.txt"
        index.write_text("".join(_index_line(leaf, leaf.serial in self.authority.revoked)
                                 for leaf in self.leaves), encoding="utf-8")
        ca = self.folder / "ocsp-ca.pem"
        ca.write_bytes(self.authority.cert.public_bytes(serialization.Encoding.PEM))
        key = self.authority.write_key(self.folder / "ocsp-ca.key")
        self._proc = subprocess.Popen(
            [OPENSSL, "ocsp", "-index", str(index), "-port", str(self.port),
             "-rsigner", str(ca), "-rkey", str(key), "-CA", str(ca), "-ndays", "1"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        # Ready when it says it listens. (An empty connection to test the port
        # would hang it: it serves one connection at a time, without a timeout.)
        assert self._proc.stdout is not None
        first = self._proc.stdout.readline()
        if not first.startswith(b"ACCEPT"):
            self._proc.kill()
            raise RuntimeError(f"openssl ocsp did not start: {first!r}")
        threading.Thread(target=self._proc.stdout.read, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
