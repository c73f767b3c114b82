"""`chronoq.current_job()` inside tasks: its fields in async and plain `def` tasks,
across a retry, the lock key's fence, progress reports and the cancel flag."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis

import chronoq
from chronoq import App, Backoff, Client, JobCancelled, JobContext, JobStatus, NotInJob
from chronoq.client import JobRequest
from chronoq.core.errors import ConfigurationError
from chronoq.core.job import Field
from chronoq.worker import Worker, WorkerOptions
from tests.cli.helpers import Cli
from tests.worker.helpers import running_worker, wait_until


async def finished(client: Client, job_id: str) -> bool:
    return (await client.job(job_id)).status.is_finished


def test_outside_a_task_current_job_raises_a_chronoq_error() -> None:
    with pytest.raises(NotInJob, match="outside a running task"):
        chronoq.current_job()
    with pytest.raises(chronoq.ChronoqError):
        chronoq.report_progress(0.5)


async def test_an_async_task_sees_its_job(app: App, client: Client) -> None:
    seen: list[JobContext] = []

    @app.task(queue="mail", max_retries=4, account="{user}")
    async def greet(user: str) -> None:
        seen.append(chronoq.current_job())

    before = datetime.now(UTC) - timedelta(seconds=1)
    job = await client.submit(JobRequest(greet, ["ann"], delay=0.05))
    await Worker(app, WorkerOptions(queues="mail", burst=True)).run()
    (ctx,) = seen
    assert (ctx.id, ctx.task, ctx.queue, ctx.account) == (job.id, greet.name, "mail", "ann")
    assert (ctx.attempt, ctx.max_attempts, ctx.fence, ctx.schedule) == (1, 5, None, None)
    assert ctx.enqueued_at is not None and ctx.scheduled_at is not None
    assert ctx.started_at is not None
    assert before < ctx.enqueued_at < ctx.scheduled_at <= ctx.started_at
    assert ctx.scheduled_at - ctx.enqueued_at >= timedelta(milliseconds=49)
    assert not ctx.cancelled


async def test_a_sync_task_sees_its_job_in_its_thread(app: App, client: Client) -> None:
    seen: list[tuple[JobContext, str]] = []

    @app.task
    def resize(path: str) -> None:
        seen.append((chronoq.current_job(), threading.current_thread().name))

    job = await client.enqueue(resize, "a.png")
    await Worker(app, WorkerOptions(burst=True)).run()
    ((ctx, thread),) = seen
    assert thread.startswith("chronoq-task")
    assert (ctx.id, ctx.task, ctx.attempt, ctx.max_attempts) == (job.id, resize.name, 1, 4)
    assert ctx.enqueued_at is not None and ctx.scheduled_at == ctx.enqueued_at


async def test_a_handed_off_job_sees_its_job_too(app: App, client: Client) -> None:
    seen: list[JobContext] = []

    @app.task
    async def quick() -> None:
        seen.append(chronoq.current_job())

    async with running_worker(app) as worker:
        await wait_until(lambda: _registered_idle(client), timeout=10)
        job = await client.enqueue(quick)
        assert job.status is JobStatus.RUNNING  # handed straight to the idle worker
        await wait_until(lambda: finished(client, job.id))
        assert worker.running_count == 0
    (ctx,) = seen
    assert ctx.id == job.id and ctx.attempt == 1 and ctx.enqueued_at is not None
    assert ctx.started_at is not None and ctx.started_at >= ctx.enqueued_at


async def _registered_idle(client: Client) -> bool:
    q = client.broker.keys.queue("default")
    return bool(await client.broker.redis.zcard(q.idle))


async def test_a_retry_sees_the_next_attempt(app: App, client: Client) -> None:
    attempts: list[tuple[int, int, datetime | None]] = []

    @app.task(max_retries=2, backoff=Backoff(base=0.05, maximum=0.05, jitter=0))
    def flaky() -> str:
        ctx = chronoq.current_job()
        attempts.append((ctx.attempt, ctx.max_attempts, ctx.scheduled_at))
        if ctx.attempt < 2:
            raise RuntimeError("not yet")
        return "ok"

    job = await client.enqueue(flaky)
    async with running_worker(app):
        assert await client.result(job.id, timeout=10) == "ok"
    assert [(a, m) for a, m, _ in attempts] == [(1, 3), (2, 3)]
    first, second = attempts[0][2], attempts[1][2]
    assert first is not None and second is not None and second > first  # the retry's due time


async def test_the_lock_keys_fence_grows_with_every_run(app: App, client: Client) -> None:
    fences: list[tuple[int, int | None]] = []

    @app.task(lock="campaign:{campaign_id}")
    async def step(campaign_id: int, n: int) -> None:
        fences.append((campaign_id, chronoq.current_job().fence))

    made = await client.enqueue_many(JobRequest(step, [1, n]) for n in range(3))
    made.append(await client.enqueue(step, 2, 0))
    async with running_worker(app, concurrency=4):
        for job in made:  # parked behind the key in turn: one run at a time
            await wait_until(lambda job=job: finished(client, job.id), timeout=10)
        first = [fence for campaign, fence in fences if campaign == 1]
        assert first == [1, 2, 3]  # rising with every run holding campaign:1
        assert [fence for campaign, fence in fences if campaign == 2] == [1]  # its own counter
        last = await client.enqueue(step, 1, 9)
        await wait_until(lambda: finished(client, last.id))
    assert fences[-1] == (1, 4)


async def test_progress_is_stored_and_shown_by_chronoq_job(
    app: App, client: Client, capsys: pytest.CaptureFixture[str], redis_url: str, prefix: str
) -> None:
    cli = Cli(capsys, redis_url, prefix)
    reports: list[Any] = []
    release = asyncio.Event()

    @app.task
    async def copy(n: int) -> None:
        for i in range(n):
            chronoq.report_progress(i / n, f"copied {i} of {n}")
            await asyncio.sleep(0)
        chronoq.current_job().report_progress(0.4, "copying files")
        await release.wait()

    @app.task
    def sync_copy() -> None:
        chronoq.report_progress(1.0, "all done")

    job = await client.enqueue(copy, 50)
    other = await client.enqueue(sync_copy)
    async with running_worker(app):

        async def reported() -> bool:
            record = await client.job(job.id)
            reports.append((record.progress, record.progress_message))
            return record.progress == 0.4

        await wait_until(reported, timeout=10)
        shown = await asyncio.to_thread(cli, "job", job.id)  # the CLI runs its own loop
        assert shown.code == 0 and "40% copying files" in shown.out, shown.out
        as_json = await asyncio.to_thread(cli, "job", job.id, "--json")
        assert as_json.json()["progress"] == 0.4
        assert as_json.json()["progress_message"] == "copying files"
        release.set()
        await wait_until(lambda: finished(client, other.id))
        await wait_until(lambda: finished(client, job.id))
    record = await client.job(other.id)
    assert (record.progress, record.progress_message) == (1.0, "all done")
    assert (await client.job(job.id)).status is JobStatus.SUCCEEDED


async def test_bad_progress_is_refused_in_the_task(app: App, client: Client) -> None:
    errors: list[str] = []

    @app.task(max_retries=0)
    async def bad() -> None:
        for value in (1.5, float("nan"), "half"):
            try:
                chronoq.report_progress(value)  # type: ignore[arg-type]
            except ConfigurationError as exc:
                errors.append(str(exc))

    await client.enqueue(bad)
    await Worker(app, WorkerOptions(burst=True)).run()
    assert len(errors) == 3 and all("progress must be" in e for e in errors)


async def test_a_cancel_request_is_seen_by_the_task(app: App, client: Client) -> None:
    seen: list[bool] = []

    @app.task(max_retries=0)
    def long_job() -> None:
        ctx = chronoq.current_job()
        deadline = time.monotonic() + 10
        while not ctx.cancelled and time.monotonic() < deadline:
            time.sleep(0.01)
        seen.append(ctx.cancelled)
        ctx.raise_if_cancelled()

    job = await client.enqueue(long_job)
    async with running_worker(app) as worker:
        assert not worker.request_cancel("no-such-job")

        async def running() -> bool:
            return (await client.job(job.id)).status is JobStatus.RUNNING

        await wait_until(running)
        await wait_until(lambda: _async_true(worker.request_cancel(job.id)))
        await wait_until(lambda: finished(client, job.id))
    assert seen == [True]
    record = await client.job(job.id)
    assert record.status is JobStatus.CANCELLED  # stopped on the request: not retried
    assert record.error is not None and record.error.startswith("JobCancelled")
    assert isinstance(JobCancelled("x"), chronoq.ChronoqError)


async def _async_true(value: bool) -> bool:
    return value


async def test_the_schedule_fields_reach_the_context(
    app: App, client: Client, raw: redis.Redis
) -> None:
    """The schedule that made a job (written by the scheduler's enqueue) is read by the
    claim; a bad due time is dropped, never the job's failure."""
    seen: list[JobContext] = []

    @app.task
    async def report() -> None:
        seen.append(chronoq.current_job())

    jobs = [await client.submit(JobRequest(report, delay=0.05)) for _ in range(2)]
    q = client.broker.keys.queue("default")
    raw.hset(
        q.job(jobs[0].id), mapping={Field.SCHEDULE: "daily", Field.SCHEDULE_DUE: "1700000000000"}
    )
    raw.hset(q.job(jobs[1].id), mapping={Field.SCHEDULE: "weekly", Field.SCHEDULE_DUE: "soon"})
    await asyncio.sleep(0.06)
    await Worker(app, WorkerOptions(burst=True)).run()
    by_id = {ctx.id: ctx for ctx in seen}
    first, second = by_id[jobs[0].id], by_id[jobs[1].id]
    assert first.schedule == "daily"
    assert first.schedule_due == datetime.fromtimestamp(1_700_000_000, UTC)
    assert (second.schedule, second.schedule_due) == ("weekly", None)
