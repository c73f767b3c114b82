"""Retry control: delay lists, permanent errors, retry_on / dont_retry, RetryAfter,
soft then hard time limits (async and sync), and requeueing dead jobs with their
attempt history."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import redis

from chronoq import App, Client, JobStatus, Permanent, RetryAfter, SoftTimeLimit
from chronoq.client import JobRequest
from chronoq.core.claims import ClaimedJob
from chronoq.core.errors import ConfigurationError
from chronoq.core.job import JobOptions, option_fields
from chronoq.core.retry import Backoff
from chronoq.worker import Worker, WorkerOptions
from chronoq.worker.execution import Outcome, execute, plan
from tests.worker.helpers import running_worker, wait_until


def claimed(task: str, attempts: int, *, options: JobOptions | None = None) -> ClaimedJob:
    fields = option_fields(options) if options else []
    opts = dict(zip(fields[::2], fields[1::2], strict=True)).get("opts")
    return ClaimedJob("id", "default", task, "[[]]", attempts, None, opts, "tok")


async def run_once(app: App, job: ClaimedJob) -> Outcome:
    run = plan(job, app.registry)
    assert not isinstance(run, Outcome), run
    with ThreadPoolExecutor(1) as threads:
        return await execute(job, run, threads)


async def burst(app: App) -> None:
    await asyncio.wait_for(Worker(app, WorkerOptions(burst=True)).run(), 30)


def recorded_delay(job: object) -> float:
    """Seconds between a failed attempt's end and its retry's run-at, as recorded."""
    run_at, finished = job.run_at, job.finished_at  # type: ignore[attr-defined]
    assert run_at is not None and finished is not None
    return (run_at - finished).total_seconds()


async def test_delay_list_is_followed_exactly_and_its_last_delay_repeats(app: App) -> None:
    @app.task(name="flaky", max_retries=10, retry_delays=[300, 900, 1800])
    async def flaky() -> None:
        raise RuntimeError("down")

    delays = [(await run_once(app, claimed("flaky", n))).retry_in for n in range(1, 6)]
    assert delays == [300, 900, 1800, 1800, 1800]


async def test_a_jobs_own_delays_win_over_the_tasks(app: App) -> None:
    @app.task(name="flaky", retry_delays=[300])
    async def flaky() -> None:
        raise RuntimeError("down")

    options = JobOptions(retry_delays=(5, 7))
    assert (await run_once(app, claimed("flaky", 2, options=options))).retry_in == 7
    backoff = JobOptions(backoff=Backoff(base=2, jitter=0))  # a job's backoff beats the task's list
    assert (await run_once(app, claimed("flaky", 1, options=backoff))).retry_in == 2


async def test_first_retry_of_a_delay_list_is_recorded_as_its_run_at(
    app: App, client: Client
) -> None:
    @app.task(max_retries=2, retry_delays=[300, 900])
    async def flaky() -> None:
        raise RuntimeError("down")

    job = await client.enqueue(flaky)
    own = await client.submit(JobRequest(flaky, retry_delays=[42.5]))
    async with running_worker(app):
        await wait_until(
            lambda: _all_status(client, [job.id, own.id], JobStatus.RETRYING), timeout=10
        )
    assert recorded_delay(await client.job(job.id)) == 300
    assert recorded_delay(await client.job(own.id)) == 42.5


async def _all_status(client: Client, ids: list[str], status: JobStatus) -> bool:
    return all([(await client.job(i)).status is status for i in ids])


async def test_permanent_error_is_dead_at_once_with_its_reason(app: App, client: Client) -> None:
    @app.task(max_retries=5, retry_delays=[0])
    async def publish(post: int) -> None:
        raise Permanent(f"post {post} was deleted")

    job = await client.enqueue(publish, 7)
    await burst(app)
    record = await client.job(job.id)
    assert record.status is JobStatus.DEAD and record.attempts == 1
    assert record.error == "Permanent: post 7 was deleted"


class BadRequest(Exception):
    pass


class Flaky(Exception):
    pass


async def test_dont_retry_and_retry_on_choose_what_is_retried(app: App) -> None:
    @app.task(name="strict", max_retries=3, dont_retry=BadRequest, retry_delays=[1])
    def strict(kind: str) -> None:
        raise BadRequest() if kind == "bad" else Flaky()

    @app.task(name="picky", max_retries=3, retry_on=[Flaky], retry_delays=[1])
    def picky(kind: str) -> None:
        raise Flaky() if kind == "flaky" else KeyError(kind)

    def job(task: str, arg: str) -> ClaimedJob:
        return ClaimedJob("id", "default", task, f'[["{arg}"]]', 1, None, None, "tok")

    assert (await run_once(app, job("strict", "bad"))).retry_in is None
    assert (await run_once(app, job("strict", "other"))).retry_in == 1
    assert (await run_once(app, job("picky", "flaky"))).retry_in == 1
    dead = await run_once(app, job("picky", "other"))
    assert dead.retry_in is None and dead.error == "KeyError: 'other'"


def test_retry_options_are_checked_where_declared(app: App) -> None:
    with pytest.raises(ConfigurationError, match="exception classes"):
        app.task(dont_retry=["ValueError"])  # type: ignore[list-item]
    with pytest.raises(ConfigurationError, match="retry_delays"):
        app.task(retry_delays=[])
    with pytest.raises(ConfigurationError, match="retry_delays"):
        app.task(retry_delays=[-1])
    with pytest.raises(ConfigurationError, match="greater than soft_timeout"):
        app.task(timeout=5, soft_timeout=5)
    with pytest.raises(ConfigurationError, match="factor must be >= 1 and at most 100"):
        Backoff(factor=1e300)


async def test_retry_after_waits_exactly_and_spends_an_attempt(app: App, client: Client) -> None:
    @app.task(max_retries=1, backoff=Backoff(base=1, jitter=1))
    async def polite() -> None:
        raise RetryAfter(600)

    job = await client.enqueue(polite)
    async with running_worker(app):
        await wait_until(lambda: _all_status(client, [job.id], JobStatus.RETRYING))
    record = await client.job(job.id)
    assert record.attempts == 1 and recorded_delay(record) == 600
    assert record.error == "RetryAfter: retry after 600 s"
    # Out of retries, a RetryAfter ends the job dead: it counts as an attempt.
    last = await run_once(app, claimed(polite.name, 2))
    assert last.retry_in is None and last.error == "RetryAfter: retry after 600 s"


async def test_soft_limit_lets_an_async_task_clean_up(app: App, client: Client) -> None:
    @app.task(soft_timeout=0.2, timeout=5, max_retries=0)
    async def careful() -> str:
        try:
            await asyncio.sleep(5)
        except SoftTimeLimit:
            await asyncio.sleep(0.01)  # the task may still await while cleaning up
            return "saved partial work"
        return "finished"

    @app.task(soft_timeout=0.1, timeout=0.4, max_retries=0)
    async def stubborn() -> None:
        try:
            await asyncio.sleep(5)
        except SoftTimeLimit:
            await asyncio.sleep(5)  # ignores the warning: the hard limit stops it

    @app.task(soft_timeout=0.1, max_retries=0)
    async def oblivious() -> None:
        await asyncio.sleep(5)

    jobs = [await client.enqueue(t) for t in (careful, stubborn, oblivious)]
    started = time.monotonic()
    await burst(app)
    assert time.monotonic() - started < 3
    done, hard, soft = [await client.job(j.id) for j in jobs]
    assert done.status is JobStatus.SUCCEEDED and done.result == "saved partial work"
    assert hard.status is JobStatus.DEAD and hard.error is not None
    assert hard.error.startswith("JobTimeout: run exceeded its timeout of 0.4s")
    assert soft.status is JobStatus.DEAD
    assert soft.error == "SoftTimeLimit: run exceeded its soft time limit of 0.1s"


async def test_soft_limit_raises_in_a_sync_tasks_thread(app: App, client: Client) -> None:
    @app.task(soft_timeout=0.2, timeout=5, max_retries=0)
    def crunch() -> int:
        rounds = 0
        try:
            while True:  # Python code between short sleeps: the alarm lands in it
                time.sleep(0.01)
                rounds += 1
        except SoftTimeLimit:
            return rounds

    @app.task(soft_timeout=0.1, max_retries=0)
    def runaway() -> None:
        while True:
            time.sleep(0.01)

    @app.task(soft_timeout=0.5, max_retries=0)
    def quick() -> str:
        return "done"

    jobs = [await client.enqueue(t) for t in (crunch, runaway, quick)]
    await burst(app)
    partial, stopped, fine = [await client.job(j.id) for j in jobs]
    assert partial.status is JobStatus.SUCCEEDED and 1 <= partial.result <= 25
    assert stopped.status is JobStatus.DEAD
    assert stopped.error == "SoftTimeLimit: run exceeded its soft time limit of 0.1s"
    assert fine.status is JobStatus.SUCCEEDED and fine.result == "done"
    # The pool threads survived their alarms: more sync jobs run (quick's alarm never fires).
    again = [await client.enqueue(quick) for _ in range(4)]
    await burst(app)
    assert [(await client.job(j.id)).result for j in again] == ["done"] * 4


async def test_requeued_dead_job_keeps_its_attempts_and_gets_its_retries_again(
    app: App, client: Client
) -> None:
    @app.task(max_retries=3, retry_delays=[0])
    async def broken() -> None:
        raise RuntimeError("still broken")

    job = await client.enqueue(broken)
    async with running_worker(app):
        await wait_until(lambda: _all_status(client, [job.id], JobStatus.DEAD))
    assert (await client.job(job.id)).attempts == 4
    assert await client.requeue_dead(job_id=job.id) == 1
    record = await client.job(job.id)
    assert record.status is JobStatus.QUEUED and record.attempts == 4
    async with running_worker(app):
        await wait_until(lambda: _all_status(client, [job.id], JobStatus.DEAD))
    record = await client.job(job.id)
    assert record.status is JobStatus.DEAD and record.attempts == 8  # runs 5..8: 3 retries again


async def test_recovery_counts_a_requeued_jobs_attempts_from_its_requeue(
    client: Client,
) -> None:
    broker = client.broker
    job = await client.submit(JobRequest("t", max_retries=1, force=True))
    (first,) = (
        await broker.claim(
            "default", 1, lease_ms=60_000, token="a", worker_id="w", retention_ms=60_000
        )
    ).jobs
    await broker.fail("default", job.id, "a", error="E", traceback="", retry_in_ms=None)
    assert await client.requeue_dead(job_id=job.id) == 1
    claim = await broker.claim(
        "default", 1, lease_ms=1, token="b", worker_id="w", retention_ms=60_000
    )
    (again,) = claim.jobs
    assert (first.attempts, first.retry_base) == (1, 0)
    assert (again.attempts, again.retry_base) == (2, 1)
    await asyncio.sleep(0.01)
    requeued, dead, _ = await broker.recover("default", default_max_retries=3)
    # Attempt 2 is its first since the requeue: its one retry is still to come.
    assert (requeued, dead) == (1, 0)


async def test_requeue_selects_by_task_error_and_time(
    app: App, client: Client, raw: redis.Redis, prefix: str
) -> None:
    @app.task(max_retries=0)
    async def post(text: str) -> None:
        raise RuntimeError(text)

    @app.task(max_retries=0)
    async def other(text: str) -> None:
        raise RuntimeError(text)

    made = [
        await client.enqueue(post, "HTTP 503 from platform"),
        await client.enqueue(post, "HTTP 400 bad request"),
        await client.enqueue(other, "HTTP 503 from platform"),
        await client.enqueue(post, "http 503 long ago"),
    ]
    await burst(app)
    old = (datetime.now(UTC) - timedelta(hours=3)).timestamp() * 1000
    raw.zadd(f"{prefix}:{{default}}:dead", {made[3].id: old})
    assert await client.requeue_dead(task=post.name, error_contains="503", since=3600) == 1
    assert (await client.job(made[0].id)).status is JobStatus.QUEUED
    assert await client.requeue_dead(error_contains="503") == 2  # other's, and the old one
    assert await client.requeue_dead(task=post.name, since=timedelta(hours=1)) == 1
    assert await client.requeue_dead() == 0
    with pytest.raises(ConfigurationError, match="time-zone-aware"):
        await client.requeue_dead(since=datetime(2020, 1, 1))
