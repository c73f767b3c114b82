"""The app the control benchmarks run in worker processes (`chronoq worker`)."""

from __future__ import annotations

import os
import time

import redis.asyncio as aioredis

from chronoq import App

app = App("bench-control")
RATE = os.environ.get("BENCH_RATE", "600/min")
BURST = int(os.environ.get("BENCH_BURST", "10"))
app.limit("bench-rate", RATE, burst=BURST)
_conn: aioredis.Redis | None = None


@app.task(rate_limit="bench-rate")
async def limited(n: int) -> None:
    """Records its start time in `<prefix>:bench:starts` (the job record's start is the
    claim time; this is when the task body actually began)."""
    global _conn  # noqa: PLW0603 (one connection per worker process)
    started = time.time()
    if _conn is None:
        _conn = aioredis.Redis.from_url(app.redis_url())
    await _conn.rpush(f"{app.settings.prefix}:bench:starts", f"{started:.6f}")


async def _record(entry: str) -> None:
    global _conn  # noqa: PLW0603
    if _conn is None:
        _conn = aioredis.Redis.from_url(app.redis_url())
    await _conn.rpush(f"{app.settings.prefix}:bench:order", entry)


@app.task(account="{account}")
async def fair(account: str, n: int) -> None:
    """Fair sharing across accounts: records its start order."""
    await _record(f"{account}:{n}")


@app.task
async def fifo(account: str, n: int) -> None:
    """The same without an account (plain FIFO), for comparison."""
    await _record(f"{account}:{n}")
