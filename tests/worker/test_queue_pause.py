"""A running worker and a paused queue: its jobs wait while the worker keeps serving
its other queues; a resume starts them at once (the doorbell, not a poll)."""

from __future__ import annotations

import asyncio
import time

from chronoq import App, Client, JobStatus
from chronoq.client import JobRequest
from tests.worker.helpers import running_worker, wait_until


async def test_pause_holds_one_queue_and_resume_wakes_the_worker_at_once(
    app: App, client: Client
) -> None:
    ran: dict[str, float] = {}

    @app.task(name="mark")
    def mark(tag: str) -> None:
        ran[tag] = time.monotonic()

    async with app.queue_admin() as admin, running_worker(app, queues=["q1", "q2"], idle_wait=2.0):
        await asyncio.sleep(0.3)  # the worker is idle, registered on both queues
        await admin.pause("q1", "maintenance")
        held = await client.submit(JobRequest("mark", ["held"], queue="q1"))
        await client.submit(JobRequest("mark", ["other"], queue="q2"))
        await wait_until(lambda: _ran(ran, "other"), timeout=5)
        await asyncio.sleep(2.5)  # more than a doorbell wait: the worker claimed q1 again
        assert "held" not in ran
        assert (await client.job(held.id)).status is JobStatus.QUEUED
        resumed = time.monotonic()
        assert await admin.resume("q1")
        await wait_until(lambda: _ran(ran, "held"), timeout=5)
        assert ran["held"] - resumed < 0.3, ran["held"] - resumed  # woken, not the 2 s poll


async def _ran(ran: dict[str, float], tag: str) -> bool:
    return tag in ran
