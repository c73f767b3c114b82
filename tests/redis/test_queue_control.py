"""Pause, resume and drain against a real Redis: a paused queue hands out nothing,
its counts say it is paused, a resume rings the doorbell, a drain cancels every
waiting job (and nothing running)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chronoq import App, Client, Gate, JobStatus
from chronoq.client import JobRequest

HOUR_MS = 3_600_000


def claim_args() -> dict[str, object]:
    return {"lease_ms": 60_000, "token": "tok", "worker_id": "w1", "retention_ms": HOUR_MS}


async def test_a_paused_queue_is_not_claimed_and_other_queues_are(client: Client) -> None:
    control = client.backend.queue_control
    await client.enqueue_many([JobRequest("t", [i], queue="q1", force=True) for i in range(3)])
    await client.submit(JobRequest("t", [0], queue="q2", force=True))
    pause, fresh = await control.pause("q1", "  provider down ", by="ops")
    assert fresh and pause.reason == "provider down" and pause.by == "ops"
    assert (await control.pause("q1", "still down"))[1] is False  # already paused
    claim = await client.broker.claim("q1", 10, **claim_args())  # type: ignore[arg-type]
    assert claim.jobs == [] and claim.registered == 0  # no idle registration either
    other = await client.broker.claim("q2", 10, **claim_args())  # type: ignore[arg-type]
    assert len(other.jobs) == 1
    counts = {row.queue: row for row in await client.queues()}
    assert counts["q1"].paused and not counts["q2"].paused
    body = counts["q1"].to_dict()
    assert body["paused"] is True and body["paused_reason"] == "still down"
    assert body["waiting"] == 3 and body["paused_since"] == pause.since.isoformat()
    snapshot = await client.backend.snapshots.read()  # what the observe views read
    assert {q.name: q.paused for q in snapshot.queues} == {"q1": True, "q2": False}


async def test_a_pause_drops_idle_registrations_so_no_enqueue_hands_off(client: Client) -> None:
    broker, control = client.broker, client.backend.queue_control
    idle = await broker.claim("q", 5, **claim_args())  # type: ignore[arg-type]
    assert idle.registered > 0  # an empty queue: the worker waits for hand-offs
    await control.pause("q")
    made = await client.submit(JobRequest("t", [1], queue="q", force=True))
    assert made.status is JobStatus.QUEUED  # queued, not handed to the idle worker
    assert await broker.redis.llen(broker.keys.queue("q").inbox("w1")) == 0


async def test_resume_rings_the_doorbell_and_claims_flow_again(client: Client) -> None:
    broker, control = client.broker, client.backend.queue_control
    await control.pause("q")
    await client.submit(JobRequest("t", [1], queue="q", force=True))
    wake = broker.keys.queue("q").wake
    await broker.redis.delete(wake)
    assert await control.resume("q") is True
    assert await broker.redis.llen(wake) == 1  # a waiting worker's BLPOP returns now
    assert await control.resume("q") is False
    claim = await broker.claim("q", 10, **claim_args())  # type: ignore[arg-type]
    assert len(claim.jobs) == 1
    assert not (await client.queues())[0].paused


async def test_drain_cancels_every_waiting_job_and_leaves_running_ones(
    app: App, client: Client
) -> None:
    control = client.backend.queue_control
    later = datetime.now(UTC) + timedelta(hours=1)
    await client.enqueue_many([JobRequest("t", [i], queue="q", force=True) for i in range(1203)])
    await client.enqueue_many(
        [JobRequest("t", [i], queue="q", at=later, force=True) for i in range(4)]
    )
    unique = await client.submit(JobRequest("t", [9], queue="q", unique_key="u1", force=True))
    running = await client.broker.claim("q", 2, **claim_args())  # type: ignore[arg-type]
    result = await control.drain("q", retention_ms=HOUR_MS)
    assert (result.ready, result.scheduled, result.blocked) == (1202, 4, 0)
    assert result.cancelled == 1206 and result.left == 0
    assert result.to_dict()["cancelled"] == 1206
    counts = (await client.queues())[0]
    assert (counts.waiting, counts.scheduled, counts.running) == (0, 0, 2)
    job = await client.job(unique.id)
    assert job.status is JobStatus.CANCELLED and job.error == "drained by an operator"
    again = await client.submit(JobRequest("t", [9], queue="q", unique_key="u1", force=True))
    assert again.created  # the drained job's unique key was freed
    for claimed in running.jobs:
        assert (await client.job(claimed.id)).status is JobStatus.RUNNING
    async with app.queue_admin() as admin:
        assert (await admin.drain("q")).cancelled == 1
        assert (await admin.drain("q")).cancelled == 0


async def test_drain_takes_parked_jobs_off_their_gate(client: Client) -> None:
    control, broker = client.backend.queue_control, client.broker
    gate = [Gate("acct-7")]
    first, second = await client.enqueue_many(
        [JobRequest("t", [i], queue="q", gates=gate, force=True) for i in range(2)]
    )
    held = await broker.claim("q", 2, **claim_args())  # type: ignore[arg-type]
    assert [j.id for j in held.jobs] == [first.id]  # the second parks behind the lock key
    assert (await client.job(second.id)).status is JobStatus.BLOCKED
    result = await control.drain("q", retention_ms=HOUR_MS, reason="maintenance")
    assert (result.ready, result.scheduled, result.blocked) == (0, 0, 1)
    parked = broker.keys.queue("q").parked_prefix + "acct-7"
    assert await broker.redis.llen(parked) == 0
    job = await client.job(second.id)
    assert job.status is JobStatus.CANCELLED and job.error == "maintenance"
