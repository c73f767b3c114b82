"""Clients without the app's code enqueue by name with the definition its workers
published: the task's queue, retries, lock, quota and account, arguments checked
against its signature; an unknown name is refused unless forced."""

from __future__ import annotations

import asyncio

import pytest

from chronoq import App
from chronoq.client import JobRequest
from chronoq.core.errors import ConfigurationError, UnknownTask
from chronoq.core.job import Gate, GatePolicy, LimitRef, decode_extra_options
from chronoq.worker import Worker, WorkerOptions


def worker_app(redis_url: str, prefix: str) -> App:
    app = App("mailer", redis_url=redis_url, prefix=prefix)
    app.quota("emails", 5)

    @app.task(name="mail.campaign", queue="mail", max_retries=7, priority=4,
              lock="campaign:{campaign_id}", account="{account}", quota="emails")  # fmt: skip
    async def campaign(account: str, campaign_id: int, *, dry_run: bool = False) -> None: ...

    return app


async def publish(app: App) -> None:
    """A worker publishes its app's tasks at start (a burst worker: then it stops)."""
    await Worker(app, WorkerOptions(queues="mail", burst=True, scheduler=False)).run()


async def test_the_async_client_enqueues_by_name_with_the_registered_definition(
    redis_url: str, prefix: str
) -> None:
    await publish(worker_app(redis_url, prefix))
    producer = App("producer", redis_url=redis_url, prefix=prefix)  # knows no task
    async with producer.client() as client:
        made = await client.enqueue("mail.campaign", "acme", 9)
        job = await client.job(made.id)
    assert made.queue == "mail" and job.queue == "mail"
    assert job.max_retries == 7 and job.priority == 4
    assert job.gates == (Gate("campaign:9", 1, GatePolicy.WAIT),)
    assert job.account == "acme"
    async with producer.backend() as backend:
        fields = await backend.redis.hgetall(backend.keys.queue("mail").job(made.id))
    assert decode_extra_options(fields["opts"]).limits == (LimitRef("emails", "acme"),)


async def test_arguments_are_checked_against_the_registered_signature(
    redis_url: str, prefix: str
) -> None:
    await publish(worker_app(redis_url, prefix))
    producer = App("producer", redis_url=redis_url, prefix=prefix)
    async with producer.client() as client:
        with pytest.raises(ConfigurationError, match=r"cannot call task 'mail\.campaign'"):
            await client.enqueue("mail.campaign", "acme")  # campaign_id missing
        with pytest.raises(ConfigurationError, match="unexpected keyword argument 'colour'"):
            await client.enqueue("mail.campaign", "acme", 1, colour="red")
        assert await client.queues() == []  # nothing was written


async def test_an_unknown_name_is_refused_unless_forced(redis_url: str, prefix: str) -> None:
    producer = App("producer", redis_url=redis_url, prefix=prefix)
    async with producer.client() as client:
        with pytest.raises(UnknownTask, match=r"unknown task 'mail\.nope'") as refused:
            await client.enqueue("mail.nope", 1)
        assert "\n" not in str(refused.value)
        forced = await client.submit(JobRequest("mail.nope", (1,), force=True))
        assert (await client.job(forced.id)).task == "mail.nope"


def test_the_sync_client_enqueues_by_name_with_the_registered_definition(
    redis_url: str, prefix: str
) -> None:
    asyncio.run(publish(worker_app(redis_url, prefix)))
    producer = App("producer", redis_url=redis_url, prefix=prefix)
    with producer.sync_client() as client:
        made = client.enqueue("mail.campaign", "globex", 3, dry_run=True)
        many = client.enqueue_many([JobRequest("mail.campaign", ("initech", n)) for n in (1, 2)])
        job = client.job(made.id)
        with pytest.raises(ConfigurationError, match="cannot call task"):
            client.enqueue("mail.campaign")
        with pytest.raises(UnknownTask, match="no worker has registered it"):
            client.enqueue("mail.other")
        forced = client.submit(JobRequest("mail.other", force=True))
    assert job.queue == "mail" and job.max_retries == 7 and job.account == "globex"
    assert job.gates == (Gate("campaign:3", 1, GatePolicy.WAIT),)
    assert [j.queue for j in many] == ["mail", "mail"]
    assert forced.queue == "default"
