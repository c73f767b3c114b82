"""An app given a redis-py client instead of a URL: its settings, chronoq's connections."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
import redis.asyncio
import redis.asyncio.cluster

from chronoq import App, ConfigurationError
from tests.worker.helpers import running_worker


def users_client(redis_url: str) -> redis.asyncio.Redis:
    """Configured as a program might: no decoding, its own timeouts and name."""
    url = urlparse(redis_url)
    db = int(url.path.strip("/") or 0)
    return redis.asyncio.Redis(
        host=url.hostname or "127.0.0.1", port=url.port or 6379, db=db, client_name="users-app"
    )


async def test_an_app_runs_on_a_client_passed_in(redis_url: str, prefix: str) -> None:
    mine = users_client(redis_url)
    app = App("given", redis=mine, prefix=prefix)

    @app.task
    async def add(a: int, b: int) -> int:
        return a + b

    assert app.redis_url().startswith("redis://")
    async with app.client() as client:
        job = await client.enqueue(add, 2, 3)
        async with running_worker(app):
            assert await client.result(job.id, timeout=10) == 5
        names = {c["name"] for c in await client.backend.redis.client_list()}
    assert "users-app" in names  # chronoq's connections carry the client's settings
    with app.sync_client() as sync:
        assert sync.job(job.id).id == job.id
    with app.sync_lock("given-lock") as lock:
        assert lock.fence is not None
    assert await mine.ping()  # the program's client is still its own, open
    await mine.aclose()


def test_a_cluster_client_is_refused_naming_the_url_to_give(redis_url: str) -> None:
    cluster = redis.asyncio.cluster.RedisCluster(host="127.0.0.1", port=1)
    with pytest.raises(ConfigurationError, match=r"redis\+cluster://"):
        App("c", redis=cluster)
