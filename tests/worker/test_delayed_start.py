"""A delayed job is claimed a moment before its due time and held: it starts at its
due time, never before, and its record says so."""

from __future__ import annotations

import time

import pytest

from chronoq import App, Client, JobStatus
from chronoq.client import JobRequest
from chronoq.worker import runner
from tests.worker.helpers import running_worker, wait_until


async def finished(client: Client, job_id: str) -> bool:
    return (await client.job(job_id)).status is JobStatus.SUCCEEDED


async def test_delayed_jobs_start_at_their_due_time_not_before(app: App, client: Client) -> None:
    starts: dict[int, float] = {}

    @app.task
    async def stamp(n: int) -> None:
        starts[n] = time.time()

    async with running_worker(app):
        jobs = [await client.submit(JobRequest(stamp, [n], delay=0.2 + n * 0.05)) for n in range(6)]
        for job in jobs:
            await wait_until(lambda job=job: finished(client, job.id))  # type: ignore[misc]
    for n, job in enumerate(jobs):
        record = await client.job(job.id)
        assert record.status is JobStatus.SUCCEEDED
        assert record.run_at is not None and record.started_at is not None
        due = record.run_at.timestamp()
        assert starts[n] >= due, f"job {n} started {due - starts[n]:.4f}s early"
        assert starts[n] - due < 0.25  # on time (a loaded CI machine is slow)
        assert record.started_at >= record.run_at  # the record never says "before"


async def test_a_job_cancelled_while_held_for_its_due_time_never_runs(
    app: App, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "EARLY_CLAIM_MS", 1_000)  # a wide hold, to cancel within it
    ran: list[int] = []

    @app.task
    async def once() -> None:
        ran.append(1)

    async with running_worker(app):
        job = await client.submit(JobRequest(once, delay=1.2))

        async def held() -> bool:
            return (await client.job(job.id)).status is JobStatus.RUNNING

        await wait_until(held, timeout=5)
        assert await client.cancel(job.id) == "cancelling"

        async def ended() -> bool:
            return (await client.job(job.id)).status is JobStatus.CANCELLED

        await wait_until(ended, timeout=10)
    assert ran == []
    assert "before it started" in ((await client.job(job.id)).error or "")
