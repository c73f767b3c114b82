"""Lock throughput: acquire + release per second.

    /work/venv/bin/python bench/control/locks.py            # from the project root

Four figures, about 30 s in all, against CHRONOQ_BENCH_REDIS_URL (default
redis://127.0.0.1:6379/0) under a prefix of its own, deleted afterwards:

* one async client, sequential `async with app.lock(name)` (a new Lock each time);
* one sync client, sequential `with app.sync_lock(name)`;
* two processes contending for one name (each: blocking acquire, release, again);
  the total of successful acquire+release pairs per second, and each process's share;
* two processes on two distinct names, for comparison.

Prints one JSON object; bench/control/run.py records it with the other figures.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
URL = os.environ.get("CHRONOQ_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
SINGLE_SECONDS = 6.0
SYNC_SECONDS = 4.0
PAIR_SECONDS = 8.0
WARMUP = 0.5


def _app(prefix: str) -> Any:
    sys.path.insert(0, str(ROOT / "src"))
    from chronoq import App

    return App("bench", redis_url=URL, prefix=prefix)


async def _async_loop(prefix: str, name: str, seconds: float, start_at: float) -> int:
    app = _app(prefix)
    await asyncio.sleep(max(0.0, start_at - time.time()))  # both children start together
    async with app.lock(name):  # warm the connection pool and the script cache
        pass
    count = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        async with app.lock(name, ttl=10):
            count += 1
    return count


async def _ping_us(prefix: str) -> float:
    """The floor: one async redis-py round trip (an acquire+release is two)."""
    app = _app(prefix)
    clients = await app.coordinator._async.get()
    await clients.commands.ping()
    count, end = 0, time.monotonic() + 1.0
    while time.monotonic() < end:
        await clients.commands.ping()
        count += 1
    return 1e6 / count


def _sync_loop(prefix: str, name: str, seconds: float) -> int:
    app = _app(prefix)
    with app.sync_lock(name):
        pass
    count = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        with app.sync_lock(name, ttl=10):
            count += 1
    app.coordinator.close_sync()
    return count


def _pair(prefix: str, names: tuple[str, str]) -> dict[str, Any]:
    """Two child processes started together; each counts its acquire+release pairs."""
    start_at = time.time() + 1.5  # after both have imported chronoq
    children = [
        subprocess.Popen(
            [sys.executable, __file__, "--child", prefix, name, str(PAIR_SECONDS), str(start_at)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
        )
        for name in names
    ]
    counts = [int(child.communicate(timeout=PAIR_SECONDS + 30)[0]) for child in children]
    return {
        "per_second": round(sum(counts) / PAIR_SECONDS),
        "per_process": [round(c / PAIR_SECONDS) for c in counts],
    }


def _machine() -> dict[str, Any]:
    model = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    info = redis.Redis.from_url(URL).info("server")
    version = info.get("valkey_version") or info.get("redis_version", "?")
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "redis": str(version),
        "python": platform.python_version(),
        "os": platform.platform(),
    }


def main() -> None:
    prefix = f"bench-locks-{uuid.uuid4().hex[:8]}"
    load = os.getloadavg()[0]
    try:
        ping = asyncio.run(_ping_us(prefix))
        single = asyncio.run(_async_loop(prefix, "single", SINGLE_SECONDS, 0.0))
        sync = _sync_loop(prefix, "sync", SYNC_SECONDS)
        same = _pair(prefix, ("shared", "shared"))
        distinct = _pair(prefix, ("left", "right"))
    finally:
        conn = redis.Redis.from_url(URL)
        keys = list(conn.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            conn.delete(*keys)
    results = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": {**_machine(), "load_average_1min_before": round(load, 2)},
        "async_ping_round_trip_us": round(ping),
        "acquire_release_per_second": {
            "one_async_client_sequential": round(single / SINGLE_SECONDS),
            "one_sync_client_sequential": round(sync / SYNC_SECONDS),
            "two_processes_same_name": same,
            "two_processes_distinct_names": distinct,
        },
    }
    print(json.dumps(results))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _, _, prefix, name, seconds, start_at = sys.argv
        print(asyncio.run(_async_loop(prefix, name, float(seconds), float(start_at))))
    else:
        main()
