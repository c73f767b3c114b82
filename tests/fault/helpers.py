"""Real worker processes and a real server process, for tests that kill them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

APP = "tests.sample_app:app"
ROOT = Path(__file__).resolve().parents[2]


class WorkerProcess:
    """`python -m chronoq worker` in its own process group, its output in a log file."""

    def __init__(self, redis_url: str, prefix: str, *options: str) -> None:
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed in stop)
            prefix="chronoq-worker-", suffix=".log", delete=False
        )
        command = [sys.executable, "-m", "chronoq", "worker", APP, "--redis-url", redis_url]
        command += ["--prefix", prefix, "--log-level", "debug", *options]
        self.process = subprocess.Popen(
            command, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def signal(self, sig: signal.Signals) -> None:
        os.kill(self.process.pid, sig)

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout=timeout)

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def stop(self) -> None:
        if self.alive():
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


@contextmanager
def workers() -> Iterator[list[WorkerProcess]]:
    """Collects the workers a test starts; kills whatever is left at the end."""
    started: list[WorkerProcess] = []
    try:
        yield started
    finally:
        for worker in started:
            worker.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """A Valkey server of the test's own (the embedded binary), with an AOF fsynced on
    every write, so that a SIGKILL loses nothing it acknowledged."""

    def __init__(self, data_dir: Path) -> None:
        from chronoq.redis.embedded import server_binary

        self.binary = server_binary()
        self.data_dir = data_dir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [str(self.binary), "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--dir", str(self.data_dir), "--appendonly", "yes", "--appendfsync", "always"]
        args += ["--save", "", "--maxmemory-policy", "noeviction"]
        log = open(self.data_dir / "server.log", "ab")  # noqa: SIM115 (inherited by the child)
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if redis.Redis.from_url(self.url, socket_connect_timeout=0.2).ping():
                    return
            except redis.RedisError:
                time.sleep(0.02)
        raise AssertionError(f"test server did not start: {self.url}")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
