"""More commands at once than a pool holds connections: they wait for one (redis-py's
own pools raise "Too many connections" past 100), on a real server."""

from __future__ import annotations

import asyncio
import threading

import redis
import redis.asyncio
import redis.asyncio.sentinel
import redis.sentinel

from chronoq.redis.connector import (
    CLUSTER_NODE_POOL_SIZE,
    POOL_SIZE,
    Connector,
    _AsyncSentinelPool,
    _SyncSentinelPool,
)

AT_ONCE = POOL_SIZE + 50


async def test_async_commands_past_the_pool_size_wait_for_a_connection(
    redis_url: str, prefix: str
) -> None:
    client = Connector(redis_url).async_client()
    try:
        # Each holds its connection for 0.2 s: AT_ONCE of them need more than POOL_SIZE.
        replies = await asyncio.gather(
            *(client.blpop([f"{prefix}:nothing"], timeout=0.2) for _ in range(AT_ONCE)),
            return_exceptions=True,
        )
        assert [r for r in replies if r is not None] == []
    finally:
        await client.aclose()


def test_sync_commands_past_the_pool_size_wait_for_a_connection(
    redis_url: str, prefix: str
) -> None:
    client = Connector(redis_url).sync_client()
    failures: list[BaseException] = []

    def read() -> None:
        try:
            client.blpop([f"{prefix}:nothing"], timeout=0.2)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=read) for _ in range(AT_ONCE)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    client.close()
    assert failures == []


def test_sentinel_pools_wait_too_and_cluster_nodes_may_open_more() -> None:
    assert issubclass(_AsyncSentinelPool, redis.asyncio.BlockingConnectionPool)
    assert issubclass(_AsyncSentinelPool, redis.asyncio.sentinel.SentinelConnectionPool)
    assert issubclass(_SyncSentinelPool, redis.BlockingConnectionPool)
    assert issubclass(_SyncSentinelPool, redis.sentinel.SentinelConnectionPool)
    cluster = Connector("redis+cluster://127.0.0.1:7000").async_client()
    nodes = cluster.nodes_manager.startup_nodes.values()  # type: ignore[attr-defined]
    assert {node.max_connections for node in nodes} == {CLUSTER_NODE_POOL_SIZE}
