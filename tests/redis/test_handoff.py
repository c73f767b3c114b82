"""Direct hand-off: a job enqueued while a worker is idle goes straight to it."""

from __future__ import annotations

import asyncio
import json

import pytest
import redis

from chronoq import Client, JobStatus
from chronoq.client import JobRequest
from chronoq.redis.broker import Broker
from chronoq.redis.scripts import SCRIPTS

DAY_MS = 86_400_000


async def register_idle(
    broker: Broker, worker_id: str, lease_ms: int = 5_000, places: int = 1
) -> None:
    claim = await broker.claim(
        "default",
        4,
        lease_ms=lease_ms,
        token=f"tok-{worker_id}",
        worker_id=worker_id,
        retention_ms=DAY_MS,
        free_slots=places,
    )
    assert claim.jobs == []
    assert claim.registered == places


async def test_enqueue_hands_job_to_idle_worker(client: Client, raw: redis.Redis) -> None:
    await register_idle(client.broker, "w1")
    job = await client.submit(JobRequest("t", (7,), force=True))
    assert job.status is JobStatus.RUNNING
    record = await client.job(job.id)
    assert record.worker_id == "w1" and record.attempts == 1
    inbox = client.broker.keys.queue("default").inbox("w1")
    (entry,) = raw.lrange(inbox, 0, -1)
    handed = client.broker.handed_off("default", entry)
    assert (handed.id, handed.task, handed.token) == (job.id, "t", "tok-w1")
    assert handed.payload == "[[7]]"


async def test_a_hand_off_entry_holding_a_nested_value_is_refused(
    client: Client, raw: redis.Redis
) -> None:
    await register_idle(client.broker, "w1")
    await client.submit(JobRequest("t", ([[1]],), force=True))
    (entry,) = raw.lrange(client.broker.keys.queue("default").inbox("w1"), 0, -1)
    values = json.loads(entry)
    assert client.broker.handed_off("default", json.dumps(values)).payload == "[[[[1]]]]"
    for i in (3, len(values) - 2):  # a number's place, and another string's
        tampered = [*values[:i], [values[i]], *values[i + 1 :]]
        with pytest.raises(ValueError, match=r"unreadable hand-off entry.*flat list"):
            client.broker.handed_off("default", json.dumps(tampered))


def test_a_hand_off_entry_nested_too_deep_to_parse_is_refused(client: Client) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(ValueError, match=r"unreadable hand-off entry.*nested too deep"):
        client.broker.handed_off("default", deep)


async def test_one_registration_takes_one_job(client: Client) -> None:
    await register_idle(client.broker, "w1")
    first = await client.submit(JobRequest("t", (1,), force=True))
    second = await client.submit(JobRequest("t", (2,), force=True))
    assert first.status is JobStatus.RUNNING
    assert second.status is JobStatus.QUEUED


async def test_a_registration_takes_as_many_jobs_as_it_has_places(client: Client) -> None:
    await register_idle(client.broker, "w1", places=3)
    statuses = [(await client.submit(JobRequest("t", (i,), force=True))).status for i in range(4)]
    assert statuses == [JobStatus.RUNNING] * 3 + [JobStatus.QUEUED]


async def test_places_exclude_jobs_still_in_the_inbox(client: Client) -> None:
    """A worker re-registering while hand-offs wait unread in its inbox must not be
    handed more than its free slots."""
    await register_idle(client.broker, "w1", places=2)
    await client.submit(JobRequest("t", (1,), force=True))  # waits in w1's inbox
    claim = await client.broker.claim(
        "default", 4, lease_ms=5_000, token="tok-w1", worker_id="w1",
        retention_ms=DAY_MS, free_slots=2,
    )  # fmt: skip
    assert claim.registered == 1
    statuses = [(await client.submit(JobRequest("t", (i,), force=True))).status for i in range(2)]
    assert statuses == [JobStatus.RUNNING, JobStatus.QUEUED]


async def test_a_registration_of_the_older_form_holds_one_place(
    client: Client, raw: redis.Redis
) -> None:
    q = client.broker.keys.queue("default")
    raw.zadd(q.idle, {"old": int(raw.time()[0]) * 1000})
    raw.hset(q.idle_leases, "old", "tok-old|5000")
    statuses = [(await client.submit(JobRequest("t", (i,), force=True))).status for i in range(2)]
    assert statuses == [JobStatus.RUNNING, JobStatus.QUEUED]


async def test_retire_returns_handed_off_jobs(client: Client) -> None:
    await register_idle(client.broker, "w1")
    job = await client.submit(JobRequest("t", force=True))
    assert await client.broker.retire("default", "w1") == 1
    record = await client.job(job.id)
    assert record.status is JobStatus.QUEUED and record.attempts == 0
    assert (
        await client.submit(JobRequest("t", force=True))
    ).status is JobStatus.QUEUED  # registration gone


async def test_hand_off_to_dead_worker_is_recovered(client: Client) -> None:
    await register_idle(client.broker, "ghost", lease_ms=50)
    job = await client.submit(JobRequest("t", force=True))
    await asyncio.sleep(0.1)
    assert await client.broker.recover("default", default_max_retries=3) == (1, 0, 0)
    record = await client.job(job.id)
    assert record.status is JobStatus.QUEUED
    assert "worker lost" in (record.error or "")


async def test_busy_claim_drops_idle_registration(client: Client) -> None:
    await register_idle(client.broker, "w1")
    jobs = [await client.submit(JobRequest("t", (i,), force=True)) for i in range(3)]
    assert jobs[0].status is JobStatus.RUNNING  # took the registration
    claim = await client.broker.claim(
        "default", 2, lease_ms=5_000, token="x", worker_id="w1", retention_ms=DAY_MS
    )
    assert len(claim.jobs) == 2  # filled its request: no longer registered as idle
    assert (await client.submit(JobRequest("t", force=True))).status is JobStatus.QUEUED


async def test_a_plain_hand_off_leaves_what_the_batch_scripts_hand_off_leaves(
    client: Client, raw: redis.Redis
) -> None:
    """enqueue_plain.lua writes a handed-off job's record once, already running;
    enqueue.lua writes it queued and then starts the run. Same record, same active
    entry, same inbox entry, field for field (ids and times aside)."""
    await register_idle(client.broker, "w1", places=3, lease_ms=7_000)
    request = JobRequest("t", (7,), max_retries=5, priority=4, force=True)
    plain = await client.submit(request)  # one plain job: enqueue_plain.lua
    batch = await client.enqueue_many([request, request])  # a batch: enqueue.lua
    assert plain.status is batch[0].status is JobStatus.RUNNING
    q = client.broker.keys.queue("default")

    def record(job_id: str) -> dict[str, str]:
        fields = raw.hgetall(q.job_prefix + job_id)
        assert fields["st"] == fields["enq"]  # started as it was enqueued
        assert raw.zscore(q.active, job_id) == int(fields["st"]) + 7_000
        return {k: v for k, v in fields.items() if k not in ("st", "enq")}

    assert record(plain.id) == record(batch[0].id)
    entries = [json.loads(e) for e in raw.lrange(q.inbox("w1"), 0, -1)]
    assert [e[0] for e in entries] == [plain.id, batch[0].id, batch[1].id]
    shape = [[type(v).__name__ for v in e[1:]] for e in entries]
    assert shape[0] == shape[1]  # whole numbers as text, absent fields false
    first, second = entries[0], entries[1]
    assert first[1:7] == second[1:7] and first[-1] == second[-1] == "tok-w1"


async def test_a_plain_enqueue_refuses_an_extra_field_it_writes_itself(
    client: Client, raw: redis.Redis
) -> None:
    """A crafted call cannot pass 'status' or 'att' among the option fields: the
    hand-off would keep them over the run's own."""
    q = client.broker.keys.queue("default")
    keys = [q.ready, q.seq, q.wake, q.job_prefix, q.active, q.idle, q.idle_leases,
            q.inbox_prefix, q.events]  # fmt: skip
    function = SCRIPTS.enqueue_plain.function
    await client.enqueue_many([])  # the library is loaded
    raw.fcall(function, len(keys), *keys, "id0", "t", "[[]]", 0, 0, "maxr", "1")  # loaded
    for field in ("status", "att"):
        with pytest.raises(redis.ResponseError, match=f"field {field} is written by the enqueue"):
            raw.fcall(function, len(keys), *keys, "id1", "t", "[[]]", 0, 0, field, "1")
    assert raw.exists(q.job_prefix + "id1") == 0


async def test_a_plain_enqueue_rings_for_workers_whose_registration_went_stale(
    client: Client, raw: redis.Redis
) -> None:
    """A registration older than the staleness bound takes no job: the job is queued
    and the doorbell rung for whoever still waits; one that is malformed is dropped."""
    q = client.broker.keys.queue("default")
    now_ms = int(raw.time()[0]) * 1000
    raw.zadd(q.idle, {"stale": now_ms - 60_000})
    raw.hset(q.idle_leases, "stale", "tok-stale|5000|4")
    job = await client.submit(JobRequest("t", force=True))
    assert job.status is JobStatus.QUEUED
    assert raw.lrange(q.wake, 0, -1) == ["1"]
    assert raw.zscore(q.idle, "stale") is not None  # left for its worker to renew
    raw.delete(q.wake)
    raw.zadd(q.idle, {"bad": now_ms + 1_000})
    raw.hset(q.idle_leases, "bad", "no token here")
    job = await client.submit(JobRequest("t", force=True))
    assert job.status is JobStatus.QUEUED
    assert raw.zscore(q.idle, "bad") is None and not raw.hexists(q.idle_leases, "bad")
    assert raw.lrange(q.wake, 0, -1) == ["1"]


async def test_a_plain_resend_changes_nothing(client: Client, raw: redis.Redis) -> None:
    """The same id sent again (a retry after a lost reply) reports the job as it is,
    created 0: its record stays as it was and it takes no idle worker's place."""
    q = client.broker.keys.queue("default")
    keys = [q.ready, q.seq, q.wake, q.job_prefix, q.active, q.idle, q.idle_leases,
            q.inbox_prefix, q.events]  # fmt: skip
    function = SCRIPTS.enqueue_plain.function
    await client.enqueue_many([])  # the library is loaded
    assert raw.fcall(function, len(keys), *keys, "id0", "t", "[[]]", 0, 0)[1:] == ["queued", 1]
    raw.zadd(q.idle, {"w1": int(raw.time()[0]) * 1000})  # an idle worker now
    raw.hset(q.idle_leases, "w1", "tok-w1|5000|1")
    before = (raw.hgetall(q.job_prefix + "id0"), raw.zcard(q.idle))
    assert raw.fcall(function, len(keys), *keys, "id0", "t", "[[9]]", 0, 0) == [
        "id0", "queued", 0,
    ]  # fmt: skip
    assert (raw.hgetall(q.job_prefix + "id0"), raw.zcard(q.idle)) == before
