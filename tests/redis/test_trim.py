"""trim.lua: finished jobs older than the retention are forgotten, with what their
records left behind; dead and waiting jobs are kept."""

from __future__ import annotations

import asyncio

import pytest
import redis

from chronoq import Client, JobStatus
from chronoq.client import JobRequest
from chronoq.redis.broker import BATCH_LIMIT, Broker
from chronoq.redis.scripts import SCRIPTS
from chronoq.worker.trimming import MAX_INTERVAL, MIN_INTERVAL, trim_interval
from tests.worker.helpers import wait_until

HOUR_MS = 3_600_000


async def finish(broker: Broker, count: int, *, retention_ms: int = HOUR_MS) -> list[str]:
    """Claim `count` ready jobs and record them as succeeded, each with a result."""
    claim = await broker.claim(
        "default", count, lease_ms=60_000, token="tok", worker_id="w1", retention_ms=HOUR_MS
    )
    outcomes = [(job.id, job.token, f'"result of {job.id}"') for job in claim.jobs]
    stale = await broker.complete(
        "default", outcomes, retention_ms=retention_ms, result_ttl_ms=HOUR_MS
    )
    assert stale == []
    return [job.id for job in claim.jobs]


async def test_trim_forgets_finished_jobs_and_keeps_dead_and_waiting_ones(
    client: Client, raw: redis.Redis
) -> None:
    broker, q = client.broker, client.broker.keys.queue("default")
    made = await client.enqueue_many(
        JobRequest("t", [i], max_retries=0, force=True) for i in range(5)
    )
    cancelled, waiting = made[2].id, made[4].id
    await client.cancel(cancelled)
    succeeded = await finish(broker, 2)
    dead_claim = await broker.claim(
        "default", 1, lease_ms=60_000, token="t2", worker_id="w1", retention_ms=HOUR_MS
    )
    (dead,) = dead_claim.jobs
    status = await broker.fail(
        "default", dead.id, dead.token, error="boom", traceback="", retry_in_ms=None
    )
    assert status is JobStatus.DEAD
    stats = raw.hgetall(q.stats)
    await asyncio.sleep(0.05)

    assert await broker.trim("default", retention_ms=HOUR_MS) == 0  # nothing that old yet
    assert raw.zcard(q.done) == 2  # succeeded; each other finished state has its own
    assert raw.zrange(q.finished("cancelled"), 0, -1) == [cancelled]

    assert await broker.trim("default", retention_ms=10) == 3
    assert raw.exists(q.done, q.finished("cancelled")) == 0
    for job_id in [*succeeded, cancelled]:
        assert raw.exists(q.job(job_id), q.result(job_id)) == 0, job_id
    # Dead jobs stay until requeued or purged; waiting jobs are not finished.
    assert raw.zscore(q.dead, dead.id) is not None
    assert raw.hget(q.job(dead.id), "status") == "dead"
    assert raw.hget(q.job(waiting), "status") == "queued"
    assert raw.zscore(q.ready, waiting) is not None
    trimmed = raw.hgetall(q.stats)
    assert trimmed.pop("trimmed") == "3"  # what was trimmed is counted
    assert trimmed == stats  # lifetime counters are not records


async def test_a_result_outliving_its_record_is_deleted(client: Client, raw: redis.Redis) -> None:
    """A result kept longer than the retention can no longer be read once its record
    expired: trimming the record's index entry deletes it too."""
    broker, q = client.broker, client.broker.keys.queue("default")
    await client.submit(JobRequest("t", force=True))
    (job_id,) = await finish(broker, 1, retention_ms=100)

    async def record_expired() -> bool:
        return not raw.exists(q.job(job_id))

    await wait_until(record_expired, timeout=30)
    assert raw.exists(q.result(job_id)) == 1 and raw.zcard(q.done) == 1
    assert await broker.trim("default", retention_ms=100) == 1
    assert raw.exists(q.result(job_id), q.done) == 0


async def test_an_index_entry_of_an_unfinished_job_is_dropped_but_the_job_kept(
    client: Client, raw: redis.Redis
) -> None:
    q = client.broker.keys.queue("default")
    job = await client.submit(JobRequest("t", force=True))
    raw.zadd(q.done, {job.id: 1})  # a stray entry (no script writes this)
    assert await client.broker.trim("default", retention_ms=10) == 1
    assert raw.exists(q.done) == 0
    assert raw.hget(q.job(job.id), "status") == "queued"


async def test_trim_works_in_bounded_batches(client: Client, raw: redis.Redis) -> None:
    broker, q = client.broker, client.broker.keys.queue("default")
    total = 2 * BATCH_LIMIT + 500
    await client.enqueue_many(JobRequest("t", [i], force=True) for i in range(total))
    done = 0
    while done < total:
        done += len(await finish(broker, BATCH_LIMIT))
    await asyncio.sleep(0.05)
    keys = [q.done, q.done_prefix, q.dead, q.job_prefix, q.result_prefix, q.stats, q.index_prefix]
    args = ["succeeded", 10, 0, BATCH_LIMIT, 0]
    assert await SCRIPTS.trim(broker.redis, keys, args) == BATCH_LIMIT  # one full batch
    assert raw.zcard(q.done) == total - BATCH_LIMIT
    assert await broker.trim("default", retention_ms=10) == total - BATCH_LIMIT  # loops
    assert raw.exists(q.done) == 0
    assert list(raw.scan_iter(match=f"{q.job_prefix}*", count=1000)) == []
    assert list(raw.scan_iter(match=f"{q.result_prefix}*", count=1000)) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["succeeded", "soon", 0, 10, 0], "age ms must be a number >= 0, got soon"),
        (["succeeded", -1, 0, 10, 0], "age ms must be a number >= 0, got -1"),
        (["succeeded", 10, "x", 10, 0], "count must be a number >= 0, got x"),
        (["succeeded", 10, 0, "all", 0], "batch size must be a positive number, got all"),
        (["running", 10, 0, 10, 0], "unknown state running"),
        (["succeeded", 10, 0, 10, "x"], "index age ms must be a number >= 0, got x"),
    ],
)
async def test_bad_arguments_are_refused_before_anything_is_removed(
    client: Client, raw: redis.Redis, args: list[str | int], message: str
) -> None:
    q = client.broker.keys.queue("default")
    await client.submit(JobRequest("t", force=True))
    await finish(client.broker, 1)
    await asyncio.sleep(0.02)
    keys = [q.done, q.done_prefix, q.dead, q.job_prefix, q.result_prefix, q.stats, q.index_prefix]
    with pytest.raises(redis.ResponseError, match=message):
        await SCRIPTS.trim(client.broker.redis, keys, args)
    assert raw.zcard(q.done) == 1


def test_the_trim_interval_is_a_fraction_of_the_retention_within_bounds() -> None:
    assert trim_interval(20) == 5
    assert trim_interval(2) == MIN_INTERVAL == 1
    assert trim_interval(7 * 86400) == MAX_INTERVAL == 60
