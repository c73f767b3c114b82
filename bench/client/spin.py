"""Round trips of a sync caller: blocking reads against polled ones (chronoq.redis.spin).

A sync caller sends one command and waits for its reply. Blocked in recv(), its
thread lets the CPU go idle, and on a VM the idle vCPU halts; the reply then waits
for it to wake. This measures what that costs, and what the sync enqueuer's polling
(`sync_read_spin`) buys back, for the same calls in the same process:

- `ping`: a bare PING over one socket, read blocking vs polled (os.readv on the
  non-blocking descriptor, as the enqueuer does);
- `enqueue`: SyncClient.enqueue of a plain no-op job, `sync_read_spin=0` vs the
  default budget.

Each case makes N sequential calls; the cases are interleaved over --rounds rounds and
each figure is the median of its rounds: wall time per call, and the process's CPU
time per call (user + system: the polling's cost). A private redis-server on port
16420 with nothing else connected.

    python bench/client/spin.py [--calls 20000] [--rounds 5] [--out bench/client]

Prints a table and writes results-spin.json beside this file (or --out).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(HERE.parent / "redis_cost"))

from run import Server  # noqa: E402  # bench/redis_cost/run.py

from chronoq import App, Settings  # noqa: E402

PORT = 16420
PING = b"*1\r\n$4\r\nPING\r\n"
SPIN = 0.0002  # the enqueuer's default budget, for the bare PING case


def ping_case(url_port: int, polled: bool) -> Callable[[int], None]:
    sock = socket.create_connection(("127.0.0.1", url_port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.settimeout(5.0)  # as redis-py's sockets: the descriptor is non-blocking
    fd, buffer = sock.fileno(), bytearray(4096)
    views = (buffer,)

    def calls(n: int) -> None:
        for _ in range(n):
            sock.sendall(PING)
            if polled:
                deadline = time.perf_counter() + SPIN
                while True:
                    try:
                        os.readv(fd, views)
                        break
                    except BlockingIOError:
                        if time.perf_counter() > deadline:
                            sock.recv_into(buffer)
                            break
            else:
                sock.recv_into(buffer)

    return calls


def enqueue_case(url: str, spin: float) -> Callable[[int], None]:
    settings = Settings(
        redis_url=url, prefix=f"spin{spin}", retention=5, keep_result=0, sync_read_spin=spin
    )
    app = App("spin", settings=settings)

    async def noop() -> None:
        return None

    task = app.task(name="noop")(noop)
    client = app.sync_client()
    client.enqueue(task)  # connect and load the library first

    def calls(n: int) -> None:
        for _ in range(n):
            client.enqueue(task)

    return calls


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def measure(calls: Callable[[int], None], n: int) -> tuple[float, float]:
    wall0, cpu0 = time.perf_counter(), time.process_time()
    calls(n)
    return (time.perf_counter() - wall0) / n * 1e6, (time.process_time() - cpu0) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", default=str(HERE))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cq-spin-") as folder:
        server = Server(PORT, Path(folder), callgrind=False)
        try:
            cases = {
                "ping, blocking read": ping_case(PORT, polled=False),
                "ping, polled read": ping_case(PORT, polled=True),
                "SyncClient.enqueue, sync_read_spin=0": enqueue_case(server.url, 0.0),
                "SyncClient.enqueue, default": enqueue_case(server.url, SPIN),
            }
            runs: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
            for _ in range(args.rounds):
                for name, calls in cases.items():
                    server.conn.flushall()
                    runs[name].append(measure(calls, args.calls))
        finally:
            server.process.kill()
            server.process.wait()
    results: dict[str, Any] = {
        "calls": args.calls,
        "rounds": args.rounds,
        "machine": f"{cpu_model()}, {os.cpu_count()} CPUs, {platform.platform()}",
        "cases": {},
    }
    print("| case | wall us/call | CPU us/call | calls/s |\n| --- | --- | --- | --- |")
    for name, samples in runs.items():
        wall = statistics.median(w for w, _ in samples)
        cpu = statistics.median(c for _, c in samples)
        results["cases"][name] = {"wall_us": round(wall, 1), "cpu_us": round(cpu, 1)}
        results["cases"][name]["raw"] = [[round(w, 1), round(c, 1)] for w, c in samples]
        print(f"| {name} | {wall:.1f} | {cpu:.1f} | {1e6 / wall:,.0f} |")
    Path(args.out, "results-spin.json").write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
