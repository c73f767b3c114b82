"""The test servers themselves, proven with plain redis-py clients (no chronoq code).

Each test checks what a later chronoq test relies on: the cluster spreads slots over
masters, promotes a replica when a master is SIGKILLed and follows a live reshard; the
sentinels promote the replica and `master_for` follows; TLS lets in exactly the right
certificates; ACL users get exactly their rules.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.retry import Retry

from tests.servers.acl import AclServer, AclSpec
from tests.servers.binaries import server_binary
from tests.servers.cluster import Cluster, distinct_slot_keys
from tests.servers.fixtures import SentinelSpec
from tests.servers.polling import wait_for
from tests.servers.process import ServerStartError
from tests.servers.sentinel import SentinelAuth, SentinelGroup
from tests.servers.tls import TlsFiles, TlsServer, ssl_kwargs


def no_retry() -> Retry:
    """For refusals: redis-py retries connection errors (AuthenticationError is one) with
    backoff, which only makes a refusal slower to see."""
    return Retry(NoBackoff(), 0)


BOTH_BINARIES = pytest.mark.parametrize("redis_cluster", ["redis", "valkey"], indirect=True)


@contextmanager
def cluster_client(cluster: Cluster) -> Iterator[RedisCluster]:
    client = cluster.client(decode_responses=True)
    try:
        yield client
    finally:
        client.close()


def local_get(server_client: redis.Redis, key: str) -> str | None:
    """GET on one node only: a MOVED error means the key's slot is not served there."""
    try:
        value = server_client.get(key)
    except redis.exceptions.MovedError:
        return None
    return value.decode() if isinstance(value, bytes) else value


# -- Cluster ------------------------------------------------------------------------------


@BOTH_BINARIES
def test_cluster_spreads_keys_in_different_slots_over_the_masters(redis_cluster: Cluster) -> None:
    masters, replicas = redis_cluster.masters(), redis_cluster.replicas()
    assert len(masters) == 3
    assert len(replicas) == 3
    assert all(len(redis_cluster.replicas_of(m)) == 1 for m in masters)

    keys = distinct_slot_keys(redis_cluster, 3)
    with cluster_client(redis_cluster) as client:
        for key in keys:
            client.set(key, f"value-of-{key}")
        assert [client.get(key) for key in keys] == [f"value-of-{key}" for key in keys]

    owners = [redis_cluster.owner_of_key(key) for key in keys]
    assert len({owner.port for owner in owners}) == 3
    for key, owner in zip(keys, owners, strict=True):
        for master in masters:
            with master.client() as conn:
                expected = f"value-of-{key}" if master.port == owner.port else None
                assert local_get(conn, key) == expected


def test_valkey_cluster_is_valkey(valkey_cluster: Cluster) -> None:
    with cluster_client(valkey_cluster) as client:
        client.set("k", "v")
        assert client.get("k") == "v"
    with valkey_cluster.masters()[0].client(decode_responses=True) as conn:
        assert conn.info("server")["server_name"] == "valkey"


def test_the_fixture_heals_what_a_test_killed(redis_cluster: Cluster) -> None:
    replica = redis_cluster.replicas()[0]
    master = next(m for m in redis_cluster.masters() if replica not in redis_cluster.replicas_of(m))
    redis_cluster.kill(replica)
    redis_cluster.kill(master)
    redis_cluster.heal()
    assert all(server.alive() for server in redis_cluster.servers)
    assert redis_cluster.health_problem() is None
    assert (len(redis_cluster.masters()), len(redis_cluster.replicas())) == (3, 3)


@BOTH_BINARIES
def test_a_sigkilled_master_is_replaced_by_its_replica(redis_cluster: Cluster) -> None:
    key = "{failover}:k"
    with cluster_client(redis_cluster) as client:
        client.set(key, "kept")
        master = redis_cluster.owner_of_key(key)
        (replica,) = redis_cluster.replicas_of(master)
        with master.client() as conn:
            assert conn.execute_command("WAIT", 1, 5000) == 1  # the replica has it

        promoted = redis_cluster.kill_master(master)

        assert promoted.port == replica.port
        assert redis_cluster.owner_of_key(key).port == replica.port
        assert wait_for("the client to read from the new master", lambda: client.get(key), 20)
        assert client.get(key) == "kept"
        client.set(key, "after")

    redis_cluster.restart(master)
    assert [r.port for r in redis_cluster.replicas_of(promoted)] == [master.port]
    with master.client(decode_responses=True) as conn:
        assert conn.info("replication")["role"] == "slave"


@BOTH_BINARIES
def test_a_live_slot_migration_moves_the_keys_and_the_client_follows(
    redis_cluster: Cluster,
) -> None:
    keys = [f"{{moving}}:{i}" for i in range(250)]
    slot = redis_cluster.slot_of(keys[0])
    source = redis_cluster.owner_of_slot(slot)
    target = next(m for m in redis_cluster.masters() if m.port != source.port)
    stop = threading.Event()
    errors: list[BaseException] = []
    writes = [0]

    def keep_writing() -> None:
        """Writes and reads the moving slot throughout, through ASK and MOVED."""
        with cluster_client(redis_cluster) as writer:
            for round_ in range(100_000):
                if stop.is_set():
                    return
                key = f"{{moving}}:live-{round_ % 50}"
                try:
                    writer.set(key, round_)
                    assert writer.get(key) == str(round_)
                    writes[0] += 1
                except BaseException as exc:
                    errors.append(exc)
                    return

    with cluster_client(redis_cluster) as client:
        for key in keys:
            client.set(key, key)
        thread = threading.Thread(target=keep_writing)
        thread.start()
        try:
            wait_for("the writer to get going", lambda: writes[0] > 20, 20)
            before = writes[0]
            moved = redis_cluster.migrate_slot(slot, target, batch=10, pause=0.02)
            assert writes[0] > before  # the writer ran while the keys moved (ASK replies)
            before = writes[0]
            wait_for("writes after the move", lambda: writes[0] > before + 20, 20)
        finally:
            stop.set()
            thread.join(timeout=30)

        assert errors == []
        assert moved >= len(keys)
        assert redis_cluster.owner_of_slot(slot).port == target.port
        with source.client() as conn:
            assert conn.execute_command("CLUSTER", "COUNTKEYSINSLOT", slot) == 0
        with target.client() as conn:
            assert conn.execute_command("CLUSTER", "COUNTKEYSINSLOT", slot) == len(keys) + 50
        assert client.mget(keys) == keys  # the old client follows the MOVED slot


# -- Sentinel ------------------------------------------------------------------------------


def test_sentinel_failover_promotes_the_replica_and_master_for_follows(
    sentinel_group: SentinelGroup,
) -> None:
    old = sentinel_group.current_primary()
    (replica,) = [s for s in sentinel_group.data_nodes if s is not old]
    sentinel = sentinel_group.sentinel_client(decode_responses=True)
    primary = sentinel.master_for(sentinel_group.service_name)
    try:
        primary.set("k", "kept")
        assert primary.execute_command("WAIT", 1, 5000) == 1
        assert sentinel.discover_master(sentinel_group.service_name) == old.address

        assert sentinel_group.kill_primary() is old
        new = sentinel_group.wait_for_failover(old)

        assert new is replica
        assert sentinel.discover_master(sentinel_group.service_name) == replica.address

        def written_to_new_primary() -> bool:
            return bool(primary.set("k2", "on-new"))  # a dead connection raises: retry

        wait_for("master_for to reach the new primary", written_to_new_primary, 20)
        assert primary.get("k") == "kept"
        with replica.client(decode_responses=True) as conn:
            assert conn.get("k2") == "on-new"

        sentinel_group.restart(old)
        with old.client(decode_responses=True) as conn:

            def replicates_from_the_new_primary() -> bool:
                info = conn.info("replication")  # the sentinels convert it: not at once
                return info["role"] == "slave" and int(info.get("master_port", 0)) == replica.port

            wait_for("the old primary to replicate the new", replicates_from_the_new_primary, 20)
            assert wait_for("the old primary to sync", lambda: conn.get("k2"), 20) == "on-new"
    finally:
        primary.close()
        for conn in sentinel.sentinels:
            conn.close()


def test_the_sentinel_fixture_heals_what_a_test_killed(sentinel_group: SentinelGroup) -> None:
    replica = next(
        s for s in sentinel_group.data_nodes if s is not sentinel_group.current_primary()
    )
    replica.kill()
    sentinel_group.sentinels[1].kill()
    sentinel_group.heal()
    assert all(s.alive() for s in [*sentinel_group.data_nodes, *sentinel_group.sentinels])
    assert sentinel_group.health_problem() is None


SECURED = SentinelSpec(
    auth=SentinelAuth(
        data_user="app", data_password="data-secret", sentinel_password="sentinel-secret"
    )
)


@pytest.mark.parametrize("sentinel_group", [SECURED], indirect=True)
def test_a_secured_sentinel_group_needs_credentials_on_both_sides(
    sentinel_group: SentinelGroup,
) -> None:
    sentinel = sentinel_group.sentinel_client(decode_responses=True)
    primary = sentinel.master_for(sentinel_group.service_name)
    try:
        assert primary.set("k", "v")
        assert sentinel_group.primary_address() == sentinel_group.current_primary().address
    finally:
        primary.close()
        for conn in sentinel.sentinels:
            conn.close()

    first_sentinel = sentinel_group.sentinels[0]
    with (
        first_sentinel.client(password=None, retry=no_retry()) as conn,
        pytest.raises(redis.AuthenticationError),
    ):
        conn.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", sentinel_group.service_name)
    with (
        sentinel_group.current_primary().client(
            username=None, password=None, retry=no_retry()
        ) as conn,
        pytest.raises(redis.AuthenticationError),
    ):
        conn.get("k")


# -- TLS -----------------------------------------------------------------------------------


def test_tls_with_the_right_ca_and_client_certificate_works(
    tls_server: TlsServer, tls_files: TlsFiles
) -> None:
    with tls_server.client() as conn:
        assert conn.set("k", "v")
    url_client = redis.Redis.from_url(
        tls_server.url,
        ssl_ca_certs=str(tls_files.ca.cert),
        ssl_certfile=str(tls_files.client.cert),
        ssl_keyfile=str(tls_files.client.key),
    )
    with url_client:
        assert url_client.get("k") == b"v"


@pytest.mark.parametrize(
    "wrong",
    ["server from an unrelated CA", "no client certificate", "client from an unrelated CA"],
)
def test_tls_refuses_what_it_must(tls_server: TlsServer, tls_files: TlsFiles, wrong: str) -> None:
    options = {
        "server from an unrelated CA": ssl_kwargs(tls_files.wrong_ca.cert, tls_files.client),
        "no client certificate": ssl_kwargs(tls_files.ca.cert, None),
        "client from an unrelated CA": ssl_kwargs(tls_files.ca.cert, tls_files.wrong_client),
    }[wrong]
    conn = tls_server.client(**options, retry=no_retry())
    with conn, pytest.raises(redis.ConnectionError):
        conn.ping()


def test_a_tls_only_server_refuses_plain_tcp(tls_server: TlsServer) -> None:
    conn = tls_server.client(ssl=False, retry=no_retry())
    with conn, pytest.raises(redis.ConnectionError):
        conn.ping()


@pytest.mark.parametrize("tls_server", ["optional"], indirect=True)
def test_tls_auth_clients_optional_lets_in_a_client_without_a_certificate(
    tls_server: TlsServer, tls_files: TlsFiles
) -> None:
    with tls_server.client(**ssl_kwargs(tls_files.ca.cert, None)) as conn:
        assert conn.ping()
    unrelated = ssl_kwargs(tls_files.ca.cert, tls_files.wrong_client)
    conn = tls_server.client(**unrelated, retry=no_retry())
    with conn, pytest.raises(redis.ConnectionError):
        conn.ping()


# -- ACL -----------------------------------------------------------------------------------


def test_acl_users_get_exactly_their_rules(acl_server: AclServer) -> None:
    with acl_server.client_as("producer", decode_responses=True) as producer:
        assert producer.set("job", "payload")
        with pytest.raises(redis.exceptions.NoPermissionError):
            producer.flushall()
    with acl_server.client_as("viewer", decode_responses=True) as viewer:
        assert viewer.get("job") == "payload"
        with pytest.raises(redis.exceptions.NoPermissionError):
            viewer.set("job", "changed")
    with acl_server.client_as("worker", decode_responses=True) as worker:
        assert worker.eval("return redis.call('GET', KEYS[1])", 1, "job") == "payload"
        with pytest.raises(redis.exceptions.NoPermissionError):
            worker.config_get("maxmemory")
    with (
        acl_server.anonymous(retry=no_retry()) as anonymous,
        pytest.raises(redis.AuthenticationError),
    ):
        anonymous.get("job")
    wrong = acl_server.client_as("viewer", password="wrong", retry=no_retry())
    with wrong, pytest.raises(redis.AuthenticationError):
        wrong.ping()
    url_client = redis.Redis.from_url(acl_server.url_for("viewer"), decode_responses=True)
    with url_client:
        assert url_client.get("job") == "payload"


RESTRICTED = AclSpec(
    users={"scoped": "on >scoped-secret ~cq:* -@all +get +set +@connection"},
    default_password="default-secret",
)


@pytest.mark.parametrize("acl_server", [RESTRICTED], indirect=True)
def test_acl_rules_come_from_the_test_and_default_may_have_a_password(
    acl_server: AclServer,
) -> None:
    with acl_server.client_as("scoped") as scoped:
        assert scoped.set("cq:k", "v")
        with pytest.raises(redis.exceptions.NoPermissionError):
            scoped.set("other:k", "v")
    with acl_server.client_as("default") as default:
        assert default.get("cq:k") == b"v"


def test_a_server_that_cannot_start_says_which_binary_port_and_why() -> None:
    broken = AclServer(server_binary("redis"), {"bad": "on >pw +no-such-command"})
    try:
        with pytest.raises(ServerStartError) as failure:
            broken.start(timeout=10)
    finally:
        broken.stop()
    message = str(failure.value)
    assert str(server_binary("redis")) in message
    assert f"port {broken.port}" in message
    assert "no-such-command" in message  # from the server's own log
