"""Several workers, producers trickling and bursting: every job runs once, none lost."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from contextlib import AsyncExitStack

from chronoq import App, Client, JobStatus
from chronoq.client import JobRequest
from tests.worker.helpers import running_worker, wait_until


async def test_every_job_runs_exactly_once_across_workers(app: App, client: Client) -> None:
    runs: Counter[int] = Counter()

    @app.task
    async def work(n: int) -> int:
        await asyncio.sleep(random.random() * 0.005)
        runs[n] += 1
        return n

    total = 0
    async with AsyncExitStack() as stack:
        for concurrency in (1, 4, 16):
            await stack.enter_async_context(running_worker(app, concurrency=concurrency))
        for burst in range(20):
            # trickle (hand-offs to idle workers) then a bulk burst (claims)
            for _ in range(10):
                await client.enqueue(work, total)
                total += 1
                await asyncio.sleep(random.random() * 0.002)
            await client.enqueue_many(JobRequest(work, [total + i]) for i in range(40))
            total += 40
            if burst % 5 == 0:
                await asyncio.sleep(0.05)  # let workers go idle and register again

        async def all_ran() -> bool:
            return len(runs) == total

        await wait_until(all_ran, timeout=30)
    assert sum(runs.values()) == total  # no duplicates: nothing crashed, nothing ran twice
    (counts,) = await client.queues()
    assert (counts.waiting, counts.running, counts.dead) == (0, 0, 0)
    assert counts.stats["succeeded"] == total
    sample = await client.jobs(status=JobStatus.SUCCEEDED, limit=5)
    assert len(sample) == 5
