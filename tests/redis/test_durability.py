"""Replica acknowledgements against a real server: with no replica to confirm, an
enqueue with `replica_acks` is refused loudly (NotReplicated), never acknowledged."""

from __future__ import annotations

import pytest

from chronoq import App
from chronoq.client import JobRequest
from chronoq.core.errors import ConfigurationError, NotReplicated
from chronoq.core.settings import Settings
from chronoq.redis.backend import Backend


def _app(redis_url: str, prefix: str) -> App:
    settings = Settings(redis_url=redis_url, prefix=prefix, replica_acks=1, replica_ack_timeout=0.2)
    app = App("acks", settings=settings)

    @app.task
    def noop() -> None: ...

    return app


async def test_an_enqueue_no_replica_confirmed_raises_not_replicated(
    redis_url: str, prefix: str
) -> None:
    app = _app(redis_url, prefix)
    async with app.client() as client:
        with pytest.raises(NotReplicated, match="0 of 1 replica") as caught:
            await client.submit(JobRequest("noop", force=True))
        assert (caught.value.acked, caught.value.wanted) == (0, 1)
        # The write reached the primary: resending is safe and the job exists once.
        assert (await client.queues())[0].waiting == 1


def test_the_sync_fast_path_raises_too(redis_url: str, prefix: str) -> None:
    with _app(redis_url, prefix).sync_client() as client, pytest.raises(NotReplicated):
        client.submit(JobRequest("noop", force=True))


async def test_a_lock_no_replica_confirmed_is_released_and_reported(
    redis_url: str, prefix: str
) -> None:
    app = _app(redis_url, prefix)
    with pytest.raises(NotReplicated, match="released it"):
        await app.lock("report", timeout=1).acquire()
    other = App("plain", redis_url=redis_url, prefix=prefix)
    lock = other.lock("report", blocking=False)
    assert await lock.try_acquire()  # not left taken
    await lock.release()


def test_replica_acks_are_refused_on_a_cluster() -> None:
    settings = Settings(redis_url="redis+cluster://127.0.0.1:7000", replica_acks=1)
    with pytest.raises(ConfigurationError, match="not supported on a Redis Cluster"):
        Backend.from_settings(settings)
