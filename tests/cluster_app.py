"""An app for worker processes on a Redis Cluster (`chronoq worker tests.cluster_app:app`).

Its one task records each run it makes in a Redis set, as `<job number>:<run token>`: a
test reads afterwards how often every job ran (none lost, none twice). A fresh token per
run keeps the record exact even when the client resends a command whose reply it lost
(redis-py retries after a connection error): the resend adds the same member again.
Server and key prefix come from the command line (`--redis-url`, `--prefix`).
"""

from __future__ import annotations

import asyncio
import uuid

from chronoq import App
from chronoq.redis.connector import AsyncRedis

app = App("cluster-tests")
RECORD = "tests.cluster_app.record"

_clients: dict[asyncio.AbstractEventLoop, AsyncRedis] = {}


def _redis() -> AsyncRedis:
    """One client per event loop, made from the worker's own settings (its URL)."""
    loop = asyncio.get_running_loop()
    if loop not in _clients:
        _clients[loop] = app.connector().async_client()
    return _clients[loop]


@app.task
async def record(runs_key: str, n: int) -> int:
    """Record this run of job `n` in the set `runs_key`; returns `n`."""
    await _redis().sadd(runs_key, f"{n}:{uuid.uuid4().hex}")
    return n


@app.shutdown
async def _close(_: App) -> None:
    client = _clients.pop(asyncio.get_running_loop(), None)
    if client is not None:
        await client.aclose()
