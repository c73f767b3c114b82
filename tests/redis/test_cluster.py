"""Schedules, locks, rate limits and quotas on a real Redis Cluster (Redis 7.0 and Valkey).

Each lives on a slot of its own (`{~sched}`, `{lock:NAME}`, `{lim:NAME}`) and the jobs
they make or gate on their queue's: the tests put the queue on another master than the
store it talks to, so nothing works by sharing a node.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from contextlib import AsyncExitStack
from zoneinfo import ZoneInfo

from redis.cluster import RedisCluster

from chronoq import App, Client, JobStatus
from chronoq.client import JobRequest
from chronoq.redis.keys import Keyspace
from chronoq.schedule.model import ScheduleDef
from tests.servers.cluster import Cluster
from tests.worker.cluster_helpers import BOTH_BINARIES, queues_on
from tests.worker.helpers import running_worker, wait_until


def queue_away_from(cluster: Cluster, prefix: str, key: str) -> str:
    """A queue whose keys live on another master than `key`."""
    owner = cluster.owner_of_key(key)
    other = next(m for m in cluster.masters() if m.port != owner.port)
    (queue,) = queues_on(cluster, prefix, [other])
    return queue


def idempotency_keys(raw: RedisCluster, prefix: str, queue: str) -> list[str]:
    pattern = f"{prefix}:{{{queue}}}:job:*"
    return sorted(str(raw.hget(k, "idem")) for k in raw.scan_iter(match=pattern, count=1000))


@BOTH_BINARIES
async def test_a_schedule_fires_once_per_second_with_two_workers_scheduling(
    redis_cluster: Cluster, raw_cluster: RedisCluster, cluster_app: App, prefix: str
) -> None:
    queue = queue_away_from(redis_cluster, prefix, Keyspace(prefix).schedules.due)
    ran: list[float] = []

    @cluster_app.task(queue=queue)
    async def tick() -> None:
        ran.append(time.time())

    cluster_app.schedule("tick", "@every 1s", tick)
    async with AsyncExitStack() as stack:
        for _ in range(2):  # each worker runs a scheduler loop too
            await stack.enter_async_context(running_worker(cluster_app, queues=[queue]))
        await asyncio.sleep(4.5)
        import sys

        for t in asyncio.all_tasks():
            t.print_stack(limit=8, file=sys.stdout)
    keys = idempotency_keys(raw_cluster, prefix, queue)
    assert len(keys) >= 3
    dues = [int(key.rsplit(":", 1)[1]) for key in keys]
    assert [b - a for a, b in itertools.pairwise(dues)] == [1000] * (len(dues) - 1)
    async with cluster_app.backend() as backend:
        store = backend.schedules
        assert (await store.get("tick")).runs == len(keys)  # every run fired once
    assert len(ran) in (len(keys), len(keys) - 1)  # the last may have fired at shutdown


@BOTH_BINARIES
async def test_a_schedule_added_at_runtime_wakes_the_sleeping_loops_at_once(
    redis_cluster: Cluster, raw_cluster: RedisCluster, cluster_app: App, prefix: str
) -> None:
    """With nothing due the loops sleep a minute: only the change published on the
    `{~sched}` channel can wake them (pub/sub through a Cluster client)."""
    queue = queue_away_from(redis_cluster, prefix, Keyspace(prefix).schedules.due)
    ran: list[float] = []

    @cluster_app.task(name="beat", queue=queue)
    async def beat() -> None:
        ran.append(time.monotonic())

    async with AsyncExitStack() as stack:
        for _ in range(2):
            await stack.enter_async_context(running_worker(cluster_app, queues=[queue]))
        await asyncio.sleep(1.0)  # both loops asleep: nothing is due
        async with cluster_app.backend() as backend:
            store = backend.schedules
            added = time.monotonic()
            await store.add(ScheduleDef("beat", "beat", "* * * * * *"))

        async def fired() -> bool:
            return len(ran) >= 1

        await wait_until(fired, timeout=10)
    assert ran[0] - added < 5  # about the next whole second, not the loops' minute of sleep
    assert len(set(idempotency_keys(raw_cluster, prefix, queue))) == len(ran)


@BOTH_BINARIES
async def test_locks_exclude_async_and_thread_holders_and_fences_grow(
    redis_cluster: Cluster, cluster_app: App
) -> None:
    inside: list[str] = []
    overlaps: list[str] = []
    fences: list[int] = []

    def enter(who: str, fence: int) -> None:
        if inside:
            overlaps.append(f"{who} entered while {inside} held it")
        inside.append(who)
        fences.append(fence)

    async def async_holder(n: int) -> None:
        for _ in range(3):
            async with cluster_app.lock("report", ttl=5, timeout=20) as lock:
                enter(f"task{n}", lock.fence)
                await asyncio.sleep(0.02)
                inside.remove(f"task{n}")

    def thread_holder() -> None:
        for _ in range(3):
            with cluster_app.sync_lock("report", ttl=5, timeout=20) as lock:
                enter("thread", lock.fence)
                time.sleep(0.02)
                inside.remove("thread")

    try:
        thread = threading.Thread(target=thread_holder)
        thread.start()
        await asyncio.gather(*(async_holder(n) for n in range(4)))
        await asyncio.to_thread(thread.join, 30)
    finally:
        cluster_app.coordinator.close_sync()
    assert overlaps == []
    assert len(fences) == 15 and fences == sorted(fences) and len(set(fences)) == 15
    assert await cluster_app.once("campaign-7") and not await cluster_app.once("campaign-7")
    async with cluster_app.backend() as backend:  # counted on the {~ops} slot
        contended = (await backend.ops.totals())["lock"]["report"]["contended"]
    assert 0 < contended < 15


@BOTH_BINARIES
async def test_a_rate_limit_spaces_starts_across_two_workers(
    redis_cluster: Cluster, cluster_app: App, cluster_client: Client, prefix: str
) -> None:
    queue = queue_away_from(redis_cluster, prefix, Keyspace(prefix).limit("api").config)
    cluster_app.limit("api", "20/s")
    starts: list[float] = []

    @cluster_app.task(queue=queue, rate_limit="api")
    async def call(n: int) -> int:
        starts.append(time.monotonic())
        return n

    made = await cluster_client.enqueue_many(JobRequest(call, [n]) for n in range(40))
    async with AsyncExitStack() as stack:
        for _ in range(2):
            await stack.enter_async_context(
                running_worker(cluster_app, queues=[queue], concurrency=8)
            )

        async def all_ran() -> bool:
            return len(starts) == 40

        await wait_until(all_ran, timeout=20, interval=0.05)
    jobs = [await cluster_client.job(job.id) for job in made]
    assert {(j.status, j.attempts) for j in jobs} == {(JobStatus.SUCCEEDED, 1)}
    # 20/s, no burst: the first starts at once, each other is booked 50 ms after the
    # one before (the limiter's decisions; starts only follow them, later on a busy box)
    booked = sorted(j.run_at.timestamp() for j in jobs if j.run_at is not None)
    assert len(booked) == 39
    assert min(b - a for a, b in itertools.pairwise(booked)) >= 0.049
    for job in jobs:  # none started before its booking (a booked start may come 50 ms
        if job.run_at is not None:  # early: EARLY_MS in limit_acquire.lua)
            assert job.started_at is not None
            assert job.started_at.timestamp() >= job.run_at.timestamp() - 0.051
    # The starts follow the bookings: the last began no earlier than 1.9 s after the
    # first booking, on the server's clock (a span of the tasks' own start times
    # would shrink by however late the first start ran on a busy box).
    assert len(starts) == 40
    last_start = max(j.started_at.timestamp() for j in jobs if j.started_at is not None)
    assert last_start - booked[0] >= 38 * 0.05 - 0.051
    (counts,) = [c for c in await cluster_client.queues() if c.queue == queue]
    assert counts.stats.get("throttled", 0) > 0  # deferred in Redis, not held by a worker


@BOTH_BINARIES
async def test_a_quota_holds_jobs_over_the_allowance_until_local_midnight(
    redis_cluster: Cluster, cluster_app: App, cluster_client: Client, prefix: str
) -> None:
    queue = queue_away_from(redis_cluster, prefix, Keyspace(prefix).limit("sends").config)
    cluster_app.quota("sends", 2, per="day", tz="Asia/Kolkata")
    ran: list[int] = []

    @cluster_app.task(queue=queue, quota="sends", account="{account}")
    async def send(account: str, n: int) -> None:
        ran.append(n)

    jobs = await cluster_client.enqueue_many(JobRequest(send, ["acme", n]) for n in range(3))
    jobs.append(await cluster_client.enqueue(send, "other", 9))  # another account's own quota
    async with running_worker(cluster_app, queues=[queue]):

        async def held() -> bool:
            job = await cluster_client.job(jobs[2].id)
            return len(ran) == 3 and job.status is JobStatus.SCHEDULED

        await wait_until(held, timeout=10, interval=0.05)
    assert sorted(ran) == [0, 1, 9]
    waiting = await cluster_client.job(jobs[2].id)
    assert waiting.attempts == 0 and waiting.run_at is not None
    local = waiting.run_at.astimezone(ZoneInfo("Asia/Kolkata"))
    assert (local.hour, local.minute, local.second) == (0, 0, 0)
    async with cluster_app.backend() as backend:
        limits = backend.limits
        usage = {u.key: u.used for u in await limits.usage("sends")}
    assert usage == {"acme": 2, "other": 1}


async def test_queue_pause_drain_and_the_lock_registry_on_a_cluster(
    redis_cluster: Cluster, cluster_app: App, prefix: str
) -> None:
    """Each queue script stays on its queue's slot; the lock registry ({~}) is written
    beside each acquire ({lock:NAME}, another slot) and lists the lock."""
    queue = queue_away_from(redis_cluster, prefix, Keyspace(prefix).locks)
    async with cluster_app.queue_admin() as admin, cluster_app.client() as client:
        await client.enqueue_many([JobRequest("t", [i], queue=queue, force=True) for i in range(5)])
        await admin.pause(queue, "on a cluster")
        claim = await client.broker.claim(
            queue, 5, lease_ms=60_000, token="tok", worker_id="w", retention_ms=60_000
        )
        assert claim.jobs == [] and (await admin.paused())[queue].reason == "on a cluster"
        assert await admin.resume(queue)
        assert (await admin.drain(queue)).cancelled == 5
    async with cluster_app.lock("report", ttl=5) as lock, cluster_app.lock_admin() as locks:
        (info,) = await locks.list(held_only=True)
        assert (info.name, info.fence) == ("report", lock.fence)
