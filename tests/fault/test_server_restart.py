"""A Redis restart mid-run: workers reconnect and every job completes."""

from __future__ import annotations

import asyncio

import redis.asyncio

from chronoq import App, JobStatus
from chronoq.client import JobRequest
from tests.fault.helpers import ServerProcess, WorkerProcess, workers
from tests.worker.helpers import wait_until


async def test_jobs_complete_across_a_server_kill_and_restart(
    own_server: ServerProcess, prefix: str
) -> None:
    app = App("restart", redis_url=own_server.url, prefix=prefix)
    async with app.client() as client:
        made = await client.enqueue_many(
            [JobRequest("tests.sample_app.nap", (0.02,), force=True) for _ in range(300)]
        )
    ids = [job.id for job in made]

    async def succeeded() -> int:
        async with app.client() as client:
            return sum([(await client.job(i)).status is JobStatus.SUCCEEDED for i in ids])

    with workers() as started:
        started.append(WorkerProcess(own_server.url, prefix, "--concurrency", "4"))
        started.append(WorkerProcess(own_server.url, prefix, "--concurrency", "4"))

        async def some_done() -> bool:
            return await succeeded() >= 40

        await wait_until(some_done, timeout=20, interval=0.05)
        own_server.kill()
        await asyncio.sleep(1.5)  # workers see the server gone and keep retrying
        own_server.start()

        async def all_done() -> bool:
            try:
                return await succeeded() == len(ids)
            except redis.asyncio.ConnectionError:
                return False

        await wait_until(all_done, timeout=60, interval=0.2)
        assert all(w.alive() for w in started), [w.output()[-2000:] for w in started]
