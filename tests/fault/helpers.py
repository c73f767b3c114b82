"""Real worker processes and a real server process, for tests that kill them."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.servers import process as servers
from tests.servers.binaries import valkey_server
from tests.servers.process import free_port

__all__ = ["ONE_AT_A_TIME", "ServerProcess", "WorkerProcess", "free_port", "workers"]

# The long tests that keep several processes busy for ~30 s each (contending lockers,
# schedulers, twenty worker starts): under xdist they run one after another on one
# worker, not side by side starving each other (and their timing) of the 2 CPUs.
ONE_AT_A_TIME = pytest.mark.xdist_group("fault-long")

APP = "tests.sample_app:app"
ROOT = Path(__file__).resolve().parents[2]


class WorkerProcess:
    """`python -m chronoq worker` in its own process group, its output in a log file;
    `env` adds to (or overrides) the test's environment (CHRONOQ_* settings); `app` is
    the App as module:attribute; `command` another long-running command (`up`)."""

    def __init__(
        self,
        redis_url: str,
        prefix: str,
        *options: str,
        env: Mapping[str, str] | None = None,
        app: str = APP,
        command: str = "worker",
    ) -> None:
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed in stop)
            prefix="chronoq-worker-", suffix=".log", delete=False
        )
        argv = [sys.executable, "-m", "chronoq", command, app, "--redis-url", redis_url]
        argv += ["--prefix", prefix, "--log-level", "debug", *options]
        if command == "up":
            argv.append("--no-dashboard")  # these tests are about its workers
        self.process = subprocess.Popen(
            argv,
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
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

    def children(self) -> list[int]:
        """The pids of its child processes (`up`'s workers run in sessions of their own)."""
        listing = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        try:
            return [int(pid) for pid in listing.read_text().split()]
        except OSError:  # it has exited
            return []

    def stop(self) -> None:
        if self.alive():
            for child in self.children():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, signal.SIGKILL)
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


class ServerProcess(servers.ServerProcess):
    """A Valkey server of the test's own (the embedded binary), with an AOF fsynced on
    every write, so that a SIGKILL loses nothing it acknowledged. `start()` again after
    `kill()` restarts it on the same port from the same dir."""

    def __init__(self, data_dir: Path) -> None:
        config = ["appendonly yes", "appendfsync always", "maxmemory-policy noeviction"]
        super().__init__(valkey_server(), data_dir, config)
