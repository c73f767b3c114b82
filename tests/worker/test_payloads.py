"""Payload limits from Python: arguments over the size limit or nested too deep are
refused at enqueue (nothing written); a result over the limit ends its job dead
with the reason, and nothing of it is stored."""

from __future__ import annotations

import asyncio

import pytest
import redis

from chronoq import App, JobStatus, PayloadTooLarge, SerializationError
from chronoq.client import JobRequest
from chronoq.core.settings import Settings
from chronoq.redis.keys import Keyspace
from chronoq.worker import Worker, WorkerOptions


def small_app(redis_url: str, prefix: str) -> App:
    settings = Settings(redis_url=redis_url, prefix=prefix, max_payload_bytes=1000)
    return App("test", settings=settings)


async def test_arguments_over_the_limit_are_refused_at_enqueue(redis_url: str, prefix: str) -> None:
    app = small_app(redis_url, prefix)
    async with app.client() as client:
        with pytest.raises(PayloadTooLarge, match="job arguments take 1,006 bytes of JSON") as err:
            await client.submit(JobRequest("t", ["x" * 1000], force=True))
        assert (err.value.size, err.value.limit) == (1006, 1000)
        with pytest.raises(PayloadTooLarge, match="over the limit of 1,000 bytes"):
            await client.submit(
                JobRequest("t", kwargs={"k": "é" * 500}, force=True)
            )  # bytes, not characters
        assert await client.jobs() == []
        await client.submit(JobRequest("t", ["x" * 900], force=True))
    with app.sync_client() as sync, pytest.raises(PayloadTooLarge):
        sync.submit(JobRequest("t", ["y" * 2000], force=True))


async def test_the_default_limit_is_one_mebibyte(app: App) -> None:
    assert app.settings.max_payload_bytes == 1024 * 1024
    async with app.client() as client:
        with pytest.raises(PayloadTooLarge, match="over the limit of 1,048,576 bytes"):
            await client.submit(JobRequest("t", ["x" * (1024 * 1024)], force=True))


async def test_arguments_nested_too_deep_are_refused_in_one_line(app: App) -> None:
    deep: list[object] = []
    for _ in range(1000):
        deep = [deep]
    async with app.client() as client:
        with pytest.raises(SerializationError) as err:
            await client.submit(JobRequest("t", [deep], force=True))
        assert "\n" not in str(err.value) and "nested" in str(err.value)


async def test_a_result_over_the_limit_ends_the_job_dead_without_storing_it(
    redis_url: str, prefix: str, raw: redis.Redis
) -> None:
    app = small_app(redis_url, prefix)

    @app.task(max_retries=3)
    async def report(size: int) -> str:
        return "r" * size

    async with app.client() as client:
        big = await client.enqueue(report, 5000)
        fine = await client.enqueue(report, 10)
        await asyncio.wait_for(Worker(app, WorkerOptions(burst=True)).run(), 30)
        dead = await client.job(big.id)
        assert dead.status is JobStatus.DEAD and dead.attempts == 1
        assert dead.error == (
            "PayloadTooLarge: the task's result would take 5,002 bytes of JSON, "
            "over the limit of 1,000 bytes (CHRONOQ_MAX_PAYLOAD_BYTES)"
        )
        assert not raw.exists(Keyspace(prefix).queue("default").result(big.id))
        assert await client.result(fine.id) == "r" * 10
