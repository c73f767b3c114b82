"""An idle queue forgets its finished jobs: after a burst of 20,000 jobs and no work
since, the server's keys and memory return to where they were before the burst.

Runs against a server of its own (no other test's keys), so `used_memory` means
something; without trimming it stays at about 2.5 times the baseline.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from chronoq import App
from chronoq.client import JobRequest
from chronoq.core.settings import Settings
from chronoq.redis.embedded import server_binary
from chronoq.redis.keys import Keyspace
from tests.fault.helpers import free_port
from tests.worker.helpers import running_worker, wait_until

PREFIX = "trim-test"
RETENTION = 2.0
WARM_UP, BURST = 2_000, 20_000


@pytest.fixture
def private_redis() -> Iterator[redis.Redis]:
    """A memory-only server for this test alone."""
    folder = Path(tempfile.mkdtemp(prefix="cq-trim-"))
    port = free_port()
    command = [str(server_binary()), "--port", str(port), "--bind", "127.0.0.1"]
    command += ["--dir", str(folder), "--save", "", "--appendonly", "no"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    conn = redis.Redis(port=port, decode_responses=True, socket_timeout=10)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                conn.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        yield conn
    finally:
        conn.close()
        process.kill()
        process.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


def footprint(conn: redis.Redis) -> tuple[int, int]:
    return int(conn.dbsize()), int(conn.info("memory")["used_memory"])


@pytest.mark.timeout(240)
async def test_an_idle_queue_returns_to_its_baseline_after_20000_jobs(
    private_redis: redis.Redis,
) -> None:
    conn = private_redis
    url = f"redis://127.0.0.1:{conn.connection_pool.connection_kwargs['port']}/0"
    # Results asked to outlive their records: they must not (nothing could read them).
    # The event stream is capped at the warm-up's length: full at the baseline already,
    # it stays about that long (bounded, not per job).
    # Metrics off: their buckets are per minute, not per job (a new one each minute the
    # clock crosses, expiring on their own; tests/observe covers them), and would move
    # the key count of this idle queue as time passes.
    settings = Settings(retention=RETENTION, keep_result=3600, events_maxlen=WARM_UP, metrics=False)
    app = App("trim", redis_url=url, prefix=PREFIX, settings=settings)
    q = Keyspace(PREFIX).queue("default")

    @app.task
    async def noop(i: int) -> int:
        return i

    def succeeded() -> int:
        return int(conn.hget(q.stats, "succeeded") or 0)

    async def finished(count: int) -> bool:
        return succeeded() >= count

    def records() -> list[str]:
        found = conn.scan_iter(match=f"{PREFIX}:*", count=1000)
        return [k for k in found if k.startswith((q.job_prefix, q.result_prefix, q.done))]

    async def forgotten() -> bool:
        return not records()

    async with app.client() as client, running_worker(app, concurrency=64, scheduler=False):
        # A warm-up first, so that the baseline holds what any used server holds
        # (loaded scripts, connections, the queue's counters) and none of its jobs.
        await client.enqueue_many(JobRequest(noop, (i,)) for i in range(WARM_UP))
        await wait_until(lambda: finished(WARM_UP), timeout=60, interval=0.1)
        await wait_until(forgotten, timeout=30, interval=0.1)
        baseline_keys, baseline_memory = footprint(conn)

        await client.enqueue_many(JobRequest(noop, (i,)) for i in range(BURST))
        await wait_until(lambda: finished(WARM_UP + BURST), timeout=120, interval=0.1)
        assert conn.zcard(q.done) > 0  # finished within the retention: kept for now
        peak_keys, peak_memory = footprint(conn)

        # Idle from here on: no job completes, so only the worker's trimming runs.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RETENTION + 30
        while loop.time() < deadline:
            keys, memory = footprint(conn)
            if keys <= baseline_keys * 1.1 and memory <= baseline_memory * 1.1 and not records():
                break  # back to the baseline, and the index trimmed too
            await asyncio.sleep(0.25)

    left = records()
    assert not left, f"{len(left)} finished records, results or indexes left: {left[:3]}"
    assert keys <= baseline_keys * 1.1, (baseline_keys, peak_keys, keys)
    assert abs(memory - baseline_memory) <= baseline_memory * 0.1, (
        f"used_memory {memory} vs baseline {baseline_memory} (peak {peak_memory})"
    )
    assert succeeded() == WARM_UP + BURST


async def test_a_result_is_kept_no_longer_than_its_record(
    redis_url: str, prefix: str, raw: redis.Redis
) -> None:
    settings = Settings(retention=30, keep_result=3600)
    app = App("trim", redis_url=redis_url, prefix=prefix, settings=settings)

    @app.task
    async def answer() -> int:
        return 42

    async with app.client() as client, running_worker(app, scheduler=False):
        job = await client.enqueue(answer)
        assert await client.result(job.id, timeout=30) == 42
    q = Keyspace(prefix).queue("default")
    assert 0 < raw.pttl(q.result(job.id)) <= 30_000
    assert 0 < raw.pttl(q.job(job.id)) <= 30_000
