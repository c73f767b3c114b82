"""ASK redirections through chronoq's Cluster client, on a real cluster.

While a slot moves, a key already migrated is served by the target only to a command
that follows ASKING on the same connection. redis-py sends ASKING as a command of
its own: with more than one idle connection to the target, it went out on one and the
command on another, so the command bounced between the two nodes until redis-py gave
up (a job's task failed for it during a live reshard and ran again).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import pytest
import redis.asyncio.cluster

from chronoq.redis.connector import Connector
from tests.servers.cluster import Cluster
from tests.servers.process import HOST, ServerProcess
from tests.worker.cluster_helpers import cluster_url


@contextmanager
def half_moved(cluster: Cluster, key: str) -> Iterator[ServerProcess]:
    """Start moving `key`'s slot to another master and migrate `key` alone; finish the
    move on the way out. Yields the target."""
    slot = cluster.slot_of(key)
    source = cluster.owner_of_slot(slot)
    target = next(m for m in cluster.masters() if m.port != source.port)
    source_id, target_id = cluster.node_id(source), cluster.node_id(target)
    with target.client() as conn:
        conn.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
    with source.client() as conn:
        conn.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
        conn.execute_command("MIGRATE", HOST, target.port, key, 0, 5000)
    try:
        yield target
    finally:
        for master in [target, source, *cluster.masters()]:
            with master.client() as conn:
                conn.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)


@pytest.fixture
async def client(redis_cluster: Cluster) -> AsyncIterator[redis.asyncio.cluster.RedisCluster]:
    made = Connector(cluster_url(redis_cluster)).async_client()
    assert isinstance(made, redis.asyncio.cluster.RedisCluster)
    try:
        yield made
    finally:
        await made.aclose()


async def open_connections(
    client: redis.asyncio.cluster.RedisCluster, server: ServerProcess, count: int
) -> None:
    """Leave `count` idle connections to `server` in the client's pool for that node."""
    node = client.get_node(host=HOST, port=server.port)
    assert node is not None
    await asyncio.gather(*(client.execute_command("PING", target_nodes=node) for _ in range(count)))
    assert len(node._free) >= 2  # the case that went wrong


@pytest.mark.timeout(30)
async def test_a_migrated_key_is_reached_with_several_connections_to_the_target(
    redis_cluster: Cluster, client: redis.asyncio.cluster.RedisCluster, prefix: str
) -> None:
    key = f"{prefix}:{{ask}}:set"
    await client.sadd(key, "before")
    with half_moved(redis_cluster, key) as target:
        await open_connections(client, target, 4)
        for n in range(5):  # each one an ASK from the source, then the target
            assert await client.sadd(key, f"during-{n}") == 1
        with target.client() as conn, conn.pipeline(transaction=False) as pipe:
            pipe.execute_command("ASKING")  # the target serves the slot only after it
            pipe.scard(key)
            assert pipe.execute() == [True, 6]  # every member on the target
    assert await client.scard(key) == 6
