"""Queue semantics of the broker's scripts, against a real Redis."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import redis

from chronoq import Client, JobStatus
from chronoq.client import JobRequest
from chronoq.core.claims import NOW
from chronoq.core.errors import ConfigurationError, InvalidJobState, SerializationError
from chronoq.core.ids import new_job_id
from chronoq.core.job import JobSpec
from chronoq.redis.broker import Broker

LEASE_MS = 5_000
DAY_MS = 86_400_000


async def claim(broker: Broker, count: int = 10, token: str = "tok", lease_ms: int = LEASE_MS):
    return await broker.claim(
        "default", count, lease_ms=lease_ms, token=token, worker_id="w1", retention_ms=DAY_MS
    )


async def test_priority_first_then_fifo(client: Client) -> None:
    ids = {}
    for name, prio in [("low", -1), ("a", 5), ("mid", 0), ("b", 5), ("top", 9)]:
        job = await client.submit(JobRequest("t", [name], priority=prio, force=True))
        ids[job.id] = name
    claimed = await claim(client.broker)
    assert [ids[j.id] for j in claimed.jobs] == ["top", "a", "b", "mid", "low"]


async def test_claim_counts_attempts_and_leases(client: Client, raw: redis.Redis) -> None:
    job = await client.submit(JobRequest("t", (1,), force=True))
    (claimed,) = (await claim(client.broker)).jobs
    assert claimed.attempts == 1
    record = await client.job(job.id)
    assert record.status is JobStatus.RUNNING
    assert record.worker_id == "w1"
    active = client.broker.keys.queue("default").active
    assert raw.zscore(active, job.id) is not None


async def test_delayed_job_waits_in_redis_then_becomes_ready(client: Client) -> None:
    job = await client.submit(JobRequest("t", delay=0.3, force=True))
    assert job.status is JobStatus.SCHEDULED
    first = await claim(client.broker)
    assert first.jobs == []
    # due at the nearest ms to 0.3 s on, counted from the claim's whole ms: <= 301
    assert first.next_due_ms is not None and 0 < first.next_due_ms <= 301
    await asyncio.sleep(0.35)
    assert [j.id for j in (await claim(client.broker)).jobs] == [job.id]


async def test_at_requires_aware_datetime(client: Client) -> None:
    with pytest.raises(ConfigurationError, match="time-zone-aware"):
        await client.submit(JobRequest("t", at=datetime(2030, 1, 1, 9, 0), force=True))
    job = await client.submit(
        JobRequest("t", at=datetime.now(UTC) + timedelta(hours=1), force=True)
    )
    assert job.status is JobStatus.SCHEDULED


async def test_unserializable_arguments_fail_at_enqueue(client: Client) -> None:
    with pytest.raises(SerializationError, match="not JSON-serializable"):
        await client.submit(JobRequest("t", (object(),), force=True))
    assert await client.queues() == []


async def test_bulk_enqueue_keeps_order_and_validates_first(client: Client) -> None:
    jobs = await client.enqueue_many(JobRequest("t", [i], force=True) for i in range(2500))
    assert len(jobs) == 2500
    assert len({j.id for j in jobs}) == 2500
    (counts,) = await client.queues()
    assert counts.waiting == 2500
    with pytest.raises(SerializationError):
        await client.enqueue_many(
            [JobRequest("t", [1], force=True), JobRequest("t", [{1, 2}], force=True)]
        )
    (counts,) = await client.queues()
    assert counts.waiting == 2500  # the bad batch wrote nothing


async def test_unique_key_under_concurrent_enqueues(client: Client) -> None:
    results = await asyncio.gather(
        *(
            client.submit(JobRequest("t", [i], unique_key="report:42", force=True))
            for i in range(20)
        )
    )
    assert len({r.id for r in results}) == 1
    assert sum(r.created for r in results) == 1
    (counts,) = await client.queues()
    assert counts.waiting == 1


async def test_unique_key_freed_when_job_finishes(client: Client) -> None:
    first = await client.submit(JobRequest("t", unique_key="k", force=True))
    (claimed,) = (await claim(client.broker)).jobs
    again = await client.submit(JobRequest("t", unique_key="k", force=True))
    assert again.id == first.id and not again.created  # still running
    await client.broker.complete(
        "default", [(claimed.id, claimed.token, "")], retention_ms=DAY_MS, result_ttl_ms=DAY_MS
    )
    fresh = await client.submit(JobRequest("t", unique_key="k", force=True))
    assert fresh.created and fresh.id != first.id


async def test_stale_lease_cannot_overwrite_outcome(client: Client) -> None:
    job = await client.submit(JobRequest("t", force=True))
    await claim(client.broker, token="old", lease_ms=1)
    await asyncio.sleep(0.01)
    assert await client.broker.recover("default", default_max_retries=3) == (1, 0, 0)
    await claim(client.broker, token="new")
    stale = await client.broker.complete(
        "default", [(job.id, "old", '"stale"')], retention_ms=DAY_MS, result_ttl_ms=DAY_MS
    )
    assert stale == [job.id]
    failed = await client.broker.fail(
        "default", job.id, "old", error="x", traceback="", retry_in_ms=0
    )
    assert failed is None
    assert await client.broker.renew("default", [(job.id, "old")], lease_ms=LEASE_MS) == (
        [job.id],
        [],
    )
    assert await client.broker.renew("default", [(job.id, "new")], lease_ms=LEASE_MS) == ([], [])
    record = await client.job(job.id)
    assert record.status is JobStatus.RUNNING
    assert record.attempts == 2


async def test_recover_dead_letters_when_attempts_run_out(client: Client) -> None:
    job = await client.submit(JobRequest("t", max_retries=0, force=True))
    await claim(client.broker, lease_ms=1)
    await asyncio.sleep(0.01)
    assert await client.broker.recover("default", default_max_retries=3) == (0, 1, 0)
    record = await client.job(job.id)
    assert record.status is JobStatus.DEAD
    assert record.error is not None and "worker lost" in record.error


async def test_release_hands_back_without_counting(client: Client) -> None:
    first = await client.submit(JobRequest("t", (1,), force=True))
    second = await client.submit(JobRequest("t", (2,), force=True))
    (claimed, _) = (await claim(client.broker, count=2)).jobs
    assert claimed.id == first.id
    assert await client.broker.release("default", [(first.id, "tok")]) == 1
    record = await client.job(first.id)
    assert record.status is JobStatus.QUEUED and record.attempts == 0
    (again,) = (await claim(client.broker, count=1)).jobs
    assert again.id == first.id  # back at the front, ahead of nothing else waiting
    assert second.id != again.id


async def test_retry_goes_to_scheduled_then_dead(client: Client) -> None:
    job = await client.submit(JobRequest("t", force=True))
    await claim(client.broker)
    status = await client.broker.fail(
        "default", job.id, "tok", error="Boom: x", traceback="tb", retry_in_ms=10_000
    )
    assert status is JobStatus.RETRYING
    record = await client.job(job.id)
    assert record.status is JobStatus.RETRYING and record.error == "Boom: x"
    assert record.run_at is not None
    assert [j.id for j in await client.jobs(status=JobStatus.RETRYING)] == [job.id]


async def test_deadline_expires_waiting_job(client: Client) -> None:
    soon = datetime.now(UTC) + timedelta(milliseconds=50)
    job = await client.submit(JobRequest("t", deadline=soon, unique_key="u", force=True))
    await asyncio.sleep(0.1)
    assert (await claim(client.broker)).jobs == []
    record = await client.job(job.id)
    assert record.status is JobStatus.EXPIRED
    assert (await client.submit(JobRequest("t", unique_key="u", force=True))).created


async def test_cancel_a_waiting_job_now_and_a_running_one_by_request(
    client: Client, raw: redis.Redis, prefix: str
) -> None:
    waiting = await client.submit(JobRequest("t", delay=60, force=True))
    assert await client.cancel(waiting.id) == "cancelled"
    assert (await client.job(waiting.id)).status is JobStatus.CANCELLED
    running = await client.submit(JobRequest("t", force=True))
    (leased,) = (await claim(client.broker)).jobs
    assert await client.cancel(running.id) == "cancelling"  # its worker is told
    assert raw.hget(f"{prefix}:{{default}}:job:{running.id}", "cxl")
    lost, cancelling = await client.broker.renew("default", [(leased.id, leased.token)],
                                                 lease_ms=LEASE_MS)  # fmt: skip
    assert (lost, cancelling) == ([], [running.id])  # seen even if the message was missed
    status = await client.broker.fail("default", leased.id, leased.token, error="JobCancelled: x",
                                      traceback="", retry_in_ms=None, cancelled=True,
                                      retention_ms=60_000)  # fmt: skip
    assert status is JobStatus.CANCELLED
    record = await client.job(running.id)
    assert (record.status, record.error) == (JobStatus.CANCELLED, "JobCancelled: x")
    assert await client.cancel(running.id) == "cancelled"  # again: nothing changes
    raw.hset(f"{prefix}:{{default}}:job:{waiting.id}", "status", "succeeded")
    with pytest.raises(InvalidJobState, match="is succeeded; a finished job cannot be cancelled"):
        await client.cancel(waiting.id)


async def test_a_job_cancelled_while_running_and_handed_back_never_runs_again(
    client: Client,
) -> None:
    job = await client.submit(JobRequest("t", force=True))
    (leased,) = (await claim(client.broker)).jobs
    assert await client.cancel(job.id) == "cancelling"
    assert await client.broker.release("default", [(leased.id, leased.token)]) == 1
    assert (await claim(client.broker)).jobs == []  # the claim ends it instead
    record = await client.job(job.id)
    assert record.status is JobStatus.CANCELLED
    assert record.error == "cancelled while it ran; not run again"


async def test_dead_letter_requeue_and_purge(client: Client) -> None:
    jobs = [await client.submit(JobRequest("t", [i], max_retries=0, force=True)) for i in range(3)]
    for claimed in (await claim(client.broker)).jobs:
        await client.broker.fail(
            "default", claimed.id, "tok", error="E", traceback="", retry_in_ms=None
        )
    assert {j.id for j in await client.dead_jobs()} == {j.id for j in jobs}
    assert await client.requeue_dead(job_id=jobs[0].id) == 1
    record = await client.job(jobs[0].id)
    assert record.status is JobStatus.QUEUED and record.attempts == 1  # history kept
    assert await client.purge_dead() == 2
    assert await client.dead_jobs() == []


async def test_resending_a_batch_makes_no_copies(client: Client) -> None:
    """A client that lost the reply to an enqueue may resend it: same ids, no copies."""
    spec = JobSpec(new_job_id(), "t", "default", "[[]]")
    (first,) = await client.broker.enqueue("default", [(spec, NOW)])
    (again,) = await client.broker.enqueue("default", [(spec, NOW)])
    assert first.created and not again.created and again.id == spec.id
    assert (await client.queues())[0].waiting == 1


@pytest.mark.parametrize(
    ("stored", "shown"),
    [("1796192552095", 1796192552095), ("soon", None), ("1e3", None), ("0x10", None),
     (" 5", None), ("²", None), ("1" * 16, None), ("", None)],
)  # fmt: skip
async def test_a_time_the_run_is_only_told_about_is_dropped_when_not_a_whole_number(
    client: Client, raw: redis.Redis, stored: str, shown: int | None
) -> None:
    """claim.lua sends the stored enqueue, run-at and schedule-due times unchecked (a
    Lua check per job cost 4 % of its Redis instructions); the worker drops a bad one
    and the job runs as any other."""
    job = await client.submit(JobRequest("t", force=True))
    job_key = client.broker.keys.queue("default").job(job.id)
    raw.hset(job_key, mapping={"enq": stored, "run": stored, "sdue": stored})
    (claimed,) = (await claim(client.broker)).jobs
    assert claimed.id == job.id and claimed.attempts == 1
    assert (claimed.enqueued_ms, claimed.run_at_ms, claimed.schedule_due_ms) == (shown,) * 3
