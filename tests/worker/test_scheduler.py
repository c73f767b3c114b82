"""The scheduler loop against a real Redis: exactly once across loops, runtime
changes within a second, misfire and overlap policies, errors never drop runs."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
import redis

from chronoq import App, Client, JobStatus
from chronoq.core.job import to_millis
from chronoq.redis.connection import connect
from chronoq.redis.schedules import ScheduleStore
from chronoq.schedule.model import Misfire, Overlap, ScheduleDef
from chronoq.worker.scheduler import Scheduler
from tests.worker.helpers import running_worker, wait_until


@asynccontextmanager
async def schedulers(app: App, count: int = 1, **kw: Any) -> AsyncIterator[list[Scheduler]]:
    stop = asyncio.Event()
    clients = [app.client() for _ in range(count)]
    listeners = [connect(app.redis_url(), blocking_timeout=30) for _ in range(count)]
    loops = [Scheduler(c, listener=lst, **kw) for c, lst in zip(clients, listeners, strict=True)]
    tasks = [asyncio.create_task(loop.run(stop)) for loop in loops]
    try:
        yield loops
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        for c, lst in zip(clients, listeners, strict=True):
            await c.close()
            await lst.aclose()


@pytest.fixture(autouse=True)
def task_t(app: App) -> None:
    """The schedules below run task "t", which the app defines: a scheduler fires only
    tasks that its app or a running one defines."""

    @app.task(name="t")
    def t(*args: Any, **kwargs: Any) -> None: ...


def run_keys(raw: redis.Redis, prefix: str, queue: str = "default") -> list[str]:
    """The idempotency keys (sched:<name>:<due ms>) of every job in a queue."""
    keys = raw.scan_iter(match=f"{prefix}:{{{queue}}}:job:*", count=1000)
    return sorted(str(raw.hget(k, "idem")) for k in keys)


async def test_three_loops_fire_each_second_exactly_once(
    app: App, client: Client, raw: redis.Redis, prefix: str
) -> None:
    async with app.backend() as backend:
        store = backend.schedules
        info = await store.add(ScheduleDef("tick", "t", "* * * * * *"))
    assert info.next_due is not None
    first = to_millis(info.next_due)
    async with schedulers(app, 3) as loops:
        await asyncio.sleep(3.6)
    keys = run_keys(raw, prefix)
    expected = [f"sched:tick:{first + 1000 * i}" for i in range(len(keys))]
    assert len(keys) >= 3 and keys == expected  # every second, once, no gap
    assert sum(loop.fired for loop in loops) == len(keys)
    async with app.backend() as backend:
        store = backend.schedules
        assert (await store.get("tick")).runs == len(keys)


async def test_changes_take_effect_without_restart(
    app: App, client: Client, raw: redis.Redis, prefix: str
) -> None:
    async with schedulers(app), app.backend() as backend:
        store = backend.schedules
        await asyncio.sleep(0.2)  # the loop sleeps: nothing is due
        await store.add(ScheduleDef("s", "t", "* * * * * *"))

        async def fired() -> bool:
            return len(run_keys(raw, prefix)) >= 1

        await wait_until(fired, timeout=1.5)
        await store.pause("s")
        count = len(run_keys(raw, prefix))
        await asyncio.sleep(1.5)
        assert len(run_keys(raw, prefix)) == count
        await store.resume("s")
        await wait_until(lambda: _more(raw, prefix, count), timeout=1.5)
        await store.update("s", queue="other")
        await wait_until(lambda: _more(raw, prefix, 0, "other"), timeout=1.5)


async def _more(raw: redis.Redis, prefix: str, count: int, queue: str = "default") -> bool:
    return len(run_keys(raw, prefix, queue)) > count


async def stored_as_if_down(store: ScheduleStore, d: ScheduleDef, down: float) -> None:
    """Store `d` as though the schedulers had been down for `down` seconds."""
    stored = (await store.add(d)).definition
    now = await store.server_now()
    missed_since = stored.next_run_after(now - timedelta(seconds=down))
    assert missed_since is not None
    await store.redis.zadd(store.keys.due, {d.name: to_millis(missed_since)})


async def test_misfire_policies_after_downtime(app: App, raw: redis.Redis, prefix: str) -> None:
    async with app.backend() as backend:
        store = backend.schedules
        for policy in Misfire:  # daily runs, down for ten days
            d = ScheduleDef(
                policy.value, "t", "@daily", misfire=policy, grace=1, queue=policy.value
            )
            await stored_as_if_down(store, d, down=10 * 86400)
        async with schedulers(app) as (loop,):
            await loop.tick()
    assert len(run_keys(raw, prefix, "once")) == 1
    assert len(run_keys(raw, prefix, "all")) == 10
    assert len(run_keys(raw, prefix, "skip")) == 0
    async with app.backend() as backend:
        store = backend.schedules
        for policy in Misfire:  # and every one is due tomorrow again
            info = await store.get(policy.value)
            assert info.next_due is not None
            assert timedelta(0) < info.next_due - await store.server_now() <= timedelta(days=1)


async def test_overlap_skip_never_runs_two_at_once(app: App, client: Client) -> None:
    starts: list[float] = []

    @app.task
    async def slow() -> None:
        starts.append(asyncio.get_running_loop().time())
        await asyncio.sleep(1.6)

    async with app.backend() as backend:
        store = backend.schedules
        await store.add(ScheduleDef("slow", slow.name, "* * * * * *", overlap=Overlap.SKIP))
    async with running_worker(app, scheduler=False), schedulers(app):
        await asyncio.sleep(4.2)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(starts) >= 2 and all(g >= 1.6 for g in gaps), starts
    async with app.backend() as backend:
        store = backend.schedules
        assert (await store.get("slow")).runs >= 4  # skipped runs count as fired


async def test_overlap_queue_runs_each_after_the_previous_finished(
    app: App, client: Client
) -> None:
    spans: list[tuple[float, float]] = []

    @app.task
    async def slow() -> None:
        began = asyncio.get_running_loop().time()
        await asyncio.sleep(1.2)
        spans.append((began, asyncio.get_running_loop().time()))

    async with app.backend() as backend:
        store = backend.schedules
        await store.add(ScheduleDef("slow", slow.name, "* * * * * *", overlap=Overlap.QUEUE))
    async with running_worker(app, scheduler=False, concurrency=4), schedulers(app):
        await asyncio.sleep(4.5)
    assert len(spans) >= 3
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end - 0.01, spans  # never two at once
    async with app.backend() as backend:
        store = backend.schedules
        info = await store.get("slow")
    assert info.runs == len(spans) or info.runs == len(spans) + 1  # none skipped


async def test_an_enqueue_failure_is_reported_and_retried_not_dropped(
    app: App, raw: redis.Redis, prefix: str
) -> None:
    errors: list[str] = []
    names: list[str] = []
    async with app.backend() as backend:
        store = backend.schedules
        await store.add(ScheduleDef("s", "t", "@every 1s"))

    def on_error(name: str, exc: BaseException) -> None:
        names.append(name)
        errors.append(str(exc))

    async with schedulers(app, on_error=on_error) as (loop,):
        real = loop.client.enqueue_many
        failures = 3

        async def flaky(requests: Any) -> Any:
            nonlocal failures
            if failures:
                failures -= 1
                raise redis.ConnectionError("server unreachable (simulated)")
            return await real(requests)

        loop.client.enqueue_many = flaky  # type: ignore[method-assign]

        async def enqueued() -> bool:
            return len(run_keys(raw, prefix)) >= 1

        await wait_until(enqueued, timeout=5)
    assert len(errors) == 3 and "server unreachable" in errors[0]
    assert names == ["s"] * 3  # the handler is told the schedule's name
    first = run_keys(raw, prefix)[0]
    async with app.backend() as backend:
        store = backend.schedules
        info = await store.get("s")
    anchor = info.definition.anchor
    assert anchor is not None  # the first run after the failures was not skipped
    assert first == f"sched:s:{to_millis(anchor + timedelta(seconds=1))}"


async def test_declared_schedules_run_in_workers(app: App, client: Client) -> None:
    done: list[int] = []

    @app.task
    async def beat(n: int) -> None:
        done.append(n)

    app.schedule("beat", "@every 1s", beat, args=[7])
    async with running_worker(app), running_worker(app):  # two workers, two scheduler loops

        async def twice() -> bool:
            return len(done) >= 2

        await wait_until(twice, timeout=4)
    jobs = await client.jobs(status=JobStatus.SUCCEEDED)
    assert done[:2] == [7, 7] and len(jobs) == len(done)


async def test_a_run_not_started_within_the_schedules_deadline_ends_expired(
    app: App, client: Client
) -> None:
    @app.task(name="post")
    async def post() -> None:
        pass

    async with app.schedules() as schedules:
        await schedules.add("hourly-post", "* * * * * *", post, deadline=0.3)
    async with schedulers(app):
        await wait_until(lambda: _job_count(client, 2), timeout=5)
    await asyncio.sleep(0.4)  # every run is past its deadline now
    async with running_worker(app, burst=True, scheduler=False) as worker:
        await wait_until(lambda: _no_waiting(client), timeout=5)
    jobs = await client.jobs(limit=100)
    assert jobs and {j.status for j in jobs} == {JobStatus.EXPIRED}
    assert worker.jobs_done == 0
    # due time + 0.3 s; each run is enqueued within milliseconds of its due time
    assert all(j.deadline is not None and j.enqueued_at is not None for j in jobs)
    assert all(abs(j.deadline - j.enqueued_at) <= timedelta(seconds=0.3) for j in jobs)


async def _job_count(client: Client, count: int) -> bool:
    return len(await client.jobs(limit=100)) >= count


async def _no_waiting(client: Client) -> bool:
    return all(j.status.is_finished for j in await client.jobs(limit=100))
