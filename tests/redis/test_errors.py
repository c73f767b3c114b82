"""Every error classified by its class: each provoked for real on a private server."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio
from redis._parsers.base import BaseParser

from chronoq.redis.errors import (
    Fault,
    RedisUnusable,
    classify,
    describe,
    error_code,
    refused_command,
    server_label,
)
from tests.fault.helpers import free_port
from tests.redis.private_servers import (
    SYSTEM_REDIS,
    PrivateServer,
    fill,
    make_tls_files,
    new_server,
    private_servers,
    rewrite_aof,
    slow_load_args,
)

WRITE_SCRIPT = "redis.call('SET', KEYS[1], 'x') return 1"


@pytest.fixture
def servers() -> Iterator[list[PrivateServer]]:
    with private_servers() as started:
        yield started


async def provoke(
    url: str, action: Callable[[redis.asyncio.Redis], Awaitable[Any]], **options: Any
) -> BaseException:
    """Run `action` on a fresh client of `url`; return what it raised."""
    client = redis.asyncio.Redis.from_url(url, decode_responses=True, **options)
    try:
        await action(client)
    except Exception as exc:
        return exc
    finally:
        await client.aclose()
    raise AssertionError("no error was raised")


# -- permanent: waiting cannot help ---------------------------------------------


async def test_a_wrong_password_is_permanent(servers: list[PrivateServer]) -> None:
    server = new_server(servers, password="right")
    exc = await provoke(f"redis://:wrong@{server.label}/0", lambda r: r.ping())
    assert isinstance(exc, redis.AuthenticationError)
    assert classify(exc) is Fault.PERMANENT
    assert describe(exc, server.label) == (
        f"Redis at {server.label} refused the username or password (WRONGPASS)"
    )


async def test_a_missing_password_is_permanent(servers: list[PrivateServer]) -> None:
    server = new_server(servers, password="right")
    exc = await provoke(f"redis://{server.label}/0", lambda r: r.ping())
    assert classify(exc) is Fault.PERMANENT
    assert describe(exc, server.label).startswith(
        f"Redis at {server.label} requires a password (NOAUTH)"
    )


async def test_a_command_the_acl_denies_is_permanent(servers: list[PrivateServer]) -> None:
    server = new_server(servers)
    server.admin().acl_setuser(
        "limited", enabled=True, passwords=["+pw"], keys=["*"], channels=["*"],
        commands=["+@all", "-evalsha"],
    )  # fmt: skip
    exc = await provoke(
        f"redis://limited:pw@{server.label}/0", lambda r: r.evalsha("0" * 40, 1, "k")
    )
    assert isinstance(exc, redis.exceptions.NoPermissionError)
    assert classify(exc) is Fault.PERMANENT
    assert refused_command(exc)  # the connection itself is fine
    line = describe(exc, server.label)
    assert line.startswith(f"Redis at {server.label} denied this user a command chronoq needs")
    assert "(NOPERM)" in line and "evalsha" in line


async def test_an_unknown_command_is_permanent(servers: list[PrivateServer]) -> None:
    server = new_server(servers)
    exc = await provoke(server.url, lambda r: r.execute_command("CHRONOQNOSUCH"))
    assert classify(exc) is Fault.PERMANENT
    assert refused_command(exc)
    assert "does not know a command chronoq needs" in describe(exc, server.label)


async def test_an_untrusted_tls_certificate_is_permanent(tmp_path: Path) -> None:
    tls = make_tls_files(tmp_path)
    with private_servers() as started:
        server = new_server(started, binary=SYSTEM_REDIS, tls=tls)
        for options in ({"ssl_ca_certs": str(tls.other_ca)}, {}):
            exc = await provoke(server.url, lambda r: r.ping(), **options)
            assert isinstance(exc, redis.ConnectionError)  # the SSL error is its context
            assert classify(exc) is Fault.PERMANENT, exc
            line = describe(exc, server.label)
            assert line.startswith(f"TLS with Redis at {server.label} failed: certificate verify")
            assert line.endswith("(CERTIFICATE_VERIFY_FAILED)"), line
        # The right CA works: the failure above was the certificate, not the server.
        client = server.admin()
        assert client.ping()
        client.close()


async def test_a_tls_hostname_mismatch_is_permanent(tmp_path: Path) -> None:
    tls = make_tls_files(tmp_path)
    with private_servers() as started:
        server = new_server(started, binary=SYSTEM_REDIS, tls=tls)
        url = f"rediss://localhost:{server.port}/0"  # the certificate names 127.0.0.1
        exc = await provoke(url, lambda r: r.ping(), ssl_ca_certs=str(tls.ca))
        assert classify(exc) is Fault.PERMANENT
        assert "Hostname mismatch" in describe(exc)


async def test_a_plain_client_on_a_tls_port_looks_like_an_outage(tmp_path: Path) -> None:
    """Documented limit: the server resets the connection, as a crashing one would."""
    tls = make_tls_files(tmp_path)
    with private_servers() as started:
        server = new_server(started, binary=SYSTEM_REDIS, tls=tls)
        exc = await provoke(f"redis://{server.label}/0", lambda r: r.ping())
        assert classify(exc) is Fault.TEMPORARY


# -- temporary: the server answers again if we wait ------------------------------


async def test_a_write_on_a_replica_is_temporary(servers: list[PrivateServer]) -> None:
    primary, replica = new_server(servers), new_server(servers)
    replica.admin().replicaof("127.0.0.1", primary.port)
    for action in (lambda r: r.set("k", "v"), lambda r: r.eval(WRITE_SCRIPT, 1, "k")):
        exc = await provoke(replica.url, action)
        assert isinstance(exc, redis.exceptions.ReadOnlyError)
        assert str(exc).startswith("You can't write")  # the code is not in the message
        assert classify(exc) is Fault.TEMPORARY
        assert describe(exc, replica.label) == (
            f"Redis at {replica.label} is a read-only replica (READONLY)"
        )


async def test_a_blocking_read_ended_by_a_demotion_is_temporary(
    servers: list[PrivateServer],
) -> None:
    primary, demoted = new_server(servers), new_server(servers)
    client = redis.asyncio.Redis.from_url(demoted.url, decode_responses=True)
    try:
        read = asyncio.create_task(client.blpop(["q"], timeout=10))
        await asyncio.sleep(0.2)
        demoted.admin().replicaof("127.0.0.1", primary.port)
        with pytest.raises(redis.ResponseError) as raised:
            await read
    finally:
        await client.aclose()
    assert error_code(raised.value) == "UNBLOCKED"  # no class: mapped by its code
    assert classify(raised.value) is Fault.TEMPORARY


async def test_loading_is_temporary(servers: list[PrivateServer]) -> None:
    server = new_server(servers)
    admin = server.admin()
    fill(admin, 20_000)
    rewrite_aof(admin)
    admin.close()
    server.kill()
    server.start(*slow_load_args(), ready=False)
    exc = await provoke(server.url, lambda r: r.set("k", "v"))
    assert isinstance(exc, redis.BusyLoadingError)
    assert classify(exc) is Fault.TEMPORARY
    assert describe(exc, server.label).endswith("is loading its data set into memory (LOADING)")


async def test_out_of_memory_is_temporary(servers: list[PrivateServer]) -> None:
    server = new_server(servers, "--maxmemory", "1mb")

    async def write_until_full(client: redis.asyncio.Redis) -> None:
        for i in range(200):
            await client.set(f"big:{i}", "x" * 100_000)

    exc = await provoke(server.url, write_until_full)
    assert isinstance(exc, redis.exceptions.OutOfMemoryError)
    assert classify(exc) is Fault.TEMPORARY
    assert "(OOM)" in describe(exc)


async def test_a_busy_script_is_temporary_by_its_code(servers: list[PrivateServer]) -> None:
    server = new_server(servers, "--busy-reply-threshold", "50")
    looping = redis.asyncio.Redis.from_url(server.url)
    spin = asyncio.create_task(looping.eval("while true do end", 0))
    try:
        await asyncio.sleep(0.3)
        exc = await provoke(server.url, lambda r: r.get("k"))
        piped = await provoke(server.url, lambda r: r.pipeline().get("a").get("b").execute())
    finally:
        server.admin().script_kill()
        with pytest.raises(redis.ResponseError):
            await spin
        await looping.aclose()
    for found in (exc, piped):
        assert type(found) is redis.ResponseError  # redis-py has no class for BUSY
        assert error_code(found) == "BUSY", found
        assert classify(found) is Fault.TEMPORARY
    assert describe(exc) == "Redis is busy running a script (BUSY)"


async def test_a_replica_without_its_primary_is_temporary(servers: list[PrivateServer]) -> None:
    replica = new_server(servers, "--replica-serve-stale-data", "no")
    replica.admin().replicaof("127.0.0.1", free_port())  # nobody listens there
    exc = await provoke(replica.url, lambda r: r.get("k"))
    assert isinstance(exc, redis.exceptions.MasterDownError)
    assert classify(exc) is Fault.TEMPORARY


async def test_a_cluster_without_slots_is_temporary(servers: list[PrivateServer]) -> None:
    node = new_server(servers, "--cluster-enabled", "yes", "--cluster-port", str(free_port()))
    exc = await provoke(node.url, lambda r: r.get("k"))
    assert isinstance(exc, redis.exceptions.ClusterDownError)
    assert classify(exc) is Fault.TEMPORARY


def test_cluster_replies_as_redis_py_parses_them() -> None:
    """TRYAGAIN needs a slot mid-migration; the parser's mapping is what matters."""
    again = BaseParser.parse_error("TRYAGAIN Multiple keys request during rehashing of slot")
    assert classify(again) is Fault.TEMPORARY
    moved = BaseParser.parse_error("MOVED 3999 127.0.0.1:6381")
    assert classify(moved) is Fault.OTHER  # the cluster client follows redirects itself


async def test_a_refused_connection_is_temporary() -> None:
    label = f"127.0.0.1:{free_port()}"
    exc = await provoke(f"redis://{label}/0", lambda r: r.ping())
    assert classify(exc) is Fault.TEMPORARY
    assert not refused_command(exc)
    assert describe(exc, label) == f"cannot reach Redis at {label}: Connection refused"


async def test_a_connection_lost_mid_command_is_temporary(servers: list[PrivateServer]) -> None:
    server = new_server(servers)

    async def block_then_lose(client: redis.asyncio.Redis) -> None:
        read = asyncio.create_task(client.blpop(["q"], timeout=10))
        await asyncio.sleep(0.2)
        server.kill()
        await read

    exc = await provoke(server.url, block_then_lose)
    assert isinstance(exc, redis.ConnectionError)
    assert classify(exc) is Fault.TEMPORARY


async def test_a_timeout_is_temporary(servers: list[PrivateServer]) -> None:
    server = new_server(servers)
    exc = await provoke(server.url, lambda r: r.blpop(["q"], timeout=3), socket_timeout=0.2)
    assert isinstance(exc, redis.TimeoutError)
    assert classify(exc) is Fault.TEMPORARY
    assert "did not answer in time" in describe(exc)


# -- other: for the caller to judge ---------------------------------------------


async def test_script_and_type_errors_are_neither(servers: list[PrivateServer]) -> None:
    server = new_server(servers)
    admin = server.admin()
    admin.set("text", "abc")
    incr = "return redis.call('INCR', KEYS[1])"
    failing = [
        await provoke(server.url, lambda r: r.eval(incr, 1, "text")),
        await provoke(server.url, lambda r: r.lpush("text", "x")),
        await provoke(server.url, lambda r: r.eval("error(", 0)),
    ]
    for exc in failing:
        assert classify(exc) is Fault.OTHER, exc
        assert refused_command(exc)


def test_a_permanent_error_becomes_one_line_naming_the_server() -> None:
    cause = BaseParser.parse_error("WRONGPASS invalid username-password pair or user is disabled.")
    unusable = RedisUnusable.from_error(cause, "db.example:6380")
    assert str(unusable) == "Redis at db.example:6380 refused the username or password (WRONGPASS)"
    assert unusable.__cause__ is cause and unusable.server == "db.example:6380"


def test_server_label_hides_credentials() -> None:
    assert server_label("redis://user:secret@db.example:6380/2") == "db.example:6380"
    assert server_label("rediss://:pw@10.0.0.1") == "10.0.0.1:6379"
    assert server_label("unix:///run/redis.sock") == "unix:/run/redis.sock"


async def test_a_closed_stream_inside_the_driver_is_a_lost_connection() -> None:
    """What a Cluster client's command hits when the client closed its node's
    connections mid-send: before redis-py 8.2 an AttributeError raised in redis-py,
    not a ConnectionError (8.2 raises a ConnectionError); a lost connection either way."""
    connection = redis.asyncio.connection.Connection(host="127.0.0.1", port=1)  # never connected
    with pytest.raises((AttributeError, redis.exceptions.ConnectionError)) as raised:
        await connection._send_packed_command([b"PING\r\n"])
    assert classify(raised.value) is Fault.TEMPORARY
    # The AttributeError of the versions before 8.2, raised by code of the driver's own
    # module as theirs was (chronoq supports redis-py 5.0 and later):
    with pytest.raises(AttributeError) as old_driver:
        exec("stream.writelines([b'x'])", {"__name__": "redis.asyncio.connection", "stream": None})
    assert classify(old_driver.value) is Fault.TEMPORARY
    stream: Any = None
    with pytest.raises(AttributeError) as ours:  # the same error from our own code
        stream.writelines([b"x"])
    assert classify(ours.value) is Fault.OTHER  # a bug stays a bug
