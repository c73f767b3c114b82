"""Opening a client on a Redis Cluster maps the slots then, not on the first enqueue
(the map and the command table cost ~15 ms of CPU: the first job would be that late)."""

from __future__ import annotations

import pytest
import redis.asyncio.cluster

from chronoq import App
from tests.servers.cluster import Cluster
from tests.worker.cluster_helpers import cluster_url


@pytest.mark.timeout(30)
async def test_a_cluster_client_is_mapped_when_opened(redis_cluster: Cluster, prefix: str) -> None:
    client = App("open", redis_url=cluster_url(redis_cluster), prefix=prefix).client()
    cluster = client.backend.redis
    assert isinstance(cluster, redis.asyncio.cluster.RedisCluster)
    assert cluster._initialize  # nothing sent yet
    async with client:
        assert not cluster._initialize
        assert len(cluster.nodes_manager.slots_cache) == 16384
