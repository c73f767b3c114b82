"""Redis URLs: every accepted form, and a clear error naming each mistake."""

from __future__ import annotations

import pytest
import redis.asyncio.cluster
import redis.sentinel

from chronoq.core.errors import ConfigurationError
from chronoq.redis.connector import Connector
from chronoq.redis.urls import Endpoint, Mode, parse_redis_url, redact


@pytest.mark.parametrize(
    ("url", "tls"),
    [
        ("redis://127.0.0.1:6379/0", False),
        ("rediss://user:secret@cache.example.com:6380/2", True),
        ("unix:///run/redis.sock?db=3", False),
    ],
)
def test_single_server_urls_keep_the_url_for_redis_py(url: str, tls: bool) -> None:
    target = parse_redis_url(url)
    assert (target.mode, target.tls, target.url) == (Mode.SINGLE, tls, url)


def test_cluster_url_lists_seed_nodes_and_credentials() -> None:
    target = parse_redis_url("redis+cluster://app:p%40ss@10.0.0.1:7000,10.0.0.2:7001,node3")
    assert target.mode is Mode.CLUSTER
    assert target.nodes == (
        Endpoint("10.0.0.1", 7000),
        Endpoint("10.0.0.2", 7001),
        Endpoint("node3", 6379),
    )
    assert (target.username, target.password) == ("app", "p@ss")
    assert not target.tls
    assert parse_redis_url("rediss+cluster://h:7000").tls


def test_sentinel_url_names_service_and_db() -> None:
    target = parse_redis_url("redis+sentinel://:pw@s1:26379,s2,[::1]:26380/mymaster/2")
    assert target.mode is Mode.SENTINEL
    assert target.nodes == (Endpoint("s1", 26379), Endpoint("s2", 26379), Endpoint("::1", 26380))
    assert (target.service, target.db, target.username, target.password) == (
        "mymaster",
        2,
        None,
        "pw",
    )
    assert parse_redis_url("redis+sentinel://s1/cache").db == 0


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("localhost:6379", "expected redis://"),
        ("http://localhost", "unknown scheme"),
        ("redis://", "no host"),
        ("redis://host:notaport", "bad port"),
        ("unix://", "no socket path"),
        ("redis+cluster://", "no host:port"),
        ("redis+cluster://h:7000/0", "no databases"),
        ("redis+cluster://h:99999", "bad host:port"),
        ("redis+sentinel://s1:26379", "name the Sentinel service"),
        ("redis+sentinel://s1:26379/a/b", "/service_name[/db]"),
    ],
)
def test_bad_urls_say_what_is_wrong(url: str, complaint: str) -> None:
    with pytest.raises(ConfigurationError, match="invalid Redis URL") as caught:
        parse_redis_url(url)
    assert complaint in str(caught.value)


def test_errors_and_descriptions_never_show_the_password() -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_redis_url("redis+sentinel://u:topsecret@s1:26379")
    assert "topsecret" not in str(caught.value)
    assert redact("redis://u:topsecret@h:1/0") == "redis://u:***@h:1/0"
    assert "topsecret" not in parse_redis_url("redis://u:topsecret@h:1/0").where


def test_connector_builds_the_client_kind_of_each_url() -> None:
    """No connection is made: clients connect lazily."""
    assert type(Connector("redis://127.0.0.1:6379").async_client()).__name__ == "Redis"
    cluster = Connector("redis+cluster://127.0.0.1:7000").async_client()
    assert isinstance(cluster, redis.asyncio.cluster.RedisCluster)
    sentinel = Connector("redis+sentinel://127.0.0.1:26379/svc").sync_client()
    assert isinstance(sentinel.connection_pool, redis.sentinel.SentinelConnectionPool)
    assert Connector("redis+cluster://127.0.0.1:7000").sync_pool() is None
