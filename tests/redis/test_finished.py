"""Retry and delete one finished job: the same id with its history kept (retry),
or gone with every index entry (delete), each in one script; a job still waiting
or running is refused and left as it was."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
import redis

from chronoq import Client, JobRequest
from chronoq.core.errors import InvalidJobState, JobNotFound
from chronoq.core.job import JobStatus
from chronoq.observe.jobs import job_history
from chronoq.redis.keys import Keyspace
from tests.observe.history import HOUR_MS, run_jobs


async def finish_queued(client: Client, queue: str = "default") -> None:
    """Claim what is ready and complete it (a worker's part, without a worker)."""
    claim = await client.broker.claim(queue, 100, lease_ms=60_000, token="t", worker_id="w2",
                                      retention_ms=HOUR_MS, register_idle=False)  # fmt: skip
    assert claim.jobs
    outcomes = [(job.id, job.token, '"again"') for job in claim.jobs]
    await client.broker.complete(queue, outcomes, retention_ms=HOUR_MS, result_ttl_ms=60_000)


async def test_a_succeeded_job_runs_again_as_its_next_attempt(
    client: Client, raw: redis.Redis, prefix: str
) -> None:
    (job_id,) = await run_jobs(client, "send", 1)
    q = Keyspace(prefix).queue("default")
    raw.set(q.result_prefix + job_id, '"old"')
    assert raw.pttl(q.job_prefix + job_id) > 0 and raw.zscore(q.done, job_id) is not None
    assert await client.retry(job_id) is JobStatus.SUCCEEDED
    assert (await client.job(job_id)).status is JobStatus.QUEUED
    assert raw.pttl(q.job_prefix + job_id) == -1  # no longer expiring as a finished record
    assert not raw.exists(q.result_prefix + job_id)
    assert raw.zscore(q.done, job_id) is None
    assert raw.zscore(q.index_prefix + "f:t:send", job_id) is None
    await finish_queued(client)
    history = await job_history(client.inspector, job_id)
    assert [(a.outcome, a.number) for a in history.timeline] == [
        ("succeeded", 1), ("retried", None), ("succeeded", 2)]  # fmt: skip
    assert history.job.result == "again" and history.job.status is JobStatus.SUCCEEDED
    assert raw.zscore(q.done, job_id) is not None  # indexed once, as finished again


async def test_a_run_starting_in_the_millisecond_of_its_retry_is_its_next_attempt(
    client: Client, raw: redis.Redis, prefix: str
) -> None:
    """On a fast machine the claim after a retry can start in the millisecond the
    retry's mark was made: the timeline still shows the run as attempt 2, not as a
    mark (marks' times say nothing about the record's run)."""
    (job_id,) = await run_jobs(client, "send", 1)
    assert await client.retry(job_id) is JobStatus.SUCCEEDED
    await finish_queued(client)
    q = Keyspace(prefix).queue("default")
    stored = json.loads(raw.hget(q.job_prefix + job_id, "hist") or "[]")
    (mark,) = [entry for entry in stored if entry.get("o") == "retried"]
    raw.hset(q.job_prefix + job_id, "st", mark["at"])  # the same millisecond
    history = await job_history(client.inspector, job_id)
    assert [(a.outcome, a.number) for a in history.timeline] == [
        ("succeeded", 1), ("retried", None), ("succeeded", 2)]  # fmt: skip


async def test_cancelled_and_expired_jobs_are_retried_and_dead_ones_requeued(
    client: Client, raw: redis.Redis, prefix: str
) -> None:
    soon = datetime.now(UTC) + timedelta(milliseconds=50)
    late = await client.submit(JobRequest("send", [2], force=True, deadline=soon))
    await asyncio.sleep(0.1)
    await client.broker.claim("default", 100, lease_ms=60_000, token="t", worker_id="w",
                              retention_ms=HOUR_MS, register_idle=False)  # fmt: skip
    assert (await client.job(late.id)).status is JobStatus.EXPIRED
    assert await client.retry(late.id) is JobStatus.EXPIRED
    waiting = await client.submit(JobRequest("send", [1], force=True))
    await client.cancel(waiting.id)
    assert await client.retry(waiting.id) is JobStatus.CANCELLED
    (dead,) = await run_jobs(client, "flaky", 1, queue="other", error=ValueError("x"))
    assert await client.retry(dead) is JobStatus.DEAD
    await finish_queued(client)  # the past deadline was dropped: it runs, not expires
    await finish_queued(client, "other")
    timeline = (await job_history(client.inspector, waiting.id)).timeline
    assert [a.outcome for a in timeline] == ["cancelled", "retried", "succeeded"]
    assert (await client.job(late.id)).status is JobStatus.SUCCEEDED
    assert (await client.job(dead)).status is JobStatus.SUCCEEDED


async def test_a_waiting_job_is_refused_and_left_alone(client: Client, raw: redis.Redis) -> None:
    made = await client.submit(JobRequest("send", [1], force=True))
    before = raw.hgetall(f"{client.backend.keys.queue('default').job_prefix}{made.id}")
    with pytest.raises(InvalidJobState, match="is queued: only a finished job can be retried"):
        await client.retry(made.id)
    with pytest.raises(InvalidJobState, match="cancel it first"):
        await client.delete(made.id)
    assert raw.hgetall(f"{client.backend.keys.queue('default').job_prefix}{made.id}") == before
    with pytest.raises(JobNotFound):
        await client.retry("nope")
    with pytest.raises(JobNotFound):
        await client.delete("nope")


async def test_delete_removes_the_record_and_its_index_entries(
    client: Client, raw: redis.Redis, prefix: str
) -> None:
    q = Keyspace(prefix).queue("default")
    (done,) = await run_jobs(client, "send", 1)
    (dead,) = await run_jobs(client, "flaky", 1, error=ValueError("x"))
    indexed = [k for k in raw.scan_iter(match=f"{q.index_prefix}*")]
    assert any(raw.zscore(k, dead) is not None for k in indexed if raw.type(k) == "zset")
    assert await client.delete(done) is JobStatus.SUCCEEDED
    assert await client.delete(dead) is JobStatus.DEAD
    for job_id in (done, dead):
        assert not raw.exists(q.job_prefix + job_id, q.result_prefix + job_id)
        holders = [k for k in raw.scan_iter(match=f"{prefix}:*")
                   if raw.type(k) == "zset" and raw.zscore(k, job_id) is not None]  # fmt: skip
        assert holders == []
    with pytest.raises(JobNotFound):
        await client.delete(done)
