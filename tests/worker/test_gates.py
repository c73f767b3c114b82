"""Lock keys and concurrency limits on jobs, with two workers serving one queue."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack

import redis

from chronoq import App, Client, JobStatus, Task
from chronoq.client import JobRequest
from tests.worker.helpers import running_worker, wait_until


async def test_a_lock_key_lets_one_job_per_key_run_across_two_workers(
    app: App, client: Client
) -> None:
    spans: dict[int, list[tuple[float, float]]] = defaultdict(list)

    @app.task(lock="campaign:{campaign_id}")
    async def step(campaign_id: int, n: int) -> None:
        start = time.monotonic()
        await asyncio.sleep(0.02)
        spans[campaign_id].append((start, time.monotonic()))

    await client.enqueue_many(JobRequest(step, [n % 2, n]) for n in range(24))
    async with AsyncExitStack() as stack:
        for _ in range(2):
            await stack.enter_async_context(running_worker(app, concurrency=4))

        async def all_ran() -> bool:
            return sum(len(s) for s in spans.values()) == 24

        await wait_until(all_ran, timeout=20)
    for intervals in spans.values():
        intervals.sort()
        for (_, end), (start, _) in itertools.pairwise(intervals):
            assert start >= end, "two jobs with one lock key overlapped"
    first = {key: min(s for s, _ in v) for key, v in spans.items()}
    last = {key: max(e for _, e in v) for key, v in spans.items()}
    assert first[1] < last[0] and first[0] < last[1]  # the two keys did run side by side
    (counts,) = await client.queues()
    assert (counts.blocked, counts.waiting, counts.stats["succeeded"]) == (0, 0, 24)


async def test_a_concurrency_limit_caps_running_jobs_per_key(app: App, client: Client) -> None:
    running: dict[str, int] = defaultdict(int)
    peak: dict[str, int] = defaultdict(int)
    done = 0

    @app.task(concurrency=("account:{account}", 3))
    async def scrape(account: str) -> None:
        nonlocal done
        running[account] += 1
        peak[account] = max(peak[account], running[account])
        await asyncio.sleep(0.03)
        running[account] -= 1
        done += 1

    await client.enqueue_many(JobRequest(scrape, [f"a{n % 2}"]) for n in range(30))
    async with AsyncExitStack() as stack:
        for _ in range(2):
            await stack.enter_async_context(running_worker(app, concurrency=8))

        async def all_ran() -> bool:
            return done == 30

        await wait_until(all_ran, timeout=20)
    assert dict(peak) == {"a0": 3, "a1": 3}


async def test_skip_policy_ends_the_job_skipped_and_the_holder_succeeds(
    app: App, client: Client
) -> None:
    gate = asyncio.Event()

    @app.task(lock="report:{day}", on_locked="skip")
    async def report(day: str) -> str:
        await gate.wait()
        return day

    holder = await client.enqueue(report, "2026-11-27")
    async with running_worker(app, concurrency=4):

        async def started() -> bool:
            return (await client.job(holder.id)).status is JobStatus.RUNNING

        await wait_until(started)
        second = await client.enqueue(report, "2026-11-27")

        async def skipped() -> bool:
            return (await client.job(second.id)).status is JobStatus.SKIPPED

        await wait_until(skipped)
        gate.set()
        assert await client.result(holder.id, timeout=5) == "2026-11-27"


def keyed_long_step(app: App, events: list[str]) -> Task:
    """A task holding a lock key: its first run sleeps long, later ones briefly."""

    @app.task(lock="campaign:{campaign_id}", max_retries=3)
    async def long_step(campaign_id: int) -> str:
        events.append("start")
        try:
            await asyncio.sleep(0.3 if len(events) > 1 else 30)
        except asyncio.CancelledError:
            events.append("cancelled")
            raise
        events.append("end")
        return "done"

    return long_step


def first_run_started(events: list[str]) -> Callable[[], Awaitable[bool]]:
    async def started() -> bool:
        return events == ["start"]

    return started


async def test_a_job_claimed_again_stops_its_earlier_run_in_the_same_worker(
    app: App, client: Client, raw: redis.Redis
) -> None:
    events: list[str] = []
    job = await client.enqueue(keyed_long_step(app, events), 1)
    async with running_worker(app, lease=0.6):
        await wait_until(first_run_started(events))
        # The worker stalls past its lease (simulated): the lease expires and is recovered.
        raw.zadd(client.broker.keys.queue("default").active, {job.id: 0})
        # This or the worker's own recovery loop, whichever comes first, requeues it.
        await client.broker.recover("default", default_max_retries=3)
        assert await client.result(job.id, timeout=10) == "done"
    assert events == ["start", "cancelled", "start", "end"]  # never two runs at once
    assert (await client.job(job.id)).attempts == 2  # recovered once


async def test_a_renewal_that_finds_the_lease_taken_cancels_the_keyed_run(
    app: App, client: Client, raw: redis.Redis
) -> None:
    events: list[str] = []
    job = await client.enqueue(keyed_long_step(app, events), 1)
    async with running_worker(app, lease=0.6):
        await wait_until(first_run_started(events))
        taken = time.monotonic()
        raw.hset(client.broker.keys.queue("default").job(job.id), "lease", "another-token")

        async def cancelled() -> bool:
            return "cancelled" in events

        await wait_until(cancelled, timeout=2)
        assert time.monotonic() - taken < 0.6  # within a renewal interval (lease / 3)
        # its lease then expires unrenewed; recovery requeues it and it runs again
        assert await client.result(job.id, timeout=10) == "done"
    assert events == ["start", "cancelled", "start", "end"]
