"""What history and events cost per job: Redis commands, Redis time and bytes, and
processing throughput with them on and off. A private server (the embedded binary),
so INFO commandstats and used_memory count this run alone.

    python bench/observe/cost.py [--jobs 20000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

from chronoq import App
from chronoq.client import JobRequest
from chronoq.core.settings import Settings
from chronoq.redis.embedded import server_binary
from chronoq.redis.keys import Keyspace
from chronoq.worker import Worker, WorkerOptions


def start_server(port: int, folder: Path) -> subprocess.Popen[bytes]:
    command = [str(server_binary()), "--port", str(port), "--bind", "127.0.0.1"]
    command += ["--dir", str(folder), "--save", "", "--appendonly", "no"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


def commandstats(conn: redis.Redis) -> dict[str, tuple[int, int]]:
    """command -> (calls, usec)"""
    info: dict[str, Any] = conn.info("commandstats")
    return {k.removeprefix("cmdstat_"): (v["calls"], v["usec"]) for k, v in info.items()}


async def drain(url: str, prefix: str, jobs: int, events: bool) -> float:
    settings = Settings(events=events)
    app = App("cost", redis_url=url, prefix=prefix, settings=settings)

    @app.task
    async def noop(i: int) -> None: ...

    async with app.client() as client:
        await client.enqueue_many(JobRequest(noop, [i]) for i in range(jobs))
    worker = Worker(app, WorkerOptions(burst=True, concurrency=64))
    started = time.perf_counter()
    await worker.run()
    return jobs / (time.perf_counter() - started)


def one_round(conn: redis.Redis, url: str, jobs: int, events: bool, n: int) -> dict[str, Any]:
    prefix = f"cost{n}{'e' if events else 'n'}"
    conn.config_resetstat()
    rate = asyncio.run(drain(url, prefix, jobs, events))
    stats = commandstats(conn)
    q = Keyspace(prefix).queue("default")
    some = conn.zrange(q.done, 0, 0)
    record = conn.memory_usage(q.job(some[0]), samples=0) if some else 0
    stream = conn.memory_usage(q.events, samples=0) or 0
    return {
        "rate": rate,
        "fcall_usec_per_job": stats.get("fcall", (0, 0))[1] / jobs,
        "xadd_per_job": stats.get("xadd", (0, 0))[0] / jobs,
        "xadd_usec_per_job": stats.get("xadd", (0, 0))[1] / jobs,
        "record_bytes": record,
        "stream_bytes": stream,
        "stream_len": conn.xlen(q.events),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="cq-cost-"))
    port = 6390 + int(time.time()) % 500
    server = start_server(port, folder)
    conn = redis.Redis(port=port, decode_responses=True)
    try:
        for _ in range(100):
            try:
                conn.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        url = f"redis://127.0.0.1:{port}/0"
        results: dict[bool, list[dict[str, Any]]] = {True: [], False: []}
        for n in range(args.rounds):
            for events in (False, True):  # interleaved
                results[events].append(one_round(conn, url, args.jobs, events, n))
        for events, rows in results.items():
            print(
                f"events {'on ' if events else 'off'}:",
                {key: round(statistics.median(r[key] for r in rows), 2) for key in rows[0]},
            )
        on, off = (statistics.median(r["rate"] for r in results[e]) for e in (True, False))
        print(f"throughput with events and history on: {on / off:.0%} of off")
    finally:
        conn.close()
        server.kill()
        server.wait()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
