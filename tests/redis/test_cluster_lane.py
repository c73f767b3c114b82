"""A Cluster lane: one kept connection per node for the hot FCALLs, and the Cluster
client's own path whenever the topology says "not here" (chronoq.redis.lane)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio.cluster

from chronoq.redis.connector import Connector
from chronoq.redis.lane import ClusterLane, lane_for
from chronoq.redis.scripts import SCRIPTS
from tests.redis.test_cluster_ask import half_moved
from tests.servers.cluster import Cluster
from tests.servers.process import HOST
from tests.worker.cluster_helpers import cluster_url

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def client(redis_cluster: Cluster) -> AsyncIterator[redis.asyncio.cluster.RedisCluster]:
    made = Connector(cluster_url(redis_cluster)).async_client()
    assert isinstance(made, redis.asyncio.cluster.RedisCluster)
    await made.initialize()
    try:
        yield made
    finally:
        await made.aclose()


def keys_on_every_master(cluster: Cluster, prefix: str) -> list[str]:
    """One key per master: hash tags whose slots three different masters own."""
    found: dict[int, str] = {}
    n = 0
    while len(found) < len(cluster.masters()):
        key = f"{prefix}:{{lane{n}}}:defs"
        found.setdefault(cluster.owner_of_slot(cluster.slot_of(key)).port, key)
        n += 1
    return list(found.values())


async def clock(lane: ClusterLane, key: str) -> list[int]:
    return list(await SCRIPTS.clock(lane, [key], [""]))


async def test_each_node_gets_one_kept_connection(
    redis_cluster: Cluster, client: redis.asyncio.cluster.RedisCluster, prefix: str
) -> None:
    lane = lane_for(client)
    assert isinstance(lane, ClusterLane)
    keys = keys_on_every_master(redis_cluster, prefix)
    for key in keys:
        assert (await clock(lane, key))[0] > 0
    kept = {name: connection for name, (_node, connection) in lane._kept.items()}
    assert sorted(kept) == sorted(f"{HOST}:{m.port}" for m in redis_cluster.masters())
    for _ in range(3):
        for key in keys:
            await clock(lane, key)
    assert {name: conn for name, (_node, conn) in lane._kept.items()} == kept
    await lane.aclose()
    assert not lane._kept
    for name, connection in kept.items():  # given back to their nodes
        node = client.get_node(node_name=name)
        assert node is not None and connection in node._free


async def test_commands_for_different_nodes_are_in_flight_together(
    redis_cluster: Cluster, client: redis.asyncio.cluster.RedisCluster, prefix: str
) -> None:
    """A worker claims from queues on three nodes at once: each call takes its node's
    lane, none waits for another node's reply or falls back to the client's path.
    A second call for a node already in flight goes the client's way, and is answered."""
    lane = ClusterLane(client)
    keys = keys_on_every_master(redis_cluster, prefix)
    replies = await asyncio.gather(*(clock(lane, key) for key in keys))
    assert all(reply[0] > 0 for reply in replies)
    assert len(lane._kept) == len(keys)  # all three went out on kept connections
    twice = await asyncio.gather(clock(lane, keys[0]), clock(lane, keys[0]))
    assert all(reply[0] > 0 for reply in twice)
    assert len(lane._kept) == len(keys) and not lane._busy
    await lane.aclose()


async def test_a_moved_slot_is_followed(
    redis_cluster: Cluster, client: redis.asyncio.cluster.RedisCluster, prefix: str
) -> None:
    """The old owner answers MOVED: the Cluster client follows it (and learns the new
    owner), and the lane keeps its next calls on the new owner."""
    key = f"{prefix}:{{moving}}:defs"
    lane = ClusterLane(client)
    await client.hset(key, "f", "1")
    await clock(lane, key)
    with half_moved(redis_cluster, key) as target:
        assert (await clock(lane, key))[0] > 0  # ASK: sent again through the client
    # the slot is the target's now: MOVED once, then straight there
    assert (await clock(lane, key))[0] > 0
    assert (await clock(lane, key))[0] > 0
    assert f"{HOST}:{target.port}" in lane._kept
    assert await client.hget(key, "f") == "1"
    await lane.aclose()


async def test_a_killed_connection_is_replaced(
    redis_cluster: Cluster, client: redis.asyncio.cluster.RedisCluster, prefix: str
) -> None:
    key = f"{prefix}:{{killed}}:defs"
    lane = ClusterLane(client)
    await clock(lane, key)
    owner = redis_cluster.owner_of_slot(redis_cluster.slot_of(key))
    with owner.client() as admin:
        killed = admin.client_kill_filter(_type="normal", skipme=True)
    assert killed >= 1
    assert (await clock(lane, key))[0] > 0  # the kept one is gone: the client's path ran it
    assert (await clock(lane, key))[0] > 0  # and a fresh connection is kept
    await lane.aclose()


async def test_an_idle_read_goes_out_on_its_nodes_kept_connection(
    redis_cluster: Cluster, client: redis.asyncio.cluster.RedisCluster, prefix: str
) -> None:
    """A worker's blocking read of one queue (its inbox and doorbell, one slot) takes
    the lane of that queue's node, and returns what is pushed while it waits."""
    inbox, wake = f"{prefix}:{{idle}}:inbox:w1", f"{prefix}:{{idle}}:wake"
    lane = ClusterLane(client)
    read = asyncio.create_task(lane.execute_command("BLPOP", inbox, wake, 5))
    await asyncio.sleep(0.2)
    assert not read.done()
    await client.rpush(wake, "1")
    assert await asyncio.wait_for(read, 5) == [wake, "1"]
    owner = redis_cluster.owner_of_slot(redis_cluster.slot_of(wake))
    assert list(lane._kept) == [f"{HOST}:{owner.port}"]
    assert await lane.execute_command("BLPOP", inbox, wake, 0.05) is None
    await lane.aclose()


def test_other_clients_get_no_lane() -> None:
    thing = object()
    assert lane_for(thing) is thing
