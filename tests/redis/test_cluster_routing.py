"""How a Cluster client routes chronoq's FCALLs and which connections it makes:
no server needed (routing is computed from the keys; connections are made lazily)."""

from __future__ import annotations

import pytest
import redis.asyncio.cluster
import redis.exceptions
from redis.crc import key_slot

from chronoq.redis.connector import Connector, _hash_tag, fcall_slot, lane_slot

KEYS = ["cq:{default}:ready", "cq:{default}:scheduled", "cq:{default}:job:"]


def client() -> redis.asyncio.cluster.RedisCluster:
    made = Connector("redis+cluster://127.0.0.1:7000,127.0.0.1:7001").async_client()
    assert isinstance(made, redis.asyncio.cluster.RedisCluster)
    return made


@pytest.mark.parametrize(
    ("key", "tag"),
    [("a:{q}:b", "q"), ("a:{q}{r}", "q"), ("{}x", None), ("plain", None), ("a{b", None)],
)
def test_a_hash_tag_is_what_redis_cluster_hashes(key: str, tag: str | None) -> None:
    assert _hash_tag(key) == tag


def test_an_fcall_goes_to_its_keys_slot() -> None:
    slot = fcall_slot(client(), ("FCALL", "cq_claim", len(KEYS), *KEYS, "arg"))
    assert slot == key_slot(b"default")


def test_keys_of_different_slots_are_refused_naming_the_function() -> None:
    keys = ["cq:{a}:ready", "cq:{b}:ready"]
    with pytest.raises(redis.exceptions.RedisClusterException, match="cq_claim keys span"):
        fcall_slot(client(), ("FCALL", "cq_claim", 2, *keys))


def test_tagless_keys_in_one_slot_are_still_routed() -> None:
    assert fcall_slot(client(), ("FCALL", "f", 1, "plain")) == key_slot(b"plain")


def test_cluster_nodes_pack_with_hiredis_like_single_server_clients() -> None:
    made = client()
    classes = {node.connection_class for node in made.nodes_manager.startup_nodes.values()}
    assert len(classes) == 1
    (node_class,) = classes
    single = Connector("redis://127.0.0.1:6379/0").async_client()
    assert node_class.__name__.startswith("Hiredis")
    assert node_class.pack_command is single.connection_pool.connection_class.pack_command
    assert made.nodes_manager.connection_kwargs["connection_class"] is node_class


def test_a_key_lists_slot_is_remembered_and_a_bad_list_refused_every_time() -> None:
    made = client()
    command = ("FCALL", "cq_claim", len(KEYS), *KEYS, "arg")
    assert fcall_slot(made, command) == fcall_slot(made, command) == key_slot(b"default")
    bad = ("FCALL", "cq_claim", 2, "cq:{a}:ready", "cq:{b}:ready")
    for _ in range(2):
        with pytest.raises(redis.exceptions.RedisClusterException, match="keys span"):
            fcall_slot(made, bad)


def test_an_idle_workers_read_of_one_queue_goes_to_the_queues_slot() -> None:
    """A lane sends an FCALL, or a BLPOP whose keys share a slot, straight to that
    slot's node; a read spanning slots is refused naming it, anything else is left
    to the Cluster client (None)."""
    made = client()
    read = ("BLPOP", "cq:{default}:inbox:w1", "cq:{default}:wake", 1.0)
    assert lane_slot(made, read) == lane_slot(made, read) == key_slot(b"default")
    assert lane_slot(made, ("FCALL", "cq_claim", len(KEYS), *KEYS)) == key_slot(b"default")
    with pytest.raises(redis.exceptions.RedisClusterException, match="BLPOP keys span"):
        lane_slot(made, ("BLPOP", "cq:{a}:wake", "cq:{b}:wake", 1.0))
    assert lane_slot(made, ("BLPOP", 1.0)) is None
    assert lane_slot(made, ("GET", "cq:{default}:seq")) is None
    assert lane_slot(made, ()) is None
