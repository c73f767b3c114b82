"""A real worker serving a queue full of poison records: every good job runs, every
poison job ends dead with its reason, and the worker is still serving afterwards."""

from __future__ import annotations

import logging

import pytest
import redis

from chronoq import App, Client, JobStatus
from chronoq.client import JobRequest
from chronoq.core.claims import NOW
from chronoq.core.errors import SerializationError
from chronoq.core.ids import new_job_id
from chronoq.core.job import JobSpec
from chronoq.core.serialization import MAX_DEPTH
from tests.redis.poison import CLAIM_POISONS, DEEP, DEEP_JSON, WORKER_POISONS, assert_dead
from tests.worker.helpers import running_worker, wait_until


def nested(depth: int) -> list[object]:
    value: list[object] = []
    for _ in range(depth - 1):
        value = [value]
    return value


async def test_good_jobs_run_around_every_poison_record_and_the_worker_lives(
    app: App, client: Client, raw: redis.Redis
) -> None:
    ran: list[int] = []

    @app.task(max_retries=0)
    async def work(n: int) -> int:
        ran.append(n)
        return n

    q = client.broker.keys.queue("default")
    goods, poisons = [], {}
    for i, poison in enumerate(CLAIM_POISONS + WORKER_POISONS):
        goods.append(await client.enqueue(work, i))
        bad = await client.enqueue(work, 1000 + i)
        poison.apply(raw, q, bad.id)
        poisons[bad.id] = poison
    raw.zadd(q.ready, {"ghost": 0})  # an id whose record is gone

    async def all_finished() -> bool:
        jobs = [await client.job(job_id) for job_id in [*poisons, *(g.id for g in goods)]]
        return all(job.status.is_finished for job in jobs)

    async with running_worker(app, concurrency=4, batch=8):
        await wait_until(all_finished, timeout=30)
        after = await client.enqueue(work, -1)
        assert await client.result(after.id, timeout=10) == -1  # still serving

    assert sorted(ran) == [-1, *range(len(goods))]
    for good in goods:
        assert (await client.job(good.id)).status is JobStatus.SUCCEEDED
    for job_id, poison in poisons.items():
        assert_dead(raw, q, job_id, poison.reason)


async def test_a_poison_job_handed_straight_to_an_idle_worker_ends_dead(
    app: App, client: Client, raw: redis.Redis
) -> None:
    """The hand-off path (enqueue -> idle worker's inbox) decodes like the claim path."""

    @app.task(name="echo")
    async def echo(value: object) -> object:
        return value

    q = client.broker.keys.queue("default")
    async with running_worker(app, concurrency=2) as worker:

        async def idle() -> bool:
            return raw.zscore(q.idle, worker.id) is not None

        await wait_until(idle, timeout=10)
        # Written as another client could: chronoq's own refuses such arguments.
        spec = JobSpec(new_job_id(), "echo", "default", f"[{DEEP_JSON}]")
        (deep,) = await client.broker.enqueue("default", [(spec, NOW)])
        assert deep.status is JobStatus.RUNNING  # handed off, not queued

        async def dead() -> bool:
            return (await client.job(deep.id)).status is JobStatus.DEAD

        await wait_until(dead, timeout=10)
        after = await client.enqueue(echo, "fine")
        assert await client.result(after.id, timeout=10) == "fine"
    assert_dead(raw, q, deep.id, "job arguments nested deeper than 100 levels")


async def test_a_tampered_inbox_entry_is_dropped_and_the_worker_keeps_serving(
    app: App, client: Client, raw: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    @app.task
    async def echo(value: object) -> object:
        return value

    q = client.broker.keys.queue("default")
    async with running_worker(app, concurrency=2) as worker:
        raw.rpush(q.inbox(worker.id), "{not an entry")
        with caplog.at_level(logging.ERROR, logger="chronoq.worker"):

            async def dropped() -> bool:
                return "dropped a hand-off" in caplog.text

            await wait_until(dropped, timeout=10)
        after = await client.enqueue(echo, 1)
        assert await client.result(after.id, timeout=10) == 1


async def test_the_client_refuses_arguments_nested_too_deep(client: Client) -> None:
    with pytest.raises(SerializationError, match=f"nested deeper than {MAX_DEPTH} levels"):
        await client.submit(JobRequest("t", (nested(MAX_DEPTH + 1),), force=True))
    with pytest.raises(SerializationError, match="nested too deep"):
        await client.submit(JobRequest("t", (nested(DEEP * 2),), force=True))
    assert await client.queues() == []  # nothing was written
    await client.submit(
        JobRequest("t", (nested(MAX_DEPTH - 2),), force=True)
    )  # within the limit: accepted
