"""A 3-master Redis Cluster of the bench's own (no replicas), for chronoq's Cluster rows.

Started once per bench run: 3 `redis-server --cluster-enabled yes` processes on free
ports (each with a free bus port, +10000) in a temp dir, joined by
`redis-cli --cluster create ... --cluster-replicas 0 --cluster-yes` (which splits the
16384 slots into three equal ranges), then waited for until every node says
cluster_state:ok. Persistence off, as for a benchmark. Stopped (SIGTERM, then SIGKILL)
and its dir removed at the end.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from harness.resp import Resp, RespError

SERVER = "/usr/bin/redis-server"
CLI = "/usr/bin/redis-cli"
HOST = "127.0.0.1"
BUS_OFFSET = 10000


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True


def free_ports(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        with socket.socket() as sock:
            sock.bind((HOST, 0))
            port = int(sock.getsockname()[1])
        if port + BUS_OFFSET < 65536 and _bindable(port + BUS_OFFSET) and port not in ports:
            ports.append(port)
    return ports


class BenchCluster:
    def __init__(self, masters: int = 3) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
        self.ports = free_ports(masters)
        self.procs: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        """chronoq's URL form for a Cluster."""
        return "redis+cluster://" + ",".join(f"{HOST}:{p}" for p in self.ports)

    @property
    def pids(self) -> tuple[int, ...]:
        return tuple(p.pid for p in self.procs)

    def start(self, timeout: float = 60.0) -> None:
        for port in self.ports:
            node_dir = self.dir / str(port)
            node_dir.mkdir()
            cmd = [SERVER, "--port", str(port), "--bind", HOST, "--cluster-enabled", "yes"]
            cmd += ["--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000"]
            cmd += ["--dir", str(node_dir), "--save", "", "--appendonly", "no"]
            log = open(node_dir / "server.log", "wb")  # noqa: SIM115 - closed with the process
            self.procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT))
        try:
            self._wait(lambda: all(self._ping(p) for p in self.ports), timeout, "nodes up")
            create = [CLI, "--cluster", "create", *(f"{HOST}:{p}" for p in self.ports)]
            subprocess.run(
                [*create, "--cluster-replicas", "0", "--cluster-yes"],
                check=True,
                capture_output=True,
                timeout=timeout,
            )
            self._wait(lambda: all(self._ok(p) for p in self.ports), timeout, "cluster_state:ok")
        except BaseException:
            self.stop()
            raise

    @staticmethod
    def _ping(port: int) -> bool:
        with contextlib.suppress(OSError, RespError), Resp(HOST, port, timeout=1) as conn:
            return bool(conn.command("PING") == "PONG")
        return False

    @staticmethod
    def _ok(port: int) -> bool:
        with contextlib.suppress(OSError, RespError), Resp(HOST, port, timeout=1) as conn:
            return "cluster_state:ok" in str(conn.command("CLUSTER", "INFO"))
        return False

    def _wait(self, pred, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while not pred():
            if time.monotonic() > deadline:
                raise RuntimeError(f"bench cluster: no {what} after {timeout:.0f} s in {self.dir}")
            time.sleep(0.1)

    def stop(self) -> None:
        for proc in self.procs:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
