"""Job gates (lock keys, concurrency keys) in the claim and release scripts."""

from __future__ import annotations

import asyncio

import redis

from chronoq import Client, JobStatus
from chronoq.client import JobRequest
from chronoq.core.claims import ClaimedJob
from chronoq.core.job import Gate, GatePolicy
from chronoq.redis.broker import Broker
from tests.redis.test_broker import DAY_MS, claim


def gated(key: str, limit: int = 1, policy: str = "wait", n: int = 0) -> JobRequest:
    return JobRequest("t", [n], gates=[Gate(key, limit, GatePolicy(policy))], force=True)


async def complete(broker: Broker, job: ClaimedJob) -> None:
    stale = await broker.complete(
        "default", [(job.id, job.token, "")], retention_ms=DAY_MS, result_ttl_ms=0
    )
    assert stale == []


async def test_a_held_lock_key_parks_the_next_job_until_the_holder_finishes(
    client: Client,
) -> None:
    first = await client.submit(gated("campaign:1", n=1))
    second = await client.submit(gated("campaign:1", n=2))
    other = await client.submit(gated("campaign:2", n=3))
    claimed = (await claim(client.broker)).jobs
    assert {j.id for j in claimed} == {first.id, other.id}
    parked = await client.job(second.id)
    assert parked.status is JobStatus.BLOCKED
    assert parked.attempts == 0  # parking spends no attempt
    assert [j.id for j in await client.jobs(status=JobStatus.BLOCKED)] == [second.id]
    (counts,) = await client.queues()
    assert counts.blocked == 1

    assert (await claim(client.broker)).jobs == []  # still held: nothing to claim
    await complete(client.broker, next(j for j in claimed if j.id == first.id))
    assert (await client.job(second.id)).status is JobStatus.QUEUED
    (again,) = (await claim(client.broker)).jobs
    assert (again.id, again.attempts) == (second.id, 1)


async def test_a_concurrency_key_lets_n_jobs_run_at_once(client: Client) -> None:
    jobs = await client.enqueue_many(gated("account:7", limit=3, n=i) for i in range(7))
    running = (await claim(client.broker)).jobs
    assert [j.id for j in running] == [j.id for j in jobs[:3]]
    assert (await client.queues())[0].blocked == 4
    await complete(client.broker, running[0])
    await complete(client.broker, running[1])
    more = (await claim(client.broker)).jobs
    assert [j.id for j in more] == [j.id for j in jobs[3:5]]  # parked order is kept


async def test_skip_and_fail_policies(client: Client) -> None:
    holder = await client.submit(gated("campaign:1"))
    skipped = await client.submit(gated("campaign:1", policy="skip"))
    failed = await client.submit(gated("campaign:1", policy="fail"))
    (claimed,) = (await claim(client.broker)).jobs
    assert claimed.id == holder.id
    job = await client.job(skipped.id)
    assert job.status is JobStatus.SKIPPED
    assert job.error == "lock key 'campaign:1' is held by another running job"
    dead = await client.job(failed.id)
    assert dead.status is JobStatus.DEAD
    assert dead.error == "lock key 'campaign:1' is held by another running job"
    assert [j.id for j in await client.dead_jobs()] == [failed.id]


async def test_a_failed_attempt_frees_the_key_and_wakes_a_parked_job(client: Client) -> None:
    holder = await client.submit(gated("k"))
    waiter = await client.submit(gated("k"))
    (job,) = (await claim(client.broker)).jobs
    status = await client.broker.fail(
        "default", job.id, job.token, error="boom", traceback="", retry_in_ms=60_000
    )
    assert status is JobStatus.RETRYING
    (woken,) = (await claim(client.broker)).jobs
    assert woken.id == waiter.id
    assert holder.id != waiter.id


async def test_a_graceful_hand_back_frees_the_key(client: Client) -> None:
    await client.submit(gated("k"))
    waiter = await client.submit(gated("k"))
    (job,) = (await claim(client.broker)).jobs
    assert await client.broker.release("default", [(job.id, job.token)]) == 1
    claimed = (await claim(client.broker)).jobs
    # the handed-back holder and the woken waiter are ready again; one holds the key
    assert len(claimed) == 1
    assert (await client.job(waiter.id)).status in (JobStatus.RUNNING, JobStatus.BLOCKED)


async def test_a_crashed_holder_frees_its_key_when_its_lease_is_recovered(
    client: Client,
) -> None:
    await client.submit(gated("k"))
    waiter = await client.submit(gated("k"))
    (job,) = (await claim(client.broker, lease_ms=100)).jobs
    await asyncio.sleep(0.15)
    assert (await claim(client.broker)).jobs == []  # an expired lease still holds the key
    requeued, dead, _ = await client.broker.recover("default", default_max_retries=3)
    assert (requeued, dead) == (1, 0)
    claimed = [j.id for j in (await claim(client.broker)).jobs]
    assert len(claimed) == 1  # one of the two: the key admits one at a time
    assert set(claimed) <= {job.id, waiter.id}


async def test_cancelling_a_parked_job_removes_it_from_the_line(client: Client) -> None:
    holder = await client.submit(gated("k"))
    waiter = await client.submit(gated("k"))
    (job,) = (await claim(client.broker)).jobs
    assert job.id == holder.id
    await client.cancel(waiter.id)
    assert (await client.job(waiter.id)).status is JobStatus.CANCELLED
    await complete(client.broker, job)
    assert (await claim(client.broker)).jobs == []
    assert (await client.queues())[0].blocked == 0


async def test_the_sweep_wakes_a_parked_job_whose_holder_vanished(
    client: Client, raw: redis.Redis
) -> None:
    await client.submit(gated("k"))
    waiter = await client.submit(gated("k"))
    (job,) = (await claim(client.broker)).jobs
    q = client.broker.keys.queue("default")
    raw.zrem(q.active, job.id)  # the holder's record is gone without leaving its gate
    raw.zadd(q.blocked, {waiter.id: 0})  # parked long ago
    *_, unparked = await client.broker.recover("default", default_max_retries=3)
    assert unparked == 1
    (woken,) = (await claim(client.broker)).jobs
    assert woken.id == waiter.id
    assert raw.llen(q.parked_prefix + "k") == 0


async def test_gated_jobs_are_not_handed_to_idle_workers(client: Client) -> None:
    await claim(client.broker)  # registers w1 as idle
    job = await client.submit(gated("k"))
    assert job.status is JobStatus.QUEUED
    plain = await client.submit(JobRequest("t", force=True))
    assert plain.status is JobStatus.RUNNING  # handed off
