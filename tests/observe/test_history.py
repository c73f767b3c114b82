"""Every attempt of a job is in its timeline, in order: a success, retries, a dead
end, a hand-back at shutdown, a deferral by a limit, cancels and a requeue from the
dead-letter queue (a lost worker: tests/fault/test_history.py)."""

from __future__ import annotations

import asyncio

import redis

from chronoq import App, Client, JobStatus, RateLimited
from chronoq.core.job import Field
from chronoq.observe.jobs import JobHistory, job_history
from tests.worker.helpers import running_worker, wait_until


async def history(client: Client, job_id: str) -> JobHistory:
    return await job_history(client.inspector, job_id)


def outcomes(found: JobHistory) -> list[tuple[int | None, str]]:
    return [(entry.number, entry.outcome) for entry in found.timeline]


async def status_is(client: Client, job_id: str, *statuses: JobStatus) -> bool:
    return (await client.job(job_id)).status in statuses


async def test_one_successful_attempt_stores_no_history_entry(
    app: App, client: Client, raw: redis.Redis
) -> None:
    @app.task
    async def fine() -> int:
        await asyncio.sleep(0.01)
        return 1

    job = await client.enqueue(fine)
    async with running_worker(app) as worker:
        assert await client.result(job.id, timeout=10) == 1
    q = client.broker.keys.queue("default")
    assert raw.hget(q.job(job.id), Field.HISTORY) is None  # the record is the attempt
    found = await history(client, job.id)
    (only,) = found.timeline
    assert (only.number, only.outcome, only.worker) == (1, "succeeded", worker.id)
    assert only.error is None and only.counted
    assert only.duration is not None and only.duration >= 0.01
    assert only.peak_memory is not None and only.peak_memory > 10 * 2**20  # a Python process
    assert only.started_at == found.job.started_at and only.finished_at == found.job.finished_at


async def test_a_retry_then_a_success(app: App, client: Client) -> None:
    calls: list[int] = []

    @app.task(retry_delays=[0.05])
    async def flaky() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("first try fails")
        return "ok"

    job = await client.enqueue(flaky)
    async with running_worker(app):
        assert await client.result(job.id, timeout=10) == "ok"
    found = await history(client, job.id)
    assert outcomes(found) == [(1, "retrying"), (2, "succeeded")]
    failed, succeeded = found.timeline
    assert failed.error_class == "ValueError" and failed.error == "ValueError: first try fails"
    assert failed.traceback is not None and "first try fails" in failed.traceback
    assert failed.finished_at is not None and succeeded.started_at is not None
    assert failed.finished_at <= succeeded.started_at
    assert succeeded.error is None and succeeded.traceback is None
    assert failed.peak_memory and succeeded.peak_memory


async def test_retries_then_dead(app: App, client: Client) -> None:
    @app.task(max_retries=2, retry_delays=[0.02])
    async def broken(n: int) -> None:
        raise KeyError(n)

    job = await client.enqueue(broken, 7)
    async with running_worker(app):
        await wait_until(lambda: status_is(client, job.id, JobStatus.DEAD))
    found = await history(client, job.id)
    assert outcomes(found) == [(1, "retrying"), (2, "retrying"), (3, "dead")]
    assert {e.error_class for e in found.timeline} == {"KeyError"}
    assert all(e.counted for e in found.timeline)
    as_json = found.to_dict()
    assert as_json["status"] == "dead" and len(as_json["timeline"]) == 3
    assert as_json["timeline"][2]["outcome"] == "dead"
    assert as_json["timeline"][0]["error_class"] == "KeyError"


async def test_a_hand_back_at_shutdown_is_an_attempt_not_counted(app: App, client: Client) -> None:
    runs: list[int] = []

    @app.task
    async def long() -> str:
        runs.append(1)
        if len(runs) == 1:
            await asyncio.sleep(30)
        return "done"

    job = await client.enqueue(long)
    async with running_worker(app, shutdown_timeout=0.2) as first:
        await wait_until(lambda: status_is(client, job.id, JobStatus.RUNNING))
    assert (await history(client, job.id)).timeline[0].outcome == "shutdown"
    async with running_worker(app):
        assert await client.result(job.id, timeout=10) == "done"
    found = await history(client, job.id)
    assert outcomes(found) == [(1, "shutdown"), (1, "succeeded")]
    handed_back = found.timeline[0]
    assert not handed_back.counted and handed_back.worker == first.id
    assert found.job.attempts == 1


async def test_a_deferral_by_a_limit_is_in_the_timeline(app: App, client: Client) -> None:
    app.limit("platform", "100/s", burst=10)
    calls: list[int] = []

    @app.task(rate_limit="platform")
    async def fetch() -> int:
        calls.append(1)
        if len(calls) == 1:
            raise RateLimited(retry_after=0.1)
        return len(calls)

    job = await client.enqueue(fetch)
    async with running_worker(app):
        assert await client.result(job.id, timeout=10) == 2
    found = await history(client, job.id)
    assert outcomes(found) == [(1, "deferred"), (1, "succeeded")]
    assert not found.timeline[0].counted


async def test_cancels_waiting_and_running(app: App, client: Client) -> None:
    @app.task
    async def stuck() -> None:
        await asyncio.sleep(30)

    waiting = await client.enqueue(stuck)
    assert await client.cancel(waiting.id) == "cancelled"
    found = await history(client, waiting.id)
    assert outcomes(found) == [(None, "cancelled")]

    running = await client.enqueue(stuck)
    app.settings = app.settings.model_copy(update={"cancel_grace": 0.05})
    async with running_worker(app):
        await wait_until(lambda: status_is(client, running.id, JobStatus.RUNNING))
        assert await client.cancel(running.id) == "cancelling"
        await wait_until(lambda: status_is(client, running.id, JobStatus.CANCELLED))
    found = await history(client, running.id)
    assert outcomes(found) == [(1, "cancelled")]
    assert found.timeline[0].worker is not None and found.timeline[0].error


async def test_a_requeue_from_the_dead_letter_queue(app: App, client: Client) -> None:
    fixed = False

    @app.task(max_retries=0)
    async def once_broken() -> str:
        if not fixed:
            raise RuntimeError("not yet")
        return "fixed"

    job = await client.enqueue(once_broken)
    async with running_worker(app):
        await wait_until(lambda: status_is(client, job.id, JobStatus.DEAD))
    assert await client.requeue_dead(job_id=job.id) == 1
    waiting = await history(client, job.id)
    assert outcomes(waiting) == [(1, "dead"), (None, "requeued")]
    fixed = True
    async with running_worker(app):
        assert await client.result(job.id, timeout=10) == "fixed"
    found = await history(client, job.id)
    assert outcomes(found) == [(1, "dead"), (None, "requeued"), (2, "succeeded")]
    dead, requeued, _ = found.timeline
    assert dead.error == "RuntimeError: not yet" and dead.peak_memory
    assert dead.finished_at is not None and requeued.finished_at is not None
    assert dead.finished_at <= requeued.finished_at
