"""`chronoq up examples.quickstart:app` (the README names it) runs
examples/quickstart.py: it must stay importable and its jobs must run."""

from __future__ import annotations

import asyncio

from chronoq import JobStatus
from examples import quickstart
from tests.worker.helpers import running_worker


async def test_quickstart_jobs_and_schedule_run(redis_url: str, prefix: str) -> None:
    app = quickstart.app
    app.settings = app.settings.model_copy(update={"redis_url": redis_url, "prefix": prefix})
    assert "heartbeat" in app.declared_schedules
    async with running_worker(app, queues="default,reports"):
        await asyncio.sleep(3.0)  # the startup hook enqueued the demo jobs
        async with app.client() as client:
            jobs = await client.jobs(limit=100)
            async with app.backend() as backend:
                store = backend.schedules
                assert (await store.get("heartbeat")).next_due is not None
    done = [j for j in jobs if j.status is JobStatus.SUCCEEDED]
    assert len(done) >= 11  # five adds, the report, the flaky one, four campaign steps
