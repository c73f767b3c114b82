"""Cancelling a running job: the task sees the request, is cut off after the grace,
and the job ends `cancelled` (never retried), on whichever worker runs it."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import threading
import time
from asyncio.subprocess import PIPE, STDOUT

import pytest
import redis

import chronoq
from chronoq import App, Client, JobEvent, JobStatus
from tests.fault.helpers import WorkerProcess, workers
from tests.sample_app import wait_for_cancel
from tests.worker.helpers import running_worker, wait_until


def quick_grace(app: App, grace: float = 0.3) -> None:
    app.settings = app.settings.model_copy(update={"cancel_grace": grace})


async def status_is(client: Client, job_id: str, status: JobStatus) -> bool:
    return (await client.job(job_id)).status is status


async def test_a_task_that_ignores_the_request_is_cut_off_after_the_grace(
    app: App, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    quick_grace(app)
    events: list[str] = []

    @app.task(name="stubborn", max_retries=3)
    async def stubborn() -> None:
        await asyncio.sleep(30)

    @app.on("cancelled")
    def on_cancelled(event: JobEvent) -> None:
        events.append(event.job_id)

    job = await client.enqueue(stubborn)
    caplog.set_level(logging.INFO, logger="chronoq")
    async with running_worker(app):
        await wait_until(lambda: status_is(client, job.id, JobStatus.RUNNING))
        asked = time.monotonic()
        assert await client.cancel(job.id) == "cancelling"
        await wait_until(lambda: status_is(client, job.id, JobStatus.CANCELLED), timeout=5)
        took = time.monotonic() - asked
        await wait_until(lambda: _true(bool(events)))
    record = await client.job(job.id)
    assert 0.3 <= took < 3  # the grace, then the cut-off
    assert record.attempts == 1  # never retried, though it had retries left
    assert record.error == "cancelled: the run did not stop within 0.3s of the request"
    assert events == [job.id]
    assert any("cancel requested" in r.getMessage() for r in caplog.records)
    assert any(f"job {job.id} stubborn cancelled" in r.getMessage() for r in caplog.records)


async def test_a_task_that_sees_the_request_stops_before_the_grace(
    app: App, client: Client
) -> None:
    quick_grace(app, grace=30)
    cleaned: list[bool] = []

    @app.task(name="polite")
    async def polite() -> None:
        job = chronoq.current_job()
        while not job.cancelled:  # noqa: ASYNC110 (a task polls its flag between steps)
            await asyncio.sleep(0.01)
        cleaned.append(True)  # saves its work, then gives up as asked
        job.raise_if_cancelled()

    job = await client.enqueue(polite)
    async with running_worker(app):
        await wait_until(lambda: status_is(client, job.id, JobStatus.RUNNING))
        await client.cancel(job.id)
        await wait_until(lambda: status_is(client, job.id, JobStatus.CANCELLED), timeout=5)
    assert cleaned == [True]
    assert (await client.job(job.id)).error.startswith("JobCancelled")  # type: ignore[union-attr]


async def test_a_sync_task_is_cut_off_and_its_thread_left_to_end(app: App, client: Client) -> None:
    quick_grace(app, grace=0.2)
    release = threading.Event()

    @app.task(name="blocking")
    def blocking() -> None:
        release.wait(10)

    job = await client.enqueue(blocking)
    try:
        async with running_worker(app):
            await wait_until(lambda: status_is(client, job.id, JobStatus.RUNNING))
            await client.cancel(job.id)
            await wait_until(lambda: status_is(client, job.id, JobStatus.CANCELLED), timeout=5)
    finally:
        release.set()


async def test_a_cancel_whose_message_was_missed_is_seen_at_the_lease_renewal(
    app: App, client: Client, raw: redis.Redis, prefix: str
) -> None:
    """The request is also on the job (`cxl`): setting only that, as a worker that
    was reconnecting would have missed the message, still stops the run."""
    quick_grace(app, grace=0.1)
    waits = app.task(name="waits")(wait_for_cancel.definition.func)
    job = await client.enqueue(waits, 30)
    async with running_worker(app, lease=1.5):
        await wait_until(lambda: status_is(client, job.id, JobStatus.RUNNING))
        raw.hset(f"{prefix}:{{default}}:job:{job.id}", "cxl", int(time.time() * 1000))
        await wait_until(lambda: status_is(client, job.id, JobStatus.CANCELLED), timeout=5)


async def chronoq_cli(*args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chronoq", *args, stdout=PIPE, stderr=STDOUT
    )
    out, _ = await process.communicate()
    return process.returncode or 0, out.decode()


async def test_cancel_reaches_the_worker_process_running_the_job(
    client: Client, redis_url: str, prefix: str
) -> None:
    job = await client.enqueue(wait_for_cancel, 30)
    with workers() as started:
        started.append(WorkerProcess(redis_url, prefix))
        await wait_until(lambda: status_is(client, job.id, JobStatus.RUNNING), timeout=15)
        code, out = await chronoq_cli(
            "cancel", job.id, "--redis-url", redis_url, "--prefix", prefix
        )
        assert code == 0 and "cancelling" in out, out
        await wait_until(lambda: status_is(client, job.id, JobStatus.CANCELLED), timeout=10)
    record = await client.job(job.id)
    assert record.attempts == 1 and record.error.startswith("JobCancelled")  # type: ignore[union-attr]
    code, out = await chronoq_cli("cancel", job.id, "--json", "--redis-url", redis_url,
                                  "--prefix", prefix)  # fmt: skip
    assert (code, json.loads(out)) == (0, {"id": job.id, "status": "cancelled"})


async def _true(value: bool) -> bool:
    return value
