"""A claim with `ahead_ms` leases a plain job falling due within that long, its
started time set to its due time; anything else waits for its due time."""

from __future__ import annotations

import asyncio

import redis

from chronoq import Client, JobStatus
from chronoq.client import JobRequest
from chronoq.core.job import Gate
from chronoq.redis.broker import Broker, Claim

DAY_MS = 86_400_000


async def claim(broker: Broker, ahead_ms: int) -> Claim:
    return await broker.claim(
        "default", 10, lease_ms=5_000, token="tok", worker_id="w1", retention_ms=DAY_MS,
        ahead_ms=ahead_ms,
    )  # fmt: skip


async def test_a_job_due_within_the_lead_is_leased_with_its_due_time_as_start(
    client: Client, raw: redis.Redis
) -> None:
    job = await client.submit(JobRequest("t", delay=0.2, force=True))
    due_ms = raw.zscore(client.broker.keys.queue("default").scheduled, job.id)
    assert due_ms is not None
    (taken,) = (got := await claim(client.broker, ahead_ms=1_000)).jobs
    assert taken.id == job.id and taken.attempts == 1
    assert taken.started_ms == int(due_ms) > got.server_ms  # it starts when due, not now
    record = await client.job(job.id)
    assert record.status is JobStatus.RUNNING
    assert record.started_at is not None and record.started_at >= record.run_at  # type: ignore[operator]
    assert raw.zscore(client.broker.keys.queue("default").scheduled, job.id) is None


async def test_without_a_lead_or_beyond_it_the_job_stays_scheduled(client: Client) -> None:
    job = await client.submit(JobRequest("t", delay=0.3, force=True))
    for ahead_ms in (0, 50):
        got = await claim(client.broker, ahead_ms=ahead_ms)
        assert got.jobs == []
        assert got.next_due_ms is not None and 50 < got.next_due_ms <= 301
    assert (await client.job(job.id)).status is JobStatus.SCHEDULED


async def test_a_gated_job_is_not_taken_ahead_but_when_due(client: Client) -> None:
    job = await client.submit(JobRequest("t", delay=0.1, gates=[Gate("acct:1")], force=True))
    got = await claim(client.broker, ahead_ms=1_000)
    assert got.jobs == []
    assert got.next_due_ms is not None and got.next_due_ms <= 101
    await asyncio.sleep(0.15)
    (taken,) = (got := await claim(client.broker, ahead_ms=1_000)).jobs
    assert taken.id == job.id and taken.started_ms == got.server_ms


async def test_no_delay_is_ready_at_once_whatever_the_sub_ms_clock(client: Client) -> None:
    """A delay is counted to the nearest ms of the server's µs clock; none is no wait."""
    for _ in range(20):
        job = await client.submit(JobRequest("t", delay=0, force=True))
        assert job.status is JobStatus.QUEUED
