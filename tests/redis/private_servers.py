"""Servers of a test's own, for provoking real errors: passwords, ACL users,
replicas (READONLY), a slow load (LOADING), memory limits (OOM), TLS.

Valkey (the embedded binary) by default; TLS needs the system's redis-server,
which links OpenSSL.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis

from tests.fault.helpers import free_port

SYSTEM_REDIS = "/usr/bin/redis-server"


@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    cert: Path
    key: Path
    other_ca: Path  # a CA that did not sign the server's certificate


class PrivateServer:
    """One server process on a free port, data in `folder`, killed at the end."""

    def __init__(
        self,
        folder: Path,
        *args: str,
        binary: str | None = None,
        tls: TlsFiles | None = None,
        password: str | None = None,
    ) -> None:
        if binary is None:
            from chronoq.redis.embedded import server_binary

            binary = str(server_binary())
        self.binary = binary
        self.folder = folder
        self.args = list(args)
        self.tls = tls
        self.password = password
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        scheme = "rediss" if self.tls else "redis"
        auth = f":{self.password}@" if self.password else ""
        return f"{scheme}://{auth}127.0.0.1:{self.port}/0"

    @property
    def label(self) -> str:
        return f"127.0.0.1:{self.port}"

    def admin(self) -> redis.Redis:
        """A sync client with full rights (the default user)."""
        options: dict[str, object] = {"socket_timeout": 10}
        if self.tls:
            options["ssl_ca_certs"] = str(self.tls.ca)
        return redis.Redis.from_url(self.url, decode_responses=True, **options)  # type: ignore[arg-type]

    def start(self, *extra: str, ready: bool = True) -> None:
        """Start it; wait until it answers (`ready`) or merely accepts connections."""
        args = [self.binary, "--bind", "127.0.0.1", "--dir", str(self.folder)]
        args += ["--save", "", "--appendonly", "yes", "--appendfsync", "always"]
        args += ["--maxmemory-policy", "noeviction"]
        if self.tls:
            args += ["--port", "0", "--tls-port", str(self.port)]
            args += ["--tls-cert-file", str(self.tls.cert), "--tls-key-file", str(self.tls.key)]
            args += ["--tls-ca-cert-file", str(self.tls.ca), "--tls-auth-clients", "no"]
        else:
            args += ["--port", str(self.port)]
        if self.password:
            args += ["--requirepass", self.password]
        args += [*self.args, *extra]
        log = open(self.folder / "server.log", "ab")  # noqa: SIM115 (inherited by the child)
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self._wait_up(ready)

    def _wait_up(self, ready: bool) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            client = self.admin()
            try:
                client.ping()
                return
            except redis.BusyLoadingError:
                if not ready:
                    return
            except redis.ConnectionError:
                pass
            finally:
                client.close()
            time.sleep(0.02)
        raise AssertionError(f"private server did not start: {self.url}\n{self.server_log()}")

    def server_log(self) -> str:
        path = self.folder / "server.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@contextmanager
def private_servers() -> Iterator[list[PrivateServer]]:
    """Collects the servers a test starts; kills them and removes their data at the end."""
    started: list[PrivateServer] = []
    try:
        yield started
    finally:
        for server in started:
            server.kill()
            shutil.rmtree(server.folder, ignore_errors=True)


def new_server(started: list[PrivateServer], *args: str, **options: object) -> PrivateServer:
    """A started private server, registered for cleanup."""
    folder = Path(tempfile.mkdtemp(prefix="cq-priv-"))
    server = PrivateServer(folder, *args, **options)  # type: ignore[arg-type]
    started.append(server)
    server.start()
    return server


def make_tls_files(folder: Path) -> TlsFiles:
    """A CA, a server certificate it signed for 127.0.0.1, and an unrelated CA."""
    files = TlsFiles(
        folder / "ca.crt", folder / "server.crt", folder / "server.key", folder / "other.crt"
    )
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"]
    _openssl("req", "-x509", *ec, "-keyout", str(folder / "ca.key"), "-out", str(files.ca),
             "-subj", "/CN=chronoq test CA")  # fmt: skip
    _openssl("req", *ec, "-keyout", str(files.key), "-out", str(folder / "server.csr"),
             "-subj", "/CN=127.0.0.1")  # fmt: skip
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", str(folder / "server.csr"), "-CA", str(files.ca),
             "-CAkey", str(folder / "ca.key"), "-CAcreateserial", "-out", str(files.cert),
             "-days", "2", "-extfile", str(folder / "san.ext"))  # fmt: skip
    _openssl("req", "-x509", *ec, "-keyout", str(folder / "other.key"), "-out",
             str(files.other_ca), "-subj", "/CN=another CA")  # fmt: skip
    return files


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=30)


def fill(client: redis.Redis, keys: int, size: int = 100) -> None:
    """Write `keys` filler keys in one script call (for a slow load)."""
    client.eval(
        "for i = 1, tonumber(ARGV[1]) do redis.call('SET', 'fill:' .. i, "
        "string.rep('x', tonumber(ARGV[2]))) end return 1",
        0,
        keys,
        size,
    )


def rewrite_aof(client: redis.Redis) -> None:
    """Compact the AOF into an RDB base file (a restart then loads it key by key)."""
    client.bgrewriteaof()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        info = client.info("persistence")
        if not info["aof_rewrite_in_progress"] and not info["aof_rewrite_scheduled"]:
            return
        time.sleep(0.05)
    raise AssertionError("AOF rewrite did not finish")


def slow_load_args(delay_us: int = 100) -> Sequence[str]:
    """Make a restart load slowly and answer LOADING meanwhile (hidden test configs)."""
    return ["--key-load-delay", str(delay_us), "--loading-process-events-interval-bytes", "1024"]
