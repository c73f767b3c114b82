"""One redis-server/valkey-server process of a test's own: config file, free port
(reserved across xdist workers, tests/servers/ports.py), log file.

Every server here is started from a config file in its own directory, so that a restart
after SIGKILL comes back with the same port, the same `nodes.conf` (Cluster) or the same
rewritten config (Sentinel) - exactly what a real restart does. Readiness is a real PING,
over TLS and with credentials when the server needs them, and a server that does not come
up fails the test with the binary, the port and the tail of its log: never a skip.
"""

from __future__ import annotations

import ctypes
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.servers.ports import HOST, free_port

__all__ = ["HOST", "ServerProcess", "ServerStartError", "free_port"]

_PORT_ATTEMPTS = 4  # something outside the tests may take a free port before we bind it
_PR_SET_PDEATHSIG = 1


class ServerStartError(AssertionError):
    """A server did not come up; the message carries what is needed to see why."""


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """A server outlives nothing: if the test run is SIGKILLed, its servers go too."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class ServerProcess:
    """A server process started from `data_dir/server.conf`, logging to `data_dir/server.log`.

    `config` lines come after the defaults, so they override them (a later directive wins).
    `tls=True` puts the server on `tls-port` only (`port 0`); `client_kwargs` (ssl_*,
    username, password) are what a redis-py client needs to reach it, used for the
    readiness PING and by `client()`.
    """

    def __init__(
        self,
        binary: Path,
        data_dir: Path,
        config: Sequence[str] = (),
        *,
        sentinel: bool = False,
        tls: bool = False,
        cluster_bus: bool = False,
        client_kwargs: Mapping[str, Any] | None = None,
        port: int | None = None,
    ) -> None:
        self.binary = Path(binary)
        self.data_dir = Path(data_dir)
        self.config = list(config)
        self.sentinel = sentinel
        self.tls = tls
        self.cluster_bus = cluster_bus
        self.client_kwargs = dict(client_kwargs or {})
        self.port = port if port is not None else free_port(with_cluster_bus=cluster_bus)
        self._port_is_ours = port is None  # only a port we picked may be swapped for another
        self.process: subprocess.Popen[bytes] | None = None
        self._configured = False
        self._log_start = 0  # where this launch's lines begin in the (appended) log

    # -- where it is -------------------------------------------------------------------

    @property
    def host(self) -> str:
        return HOST

    @property
    def address(self) -> tuple[str, int]:
        return (HOST, self.port)

    @property
    def url(self) -> str:
        scheme = "rediss" if self.tls else "redis"
        return f"{scheme}://{HOST}:{self.port}/0"

    @property
    def config_path(self) -> Path:
        return self.data_dir / "server.conf"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "server.log"

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def describe(self) -> str:
        mode = " --sentinel" if self.sentinel else ""
        return f"{self.binary}{mode} (port {self.port}, dir {self.data_dir})"

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log file)"
        return "\n".join(text.splitlines()[-lines:])

    # -- life cycle --------------------------------------------------------------------

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 20.0) -> None:
        """Start, or restart after a kill with the same port, dir and config."""
        self.spawn()
        self.wait_started(timeout)

    def spawn(self) -> None:
        """Launch the process without waiting: a group spawns all, then waits for each."""
        if self.alive():
            raise ServerStartError(f"already running: {self.describe()}")
        if not self._configured:
            self._write_config()
        self._launch()

    def wait_started(self, timeout: float = 20.0) -> None:
        """Wait for the PING; on a first start that lost its port to another process,
        move to a fresh port and try again (a restart keeps its port, as it must)."""
        for attempt in range(_PORT_ATTEMPTS):
            try:
                self.wait_ready(timeout)
            except ServerStartError:
                may_move = self._port_is_ours and not self._configured
                if may_move and attempt + 1 < _PORT_ATTEMPTS and self._lost_port_race():
                    self.port = free_port(with_cluster_bus=self.cluster_bus)
                    self._write_config()
                    self._launch()
                    continue
                self.kill()  # one that hangs in start-up is not left behind
                raise
            self._configured = True
            return

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final save, as a crash would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
        if self.process is not None:
            self.process.wait(timeout=10)

    def restart(self, timeout: float = 20.0) -> None:
        self.kill()
        self.start(timeout)

    def client(self, **overrides: Any) -> redis.Redis:
        """A plain redis-py client with what this server needs (TLS, credentials)."""
        kwargs: dict[str, Any] = {"socket_connect_timeout": 2, "socket_timeout": 10}
        kwargs |= self.client_kwargs | overrides
        return redis.Redis(host=HOST, port=self.port, **kwargs)

    def wait_ready(self, timeout: float = 20.0) -> None:
        """Poll PING until it answers; fail at once when the process has exited."""
        deadline = time.monotonic() + timeout
        probe = self.client(
            socket_connect_timeout=0.5, socket_timeout=2, retry=Retry(NoBackoff(), 0)
        )
        last_error: Exception | None = None
        try:
            while time.monotonic() < deadline:
                if not self.alive():
                    raise ServerStartError(self._failure("exited while starting"))
                try:
                    if probe.ping():
                        return
                except (redis.RedisError, OSError) as exc:
                    last_error = exc
                time.sleep(0.02)
        finally:
            probe.close()
        raise ServerStartError(
            self._failure(f"did not answer PING within {timeout:g}s (last error: {last_error})")
        )

    # -- internals ---------------------------------------------------------------------

    def _defaults(self) -> list[str]:
        lines = [f"bind {HOST}", f"dir {self.data_dir}", "daemonize no", 'logfile ""']
        lines += ["port 0", f"tls-port {self.port}"] if self.tls else [f"port {self.port}"]
        if not self.sentinel:
            # A replica's first sync starts at once, not after the default 5 s delay.
            lines += ['save ""', "appendonly no", "repl-diskless-sync-delay 0"]
        return lines

    def _write_config(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text("\n".join([*self._defaults(), *self.config]) + "\n")

    def _launch(self) -> None:
        args = [str(self.binary), str(self.config_path)]
        if self.sentinel:
            args.append("--sentinel")
        in_main_thread = threading.current_thread() is threading.main_thread()
        with self.log_path.open("ab") as log:
            self._log_start = log.tell()
            self.process = subprocess.Popen(
                args,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                # PDEATHSIG fires when the *thread* that forked ends: only the main thread's.
                preexec_fn=_die_with_parent if in_main_thread else None,  # noqa: PLW1509
            )

    def _lost_port_race(self) -> bool:
        """Did this launch (not an earlier one in the same log) fail to bind its port?"""
        self.kill()
        with self.log_path.open("rb") as log:
            log.seek(self._log_start)
            return b"Address already in use" in log.read()

    def _failure(self, what: str) -> str:
        exit_code = None if self.process is None else self.process.poll()
        status = "" if exit_code is None else f", exit code {exit_code}"
        return (
            f"{self.describe()} {what}{status}\n"
            f"--- last lines of {self.log_path} ---\n{self.log_tail()}"
        )
