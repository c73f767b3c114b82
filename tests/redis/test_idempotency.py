"""Idempotency keys: one job per key for the key's TTL, whatever became of the job."""

from __future__ import annotations

import asyncio

import pytest

from chronoq import App, Client, JobStatus
from chronoq.client import JobRequest
from chronoq.core.errors import ConfigurationError
from tests.worker.helpers import running_worker, wait_until


async def test_same_key_returns_the_first_job_even_after_it_ran(app: App, client: Client) -> None:
    @app.task
    async def send(to: str) -> str:
        return to

    first = await client.submit(JobRequest(send, ["a@x"], idempotency_key="mail:a@x:run1"))
    async with running_worker(app):

        async def done() -> bool:
            return (await client.job(first.id)).status is JobStatus.SUCCEEDED

        await wait_until(done)
    again = await client.submit(JobRequest(send, ["a@x"], idempotency_key="mail:a@x:run1"))
    assert again.id == first.id and not again.created
    assert again.status is JobStatus.SUCCEEDED
    other = await client.submit(JobRequest(send, ["a@x"], idempotency_key="mail:a@x:run2"))
    assert other.created and other.id != first.id


async def test_twenty_concurrent_enqueues_make_one_job(client: Client) -> None:
    results = await asyncio.gather(
        *(client.submit(JobRequest("t", [i], idempotency_key="k", force=True)) for i in range(20))
    )
    assert len({r.id for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert (await client.queues())[0].waiting == 1


async def test_key_expires_after_its_ttl(client: Client) -> None:
    first = await client.submit(JobRequest("t", idempotency_key="k", idempotency_ttl=1, force=True))
    await asyncio.sleep(1.1)
    second = await client.submit(
        JobRequest("t", idempotency_key="k", idempotency_ttl=1, force=True)
    )
    assert second.created and second.id != first.id


async def test_ttl_is_validated(client: Client) -> None:
    with pytest.raises(ConfigurationError, match="idempotency_ttl must be >= 1 second"):
        await client.submit(JobRequest("t", idempotency_key="k", idempotency_ttl=0.1, force=True))
    with pytest.raises(ConfigurationError, match="idempotency_key must not be empty"):
        await client.submit(JobRequest("t", idempotency_key="", force=True))


async def test_bulk_dedupes_within_one_batch(client: Client) -> None:
    made = await client.enqueue_many(
        [JobRequest("t", idempotency_key=f"k{i % 3}", force=True) for i in range(9)]
    )
    assert len({m.id for m in made}) == 3
    assert [m.created for m in made[:3]] == [True, True, True]
    assert not any(m.created for m in made[3:])
