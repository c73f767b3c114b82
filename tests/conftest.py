"""Shared fixtures: a real Redis, and a key prefix of its own for every test."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import redis

from chronoq import App, Client

# Real Cluster / Sentinel / TLS / ACL servers: redis_cluster, valkey_cluster,
# sentinel_group, tls_server, tls_files, acl_server, server_pool; chronoq on a
# cluster: raw_cluster, cluster_app, cluster_client.
pytest_plugins = [
    "tests.servers.fixtures",
    "tests.worker.cluster_helpers",
    "tests.observe.alert_servers",  # receiver (HTTP), smtp (aiosmtpd)
]


# pytest-xdist (`-n` in pyproject's addopts, `--dist loadgroup`): the tests that share a
# costly session-long server group (tests/servers/fixtures.py) run on one worker, so the
# group starts once a run, not once a worker. A Redis and a Valkey cluster are two
# groups, free to run side by side.
def _server_group(item: pytest.Item) -> str | None:
    names = getattr(item, "fixturenames", ())
    if "redis_cluster" in names:
        params = getattr(getattr(item, "callspec", None), "params", {})
        return f"cluster-{params.get('redis_cluster', 'redis')}"
    if "valkey_cluster" in names:
        return "cluster-valkey"
    for fixture, group in (("sentinel_group", "sentinel"), ("tls_server", "tls")):
        if fixture in names:
            return group
    return None


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the xdist_group marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        group = _server_group(item)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))


REDIS_URL = os.environ.get("CHRONOQ_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The test server. Missing Redis fails the run loudly; tests never skip."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.fail(
            f"no Redis answers at {REDIS_URL} ({exc}). Start one (bash .ci/run does) or set "
            "CHRONOQ_TEST_REDIS_URL.",
            pytrace=False,
        )
    return REDIS_URL


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """A fresh key prefix; its keys are deleted after the test."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    yield name
    conn = redis.Redis.from_url(redis_url)
    keys = list(conn.scan_iter(match=f"{name}:*", count=1000))
    if keys:
        conn.delete(*keys)
    conn.close()


@pytest.fixture
def app(redis_url: str, prefix: str) -> App:
    return App("test", redis_url=redis_url, prefix=prefix)


@pytest.fixture
async def client(app: App) -> AsyncIterator[Client]:
    async with app.client() as c:
        yield c


@pytest.fixture
def raw(redis_url: str) -> Iterator[redis.Redis]:
    """A plain sync connection for inspecting keys."""
    conn = redis.Redis.from_url(redis_url, decode_responses=True)
    yield conn
    conn.close()
