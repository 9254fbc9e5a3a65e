"""Test certificates for a TLS RabbitMQ listener: a CA, a server cert and a client cert (openssl).

Recipe and measured client behaviour: docs/wire.md §10.4.
"""

from __future__ import annotations

import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

from rpcgen.runtime.testing.management import BrokerError

__all__ = ["TlsFiles", "make_tls_files"]


@dataclass(frozen=True)
class TlsFiles:
    """The CA, server and client certificates a TLS node was started with (PEM files)."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    def client_context(self, *, client_cert: bool = False) -> ssl.SSLContext:
        """An ``ssl.SSLContext`` that trusts the test CA (and presents the client cert if asked)."""
        ctx = ssl.create_default_context(cafile=str(self.ca))
        if client_cert:
            ctx.load_cert_chain(str(self.client_cert), str(self.client_key))
        return ctx


def make_tls_files(folder: Path) -> TlsFiles:
    """Generate a CA, a server cert (SAN localhost, 127.0.0.1) and a client cert (CN guest)."""
    folder.mkdir(parents=True)

    def openssl(*args: str) -> None:
        done = subprocess.run(
            ["openssl", *args], cwd=folder, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise BrokerError(f"openssl {args[0]} failed: {done.stderr.strip()}")

    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=rpcgen-test-ca",
    )
    exts = {
        "server": "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        "client": "extendedKeyUsage=clientAuth\n",
    }
    for who, cn in (("server", "localhost"), ("client", "guest")):
        (folder / f"{who}.ext").write_text(exts[who] + "basicConstraints=CA:FALSE\n")
        key, csr, pem = f"{who}.key", f"{who}.csr", f"{who}.pem"
        openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            key,
            "-out",
            csr,
            "-subj",
            f"/CN={cn}",
        )
        openssl(
            "x509",
            "-req",
            "-in",
            csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            pem,
            "-days",
            "2",
            "-extfile",
            f"{who}.ext",
        )
    return TlsFiles(
        ca=folder / "ca.pem",
        server_cert=folder / "server.pem",
        server_key=folder / "server.key",
        client_cert=folder / "client.pem",
        client_key=folder / "client.key",
    )
