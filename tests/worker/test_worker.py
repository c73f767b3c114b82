"""Worker behaviour, in-process against a real Redis."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import redis

from chronoq import App, Backoff, Client, JobStatus, current_job
from chronoq.client import JobRequest
from chronoq.observe.jobs import job_history
from tests.worker.helpers import running_worker, wait_until


async def finished(client: Client, job_id: str) -> bool:
    return (await client.job(job_id)).status.is_finished


async def test_retries_follow_backoff_then_dead_then_requeue_runs(app: App, client: Client) -> None:
    attempts: list[float] = []
    due: list[datetime | None] = []
    healed = threading.Event()

    @app.task(max_retries=3, backoff=Backoff(base=0.2, factor=2, maximum=10, jitter=0))
    async def flaky() -> str:
        attempts.append(time.monotonic())
        due.append(current_job().scheduled_at)
        if not healed.is_set():
            raise RuntimeError("upstream down")
        return "ok"

    job = await client.enqueue(flaky)
    async with running_worker(app, concurrency=2):
        await wait_until(lambda: finished(client, job.id), timeout=10)
        record = await client.job(job.id)
        assert record.status is JobStatus.DEAD
        assert record.attempts == 4
        assert record.error == "RuntimeError: upstream down"
        assert record.traceback and "upstream down" in record.traceback
        # Each retry was due its backoff after the failure before it (both Redis' clock,
        # exact); when it then ran depends on how busy the machine is: never earlier.
        ended = [a.finished_at for a in (await job_history(client.inspector, job.id)).attempts]
        gaps = [b - a for a, b in itertools.pairwise(attempts)]
        for failed, retry_due, gap, expected in zip(
            ended[:3], due[1:], gaps, [0.2, 0.4, 0.8], strict=True
        ):
            assert failed is not None and retry_due is not None, (ended, due)
            assert (retry_due - failed).total_seconds() == pytest.approx(expected, abs=0.002)
            assert gap >= expected - 0.02, gaps
        healed.set()
        assert await client.requeue_dead(job_id=job.id) == 1
        assert await client.result(job.id, timeout=5) == "ok"


async def test_timeout_cancels_async_run_and_counts_as_failure(app: App, client: Client) -> None:
    @app.task(timeout=0.2, max_retries=0)
    async def slow() -> None:
        await asyncio.sleep(5)

    job = await client.enqueue(slow)
    async with running_worker(app):
        await wait_until(lambda: finished(client, job.id))
    record = await client.job(job.id)
    assert record.status is JobStatus.DEAD
    assert record.error is not None and "timeout of 0.2s" in record.error
    assert record.duration is not None and record.duration < 2


async def test_timeout_applies_to_sync_tasks(app: App, client: Client) -> None:
    @app.task(max_retries=0)
    def blocking() -> None:
        time.sleep(1)

    job = await client.submit(JobRequest(blocking, timeout=0.1))
    async with running_worker(app):
        await wait_until(lambda: finished(client, job.id))
    assert "timeout" in ((await client.job(job.id)).error or "")


async def test_deadline_expires_job_not_started_in_time(app: App, client: Client) -> None:
    ran = []

    @app.task
    async def report() -> None:
        ran.append(1)

    deadline = datetime.now(UTC) + timedelta(milliseconds=100)
    job = await client.submit(JobRequest(report, delay=0.3, deadline=deadline))
    async with running_worker(app):
        await wait_until(lambda: finished(client, job.id))
    assert (await client.job(job.id)).status is JobStatus.EXPIRED
    assert ran == []


async def test_bad_payload_and_unknown_task_are_dead_and_worker_lives(
    app: App, client: Client, raw: redis.Redis
) -> None:
    @app.task
    async def fine() -> int:
        return 1

    broken = await client.enqueue(fine)
    raw.hset(client.broker.keys.queue("default").job(broken.id), "args", "{not json")
    unknown = await client.submit(JobRequest("no.such.task", force=True))
    async with running_worker(app):
        await wait_until(lambda: finished(client, broken.id))
        await wait_until(lambda: finished(client, unknown.id))
        after = await client.enqueue(fine)
        assert await client.result(after.id, timeout=5) == 1
    bad = await client.job(broken.id)
    assert bad.status is JobStatus.DEAD and "undecodable payload" in (bad.error or "")
    lost = await client.job(unknown.id)
    assert lost.status is JobStatus.DEAD and "unknown task 'no.such.task'" in (lost.error or "")


async def test_unserializable_result_is_a_failed_attempt(app: App, client: Client) -> None:
    @app.task(max_retries=0)
    async def odd() -> object:
        return object()

    job = await client.enqueue(odd)
    async with running_worker(app):
        await wait_until(lambda: finished(client, job.id))
    assert "not JSON-serializable" in ((await client.job(job.id)).error or "")


async def test_sync_tasks_do_not_block_the_loop(app: App, client: Client) -> None:
    released = threading.Event()

    @app.task
    def sleeper() -> None:
        released.wait(10)  # blocks its thread until the test has seen the quick job run

    @app.task
    async def quick() -> float:
        return time.monotonic()

    slow = await client.enqueue(sleeper)
    await asyncio.sleep(0)
    async with running_worker(app, concurrency=4):
        await wait_until(lambda: client_status(client, slow.id, JobStatus.RUNNING))
        fast = await client.enqueue(quick)
        try:
            await client.result(fast.id, timeout=5)
            assert (await client.job(slow.id)).status is JobStatus.RUNNING
        finally:
            released.set()
        await client.result(slow.id, timeout=5)


async def client_status(client: Client, job_id: str, status: JobStatus) -> bool:
    return (await client.job(job_id)).status is status


async def test_priority_order_with_one_slot(app: App, client: Client) -> None:
    order: list[int] = []

    @app.task
    async def record(n: int) -> None:
        order.append(n)

    await client.enqueue_many(JobRequest(record, [p], priority=p) for p in (1, 3, 2, 3, -5))
    async with running_worker(app, concurrency=1, batch=1):
        await wait_until(lambda: _count(order, 5))
    assert order == [3, 3, 2, 1, -5]


async def _count(items: list[int], n: int) -> bool:
    return len(items) >= n


async def test_graceful_stop_hands_back_unfinished_job(app: App, client: Client) -> None:
    @app.task
    async def long() -> None:
        await asyncio.sleep(30)

    job = await client.enqueue(long)
    async with running_worker(app, shutdown_timeout=0.2):
        await wait_until(lambda: client_status(client, job.id, JobStatus.RUNNING))
    record = await client.job(job.id)
    assert record.status is JobStatus.QUEUED
    assert record.attempts == 0


async def test_heartbeat_lists_live_worker_then_removes_it(app: App, client: Client) -> None:
    async with running_worker(app, queues="a,b", concurrency=3) as worker:
        await wait_until(lambda: _has_workers(client, 1))
        (info,) = await client.workers()
        assert info["id"] == worker.id
        assert info["queues"] == "a,b" and info["concurrency"] == "3"
    assert await client.workers() == []


async def _has_workers(client: Client, n: int) -> bool:
    return len(await client.workers()) == n


async def test_lost_lease_cancels_the_run(app: App, client: Client, raw: redis.Redis) -> None:
    cancelled = asyncio.Event()

    @app.task
    async def hold() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    job = await client.enqueue(hold)
    async with running_worker(app, lease=0.9):
        await wait_until(lambda: client_status(client, job.id, JobStatus.RUNNING))
        raw.hset(client.broker.keys.queue("default").job(job.id), "lease", "stolen")
        await asyncio.wait_for(cancelled.wait(), 3)


async def test_weighted_queues_serve_every_queue(app: App, client: Client) -> None:
    seen: list[str] = []

    @app.task
    async def where(q: str) -> None:
        seen.append(q)

    for q in ("hi", "lo"):
        await client.enqueue_many(JobRequest(where, [q], queue=q) for _ in range(40))
    async with running_worker(app, queues="hi=3,lo=1", concurrency=1, batch=1):
        await wait_until(lambda: _count(seen, 80))  # type: ignore[arg-type]
    first = seen[:40]
    assert "lo" in first  # weighted, not strict: lo is not starved (fails w.p. 0.75**40)
    assert first.count("hi") > first.count("lo")
