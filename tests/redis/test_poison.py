"""Poison records through each script that reads job fields: the bad job ends dead with
the field named, the rest of its batch is served, and no job is left outside every
index."""

from __future__ import annotations

import pytest
import redis

from chronoq import Client, JobStatus
from chronoq.client import JobRequest
from chronoq.core import serialization
from chronoq.core.claims import ClaimedJob
from chronoq.core.job import Gate
from chronoq.redis.job_wire import enqueue_keys
from chronoq.redis.keys import QueueKeys
from chronoq.redis.scripts import SCRIPTS
from tests.redis.poison import (
    CLAIM_POISONS,
    DEEP_JSON,
    Poison,
    assert_dead,
    indexes_of,
)
from tests.redis.test_broker import DAY_MS, claim


def keys(client: Client) -> QueueKeys:
    return client.broker.keys.queue("default")


async def lease_one(client: Client, **request: object) -> ClaimedJob:
    """A job claimed (running, leased), ready to be corrupted mid-run."""
    await client.submit(JobRequest("t", [0], **request, force=True))  # type: ignore[arg-type]
    (job,) = (await claim(client.broker)).jobs
    return job


def expire_lease(raw: redis.Redis, q: QueueKeys, job_id: str) -> None:
    raw.zadd(q.active, {job_id: 0})


async def recover(client: Client) -> tuple[int, int, int]:
    return await client.broker.recover("default", default_max_retries=3)


@pytest.mark.parametrize("poison", CLAIM_POISONS, ids=lambda p: p.name)
async def test_claim_dead_letters_a_poison_record_and_serves_its_batch(
    client: Client, raw: redis.Redis, poison: Poison
) -> None:
    q = keys(client)
    before = await client.submit(JobRequest("t", (1,), force=True))
    bad = await client.submit(JobRequest("t", (2,), force=True))
    after = await client.submit(JobRequest("t", (3,), force=True))
    poison.apply(raw, q, bad.id)

    claimed = await claim(client.broker)

    assert [j.id for j in claimed.jobs] == [before.id, after.id]
    assert_dead(raw, q, bad.id, poison.reason)
    for good in (before, after):
        assert indexes_of(raw, q, good.id) == ["active"]
    assert raw.hget(q.stats, "dead") == "1"
    assert (await claim(client.broker)).jobs == []  # nothing left behind in ready


async def test_a_ready_id_without_a_record_is_dropped_and_counted(
    client: Client, raw: redis.Redis
) -> None:
    q = keys(client)
    good = await client.submit(JobRequest("t", (1,), force=True))
    raw.zadd(q.ready, {"ghost": 0})  # sorts first: the claim meets it before the good job
    claimed = await claim(client.broker)
    assert [j.id for j in claimed.jobs] == [good.id]
    assert indexes_of(raw, q, "ghost") == []
    assert not raw.exists(q.job("ghost"))  # no stub record is made up for it
    assert raw.hget(q.stats, "missing") == "1"


async def test_a_due_job_with_a_bad_priority_is_dead_lettered(
    client: Client, raw: redis.Redis
) -> None:
    q = keys(client)
    good = await client.submit(JobRequest("t", [1], delay=3600, force=True))
    bad = await client.submit(JobRequest("t", [2], delay=3600, force=True))
    raw.hset(q.job(bad.id), "prio", "high")
    raw.zadd(q.scheduled, {good.id: 0, bad.id: 0, "ghost": 0})  # all due now
    claimed = await claim(client.broker)
    assert [j.id for j in claimed.jobs] == [good.id]
    assert_dead(raw, q, bad.id, "field 'prio' is not a number ('high')")
    assert indexes_of(raw, q, "ghost") == []
    assert raw.hget(q.stats, "missing") == "1"


async def test_a_priority_out_of_range_is_dead_lettered(client: Client, raw: redis.Redis) -> None:
    q = keys(client)
    bad = await client.submit(JobRequest("t", delay=3600, force=True))
    raw.hset(q.job(bad.id), "prio", "5000")
    raw.zadd(q.scheduled, {bad.id: 0})
    assert (await claim(client.broker)).jobs == []
    assert_dead(raw, q, bad.id, "field 'prio' is not within -1000..1000 ('5000')")


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("att", "x", "field 'att' is not a number ('x')"),
        ("maxr", "lots", "field 'maxr' is not a number ('lots')"),
        ("gate", "{nope", "field 'gate' is not JSON"),
        ("prio", "1.5", "field 'prio' is not a whole number ('1.5')"),
    ],
)
async def test_recover_dead_letters_a_poison_record_whose_lease_expired(
    client: Client, raw: redis.Redis, field: str, value: str, reason: str
) -> None:
    q = keys(client)
    good = await lease_one(client)
    bad = await client.submit(JobRequest("t", (1,), force=True))
    await claim(client.broker)
    raw.hset(q.job(bad.id), field, value)
    expire_lease(raw, q, good.id)
    expire_lease(raw, q, bad.id)

    requeued, dead, _ = await recover(client)

    assert (requeued, dead) == (1, 1)
    assert_dead(raw, q, bad.id, reason)
    assert indexes_of(raw, q, good.id) == ["ready"]


async def test_recover_drops_an_active_id_without_a_record(
    client: Client, raw: redis.Redis
) -> None:
    q = keys(client)
    raw.zadd(q.active, {"ghost": 0})
    assert await recover(client) == (0, 0, 0)
    assert indexes_of(raw, q, "ghost") == []
    assert raw.hget(q.stats, "missing") == "1"


async def test_fail_dead_letters_a_job_whose_gate_went_bad(
    client: Client, raw: redis.Redis
) -> None:
    q = keys(client)
    job = await lease_one(client, gates=[Gate("k")])
    raw.hset(q.job(job.id), "gate", "[[")
    status = await client.broker.fail(
        "default", job.id, job.token, error="RuntimeError: boom", traceback="tb", retry_in_ms=10
    )
    assert status is JobStatus.DEAD
    assert_dead(raw, q, job.id, "field 'gate' is not JSON ('[[')")
    assert "RuntimeError: boom" in raw.hget(q.job(job.id), "tb")  # the attempt's own error kept


async def test_complete_keeps_the_success_of_a_job_whose_gate_went_bad(
    client: Client, raw: redis.Redis
) -> None:
    """The run succeeded: its result is kept. Its gate places are left to the holders'
    sets (which forget ids no longer active), so the next job of that key runs."""
    q = keys(client)
    job = await lease_one(client, gates=[Gate("k")])
    raw.hset(q.job(job.id), "gate", '"k"')
    stale = await client.broker.complete(
        "default", [(job.id, job.token, "7")], retention_ms=DAY_MS, result_ttl_ms=DAY_MS
    )
    assert stale == []
    record = await client.job(job.id)
    assert record.status is JobStatus.SUCCEEDED and record.result == 7
    assert "field 'gate' is not a list" in (record.error or "")
    assert indexes_of(raw, q, job.id) == ["done"]
    after = await client.submit(JobRequest("t", gates=[Gate("k")], force=True))
    assert [j.id for j in (await claim(client.broker)).jobs] == [after.id]


@pytest.mark.parametrize("script", ["defer", "release"])
async def test_defer_and_release_leave_a_poison_record_leased_for_recover(
    client: Client, raw: redis.Redis, script: str
) -> None:
    """Neither script holds the dead-letter queue: the job stays leased (in one index)
    and recover dead-letters it once the lease expires."""
    q = keys(client)
    job = await lease_one(client)
    raw.hset(q.job(job.id), "att", "one")
    if script == "defer":
        moved = await client.broker.defer("default", [(job.id, job.token, 0, "")])
    else:
        moved = await client.broker.release("default", [(job.id, job.token)])
    assert moved == 0
    assert indexes_of(raw, q, job.id) == ["active"]
    expire_lease(raw, q, job.id)
    assert (await recover(client))[1] == 1
    assert_dead(raw, q, job.id, "field 'att' is not a number ('one')")


async def test_a_parked_job_with_a_bad_record_is_not_woken_but_swept_dead(
    client: Client, raw: redis.Redis
) -> None:
    q = keys(client)
    holder = await lease_one(client, gates=[Gate("k")])
    parked = await client.submit(JobRequest("t", [1], gates=[Gate("k")], force=True))
    waiting = await client.submit(JobRequest("t", [2], gates=[Gate("k")], force=True))
    assert (await claim(client.broker)).jobs == []  # both park behind the holder
    raw.hset(q.job(parked.id), "pseq", "soon")
    await client.broker.complete(
        "default", [(holder.id, holder.token, "")], retention_ms=DAY_MS, result_ttl_ms=0
    )
    assert indexes_of(raw, q, parked.id) == ["blocked"]  # not woken, not lost
    assert indexes_of(raw, q, waiting.id) == ["ready"]  # the freed place goes to the next
    raw.zadd(q.blocked, {parked.id: 0})  # parked long ago: the sweep looks at it
    _, dead, unparked = await recover(client)
    assert (dead, unparked) == (1, 0)
    assert_dead(raw, q, parked.id, "field 'pseq' is not a number ('soon')")


async def test_requeue_keeps_a_poison_record_dead_and_says_why(
    client: Client, raw: redis.Redis
) -> None:
    q = keys(client)
    good = await client.submit(JobRequest("t", [1], max_retries=0, force=True))
    bad = await client.submit(JobRequest("t", [2], max_retries=0, force=True))
    for job in (await claim(client.broker)).jobs:
        await client.broker.fail(
            "default", job.id, job.token, error="e", traceback="", retry_in_ms=None
        )
    raw.hset(q.job(bad.id), "gate", "nope")
    assert await client.broker.requeue_dead("default") == 1
    assert indexes_of(raw, q, good.id) == ["ready"]
    assert_dead(raw, q, bad.id, "field 'gate' is not JSON ('nope')")


async def test_cancel_and_undefer_read_a_bad_record_without_failing(
    client: Client, raw: redis.Redis
) -> None:
    q = keys(client)
    booked = await client.submit(JobRequest("t", delay=3600, force=True))
    raw.hset(q.job(booked.id), "lres", "{broken")
    assert await client.broker.undefer("default", "lim", [booked.id]) == 0
    assert indexes_of(raw, q, booked.id) == ["scheduled"]

    await lease_one(client, gates=[Gate("k")])
    parked = await client.submit(JobRequest("t", gates=[Gate("k")], force=True))
    await claim(client.broker)
    raw.hset(q.job(parked.id), "gate", DEEP_JSON)
    await client.cancel(parked.id)
    assert (await client.job(parked.id)).status is JobStatus.CANCELLED
    assert indexes_of(raw, q, parked.id) == ["done:cancelled"]


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        (["j1", "", 0, "", "t", "[[]]", ["maxr", "x"]], "field 'maxr' is not a number ('x')"),
        (["j1", "", 0, "", "t", "[[]]", ["gate", "{"]], "field 'gate' is not JSON"),
        (["j1", "soon", 0, "", "t", "[[]]", []], "has a bad due time"),
        (["j1", "", 1.5, "", "t", "[[]]", []], "priority that is not a whole number"),
        (["j1", "", 0, "", "", "[[]]", []], "has no task name"),
        (["j1", "", 0, "", "t", "[[]]", ["maxr"]], "has no field/value list"),
    ],
)
async def test_enqueue_refuses_a_bad_entry_and_writes_nothing(
    client: Client, raw: redis.Redis, entry: list[object], reason: str
) -> None:
    """A client other than chronoq's own: the whole batch fails, its good entry too."""
    q = keys(client)
    good = ["j0", "", 0, "", "t", "[[]]", []]
    batch = serialization.dumps([good, entry])
    with pytest.raises(redis.ResponseError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        await SCRIPTS.enqueue(client.broker.redis, enqueue_keys(q), [batch])
    assert not raw.exists(q.job("j0")) and not raw.exists(q.job("j1"))
    assert raw.zcard(q.ready) == 0


async def test_retire_skips_an_unreadable_inbox_entry_and_returns_the_rest(
    client: Client, raw: redis.Redis
) -> None:
    q = keys(client)
    assert (await claim(client.broker)).jobs == []  # registers w1 as idle
    handed = await client.submit(JobRequest("t", (1,), force=True))
    assert handed.status is JobStatus.RUNNING  # straight into w1's inbox
    raw.lpush(q.inbox("w1"), "{not an entry")
    assert await client.broker.retire("default", "w1") == 1
    assert indexes_of(raw, q, handed.id) == ["ready"]
    assert (await client.job(handed.id)).attempts == 0  # the hand-off was not counted
