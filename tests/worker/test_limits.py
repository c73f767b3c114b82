"""Rate limits and quotas in running workers: deferral, back-off, runtime changes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from zoneinfo import ZoneInfo

from chronoq import App, Client, JobStatus
from chronoq.client import JobRequest
from chronoq.core.errors import RateLimited
from chronoq.core.limits import Limit, Period
from tests.fault.helpers import WorkerProcess, workers
from tests.sample_app import limited
from tests.worker.helpers import running_worker, wait_until


def grant_times(jobs: list) -> list[float]:  # type: ignore[type-arg]
    """When the limiter let each job start: its booking (the run-at it was deferred to)
    or, allowed at once, its claim. Not its recorded start: a worker starved of CPU
    claims several overdue bookings in one batch, which start together, late."""
    return sorted((j.run_at or j.started_at).timestamp() for j in jobs if j.started_at)


async def test_a_rate_limit_holds_across_two_worker_processes(
    client: Client, redis_url: str, prefix: str
) -> None:
    await client.enqueue_many(JobRequest(limited, ["k", n]) for n in range(60))
    with workers() as started:
        for _ in range(2):
            started.append(WorkerProcess(redis_url, prefix, "--concurrency", "8"))

        async def all_done() -> bool:
            (counts,) = await client.queues()
            return counts.stats.get("succeeded", 0) == 60

        await wait_until(all_done, timeout=30, interval=0.1)
        outputs = [w.output() for w in started]
    done = await client.jobs(status=JobStatus.SUCCEEDED, limit=100)
    assert len({j.worker_id for j in done}) == 2, outputs  # both processes took part
    starts = grant_times(done)
    # 20/s, no burst: evenly spaced 50 ms apart, so 60 starts take about 3 s
    assert starts[-1] - starts[0] >= 59 * 0.05 - 0.05
    for i, first in enumerate(starts):
        in_a_second = [s for s in starts[i:] if s < first + 1.0]
        assert len(in_a_second) <= 21  # 20 per second (+1 for ms rounding of records)
    (counts,) = await client.queues()
    assert counts.stats.get("throttled", 0) > 0  # deferred in Redis, not held by workers
    assert all(j.attempts == 1 for j in done)  # waiting spent no attempt


async def test_rate_limited_defers_the_job_and_backs_off_the_key(app: App, client: Client) -> None:
    app.limit("platform", "100/s", burst=10)
    calls: list[tuple[int, float]] = []

    @app.task(rate_limit="platform", rate_key="acct:{account}")
    async def fetch(account: str, n: int) -> int:
        calls.append((n, time.monotonic()))
        if n == 0 and len(calls) == 1:
            raise RateLimited(retry_after=0.5)
        return n

    first = await client.enqueue(fetch, "a", 0)
    async with running_worker(app, concurrency=4):
        await wait_until(until(lambda: len(calls) >= 1))
        hit = calls[0][1]
        second = await client.enqueue(fetch, "a", 1)
        other = await client.enqueue(fetch, "b", 2)
        assert await client.result(other.id, timeout=5) == 2
        assert await client.result(second.id, timeout=5) == 1
        assert await client.result(first.id, timeout=5) == 0
    by_n = {n: at for n, at in calls}
    assert by_n[2] - hit < 0.3  # another key is not held back
    assert by_n[1] - hit >= 0.45  # the same key waited out the back-off
    retried = await client.job(first.id)
    assert (retried.attempts, retried.status) == (1, JobStatus.SUCCEEDED)  # no attempt spent


async def test_raising_a_limit_at_runtime_releases_deferred_jobs(app: App, client: Client) -> None:
    app.limit("slow", "1/min")
    ran: list[int] = []

    @app.task(rate_limit="slow")
    async def post(n: int) -> None:
        ran.append(n)

    await client.enqueue_many(JobRequest(post, [n]) for n in range(4))
    async with running_worker(app, concurrency=4):
        await wait_until(until(lambda: len(ran) == 1))
        await asyncio.sleep(0.2)
        scheduled = await client.jobs(status=JobStatus.SCHEDULED)
        assert len(scheduled) == 3 and all(j.run_at for j in scheduled)  # booked minutes ahead
        async with app.backend() as backend:
            limits = backend.limits
            await limits.set(Limit("slow", 100, Period.SECOND))
        changed = time.monotonic()
        await wait_until(until(lambda: len(ran) == 4), timeout=5)
        assert time.monotonic() - changed < 2
    assert sorted(ran) == [0, 1, 2, 3]


async def test_a_quota_runs_up_to_its_allowance_then_waits_for_local_midnight(
    app: App, client: Client
) -> None:
    app.quota("sends", 2, per="day", tz="Asia/Kolkata")
    ran: list[int] = []

    @app.task(quota="sends", account="{account}")
    async def send(account: str, n: int) -> None:
        ran.append(n)

    async with AsyncExitStack() as stack:
        await stack.enter_async_context(running_worker(app))
        jobs = await client.enqueue_many(JobRequest(send, ["acme", n]) for n in range(3))
        await wait_until(until(lambda: len(ran) == 2))
        waiting = await client.job(jobs[2].id)

        async def deferred() -> bool:
            return (await client.job(jobs[2].id)).status is JobStatus.SCHEDULED

        await wait_until(deferred)
        waiting = await client.job(jobs[2].id)
    assert waiting.run_at is not None
    local = waiting.run_at.astimezone(ZoneInfo("Asia/Kolkata"))
    assert (local.hour, local.minute, local.second) == (0, 0, 0)
    assert waiting.attempts == 0


def until(condition: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return condition()

    return check


async def test_a_start_granted_by_the_quota_is_kept_when_the_rate_limit_defers(
    app: App, client: Client
) -> None:
    app.quota("daily", 5)
    app.limit("spaced", "5/s")
    ran: list[int] = []

    @app.task(quota="daily", rate_limit="spaced", account="{account}")
    async def post(account: str, n: int) -> None:
        ran.append(n)

    await client.enqueue_many(JobRequest(post, ["acme", n]) for n in range(5))
    async with running_worker(app):
        # the quota admits all five (counted once each); the rate limit spaces them
        # 200 ms apart; coming back, each keeps its quota start instead of asking again
        await wait_until(until(lambda: len(ran) == 5), timeout=5)
    assert sorted(ran) == [0, 1, 2, 3, 4]
    async with app.backend() as backend:
        limits = backend.limits
        (usage,) = await limits.usage("daily")
    assert usage.used == 5  # not 9: deferred jobs were not counted twice


async def test_each_source_gets_the_rate_limit_its_argument_names(app: App, client: Client) -> None:
    app.limit("source:slow.example", "5/s")
    app.limit("source:fast.example", "1000/s")
    starts: dict[str, list[float]] = {"slow.example": [], "fast.example": []}

    @app.task(rate_limit="source:{source}")
    async def scrape(source: str, page: int) -> None:
        starts[source].append(time.monotonic())

    await client.enqueue_many(
        JobRequest(scrape, [source, page]) for page in range(4) for source in starts
    )
    async with running_worker(app):
        await wait_until(lambda: _done(starts, 8), timeout=10)
    slow, fast = starts["slow.example"], starts["fast.example"]
    assert len(slow) == len(fast) == 4
    assert slow[-1] - slow[0] >= 3 * 0.2 - 0.05  # 5/s: 200 ms apart
    assert fast[-1] - fast[0] < 0.2  # its own budget, not the slow source's


async def _done(starts: dict[str, list[float]], count: int) -> bool:
    return sum(len(s) for s in starts.values()) >= count
