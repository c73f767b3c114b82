"""What the metrics rollups cost: an in-process drain of no-op jobs by one worker
(`Worker(app, WorkerOptions(burst=True))`), with rollups on and off
(`CHRONOQ_METRICS`), in alternating rounds on the shared test server.

    python bench/observe/rollups.py [--jobs 20000] [--rounds 3] [--url redis://...]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid

import redis

from chronoq import App
from chronoq.client import JobRequest
from chronoq.worker import Worker, WorkerOptions


async def drain(url: str, jobs: int, metrics: bool) -> float:
    prefix = f"bench-rollups-{uuid.uuid4().hex[:8]}"
    app = App("bench", redis_url=url, prefix=prefix)
    app.settings.metrics = metrics

    @app.task(queue="bench", name="noop")
    async def noop() -> None:
        return None

    try:
        async with app.client() as client:
            for start in range(0, jobs, 1000):
                batch = min(1000, jobs - start)
                await client.enqueue_many(JobRequest("noop", queue="bench") for _ in range(batch))
        worker = Worker(app, WorkerOptions(queues="bench", burst=True, scheduler=False))
        began = time.perf_counter()
        await worker.run()
        took = time.perf_counter() - began
        assert worker.jobs_done == jobs, worker.jobs_done
        return jobs / took
    finally:
        conn = redis.Redis.from_url(url)
        for key in conn.scan_iter(match=f"{prefix}:*", count=1000):
            conn.delete(key)
        conn.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    rates: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(args.rounds):
        for metrics in (False, True):
            rates[metrics].append(await drain(args.url, args.jobs, metrics))
    for metrics, found in rates.items():
        rounds = ", ".join(f"{r:,.0f}" for r in found)
        print(
            f"rollups {'on ' if metrics else 'off'}: median {statistics.median(found):,.0f} "
            f"jobs/s ({rounds})"
        )


if __name__ == "__main__":
    asyncio.run(main())
