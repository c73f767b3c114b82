"""chronoq on a real Redis Cluster: URLs, queues placed on chosen masters, the audit that
every job is in exactly one index and ran exactly once, and fixtures (registered in
tests/conftest.py): `raw_cluster`, `cluster_app`, `cluster_client` on `redis_cluster`."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field

import pytest
from redis.cluster import RedisCluster

from chronoq import App, Client
from tests.servers.cluster import Cluster
from tests.servers.process import HOST, ServerProcess

INDEXES = ("ready", "scheduled", "blocked", "active", "dead", "done")
BOTH_BINARIES = pytest.mark.parametrize("redis_cluster", ["redis", "valkey"], indirect=True)


def cluster_url(cluster: Cluster) -> str:
    """A `redis+cluster://` URL seeding every live node."""
    return "redis+cluster://" + ",".join(f"{HOST}:{s.port}" for s in cluster.alive())


def queue_key(prefix: str, queue: str) -> str:
    return f"{prefix}:{{{queue}}}:ready"


def runs_key(prefix: str, queue: str) -> str:
    """The set recording every run (`<n>:<token>`); the queue's hash tag, so its slot."""
    return f"{prefix}:{{{queue}}}:test-runs"


def queues_on(cluster: Cluster, prefix: str, masters: Iterable[ServerProcess]) -> list[str]:
    """One queue name per given master, in order, whose keys that master holds."""
    names: list[str] = []
    for master in masters:
        index = 0
        while True:
            name = f"q{index}"
            if name not in names and cluster.owner_of_key(queue_key(prefix, name)) == master:
                names.append(name)
                break
            index += 1
    return names


def spread_queues(cluster: Cluster, prefix: str) -> list[str]:
    """Three queues, each on a different master."""
    names = queues_on(cluster, prefix, cluster.masters())
    assert len({cluster.owner_of_key(queue_key(prefix, n)).port for n in names}) == 3
    return names


@dataclass
class Audit:
    """Where every job of a queue is: ids by index, and the job hashes that exist."""

    queue: str
    by_index: dict[str, list[str]] = field(default_factory=dict)
    hashes: set[str] = field(default_factory=set)

    def placements(self) -> Counter[str]:
        return Counter(job_id for ids in self.by_index.values() for job_id in ids)

    def problems(self) -> list[str]:
        """Jobs in no index or in two, index entries without a job hash."""
        counts = self.placements()
        found = [f"{self.queue}: {i} in {counts[i]} indexes" for i in counts if counts[i] > 1]
        found += [f"{self.queue}: job {i} in no index" for i in self.hashes - set(counts)]
        found += [f"{self.queue}: {i} indexed, no job hash" for i in set(counts) - self.hashes]
        return found

    def count(self, index: str) -> int:
        return len(self.by_index[index])


def audit(raw: RedisCluster, prefix: str, queue: str) -> Audit:
    keys = [f"{prefix}:{{{queue}}}:{index}" for index in INDEXES]
    result = Audit(queue)
    for index, key in zip(INDEXES, keys, strict=True):
        result.by_index[index] = list(raw.zrange(key, 0, -1))
    job_prefix = f"{prefix}:{{{queue}}}:job:"
    for key in raw.scan_iter(match=f"{job_prefix}*", count=1000):  # every master
        result.hashes.add(str(key)[len(job_prefix) :])
    return result


def run_counts(raw: RedisCluster, prefix: str, queue: str) -> Counter[int]:
    """How often each job number of `queue` ran (the tasks' own record)."""
    members = raw.smembers(runs_key(prefix, queue))
    return Counter(int(str(member).split(":")[0]) for member in members)


@pytest.fixture
def raw_cluster(redis_cluster: Cluster) -> Iterator[RedisCluster]:
    conn = redis_cluster.client(decode_responses=True)
    yield conn
    conn.close()


@pytest.fixture
def cluster_app(redis_cluster: Cluster, prefix: str) -> App:
    return App("cluster", redis_url=cluster_url(redis_cluster), prefix=prefix)


@pytest.fixture
async def cluster_client(cluster_app: App) -> AsyncIterator[Client]:
    async with cluster_app.client() as c:
        yield c
