"""A lane: one kept connection of a client's pool for one sequential caller's hot
commands, with the client's own path for everything unusual (chronoq.redis.lane)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio
from redis.exceptions import ResponseError

from chronoq import App
from chronoq.redis.lane import Lane, lane_for, read_reply
from chronoq.redis.scripts import SCRIPTS
from tests.redis.private_servers import new_server, private_servers


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[redis.asyncio.Redis]:
    conn = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)
    yield conn
    await conn.aclose()


async def _client_ids(conn: redis.asyncio.Redis) -> set[int]:
    return {int(c["id"]) for c in await conn.client_list()}


async def test_commands_go_out_on_one_kept_connection(client: redis.asyncio.Redis) -> None:
    lane = Lane(client)
    first = await lane.execute_command("CLIENT", "ID")
    assert await lane.execute_command("CLIENT", "ID") == first
    assert await lane.execute_command("ECHO", "hello") == "hello"
    # the pool counts it in use until the lane gives it back
    assert len(client.connection_pool._in_use_connections) == 1
    await lane.aclose()
    assert not client.connection_pool._in_use_connections


async def test_a_command_sent_while_one_is_in_flight_takes_another_connection(
    client: redis.asyncio.Redis, prefix: str
) -> None:
    lane = Lane(client)
    kept = await lane.execute_command("CLIENT", "ID")
    waiting = asyncio.create_task(lane.execute_command("BLPOP", f"{prefix}:nothing", "0.3"))
    await asyncio.sleep(0.05)  # the BLPOP is in flight on the kept connection
    other = await lane.execute_command("CLIENT", "ID")
    assert other != kept
    assert await waiting is None
    assert await lane.execute_command("CLIENT", "ID") == kept
    await lane.aclose()


async def test_an_error_reply_is_raised_and_keeps_the_connection(
    client: redis.asyncio.Redis, prefix: str
) -> None:
    lane = Lane(client)
    kept = await lane.execute_command("CLIENT", "ID")
    await client.set(f"{prefix}:text", "not a list")
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        await lane.execute_command("LPUSH", f"{prefix}:text", "x")
    assert await lane.execute_command("CLIENT", "ID") == kept
    await lane.aclose()


async def test_a_killed_connection_is_replaced_and_the_command_still_runs(
    client: redis.asyncio.Redis, redis_url: str
) -> None:
    lane = Lane(client)
    kept = await lane.execute_command("CLIENT", "ID")
    killer = redis.asyncio.Redis.from_url(redis_url)
    try:
        await killer.client_kill_filter(_id=kept)
    finally:
        await killer.aclose()
    # the send or the read fails on the dead socket: the client's own path runs it
    assert await lane.execute_command("ECHO", "again") == "again"
    fresh = await lane.execute_command("CLIENT", "ID")
    assert fresh != kept
    assert await lane.execute_command("CLIENT", "ID") == fresh
    await lane.aclose()


async def test_a_cancelled_command_drops_its_connection(
    client: redis.asyncio.Redis, prefix: str
) -> None:
    """A reply still to come would be read by the next command: the connection goes."""
    lane = Lane(client)
    kept = await lane.execute_command("CLIENT", "ID")
    waiting = asyncio.create_task(lane.execute_command("BLPOP", f"{prefix}:nothing", "5"))
    await asyncio.sleep(0.05)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert await lane.execute_command("CLIENT", "ID") != kept
    for _ in range(50):  # the server sees the dropped socket close
        if kept not in await _client_ids(client):
            break
        await asyncio.sleep(0.02)
    assert kept not in await _client_ids(client)
    await client.rpush(f"{prefix}:nothing", "late")  # no BLPOP is left to take it
    assert await client.lpop(f"{prefix}:nothing") == "late"
    await lane.aclose()


async def test_a_script_runs_on_a_lane_and_loads_the_library_when_missing() -> None:
    """A server without chronoq's functions (a fresh or restarted one) gets them."""
    with private_servers() as started:
        server = new_server(started)
        conn = redis.asyncio.Redis.from_url(server.url)
        try:
            lane = Lane(conn)
            seconds, _micros, exists = await SCRIPTS.clock(lane, ["{q}:defs"], [""])
            assert seconds > 0 and exists == 0
            await conn.function_flush()
            assert (await SCRIPTS.clock(lane, ["{q}:defs"], [""]))[0] >= seconds
            await lane.aclose()
        finally:
            await conn.aclose()


def test_a_single_server_client_gets_a_lane() -> None:
    assert isinstance(lane_for(redis.asyncio.Redis()), Lane)  # never connected


async def test_enqueue_claim_and_complete_go_out_on_the_brokers_lanes(
    redis_url: str, prefix: str
) -> None:
    """The producer's single enqueues and a worker's claims and outcomes each keep one
    connection: the pool hands out no other for them."""
    app = App("lanes", redis_url=redis_url, prefix=prefix)

    @app.task()
    async def noop() -> None:
        return None

    async with app.client() as c:
        for _ in range(5):
            await c.enqueue(noop)
        broker = c.backend.broker
        pool = c.backend.redis.connection_pool
        assert broker._enqueue_lane._connection is not None
        assert pool._in_use_connections == {broker._enqueue_lane._connection}
    assert broker._enqueue_lane._connection is None  # given back when the client closed


async def test_replies_read_from_the_parser_are_what_read_response_returns(
    client: redis.asyncio.Redis, prefix: str
) -> None:
    """The lane reads the parser itself (`read_reply`): every reply shape comes back
    as the client's own path returns it."""
    await client.rpush(f"{prefix}:list", "a", "b")
    await client.hset(f"{prefix}:hash", mapping={"f": "1"})
    commands: list[tuple[object, ...]] = [
        ("ECHO", "text"),
        ("INCR", f"{prefix}:n"),
        ("GET", f"{prefix}:absent"),
        ("LRANGE", f"{prefix}:list", 0, -1),
        ("HGETALL", f"{prefix}:hash"),
        ("EVAL", "return {1, {'x', 2}, false}", 0),
        ("BLPOP", f"{prefix}:list", 1),
    ]
    lane = Lane(client)
    got = [await lane.execute_command(*command) for command in commands]
    await client.lpush(f"{prefix}:list", "a")  # what the BLPOP took, back in its place
    await client.delete(f"{prefix}:n")
    expected = [await client.execute_command(*command) for command in commands]
    # execute_command applies redis-py's reply callbacks (HGETALL: a dict, BLPOP: a
    # tuple); the lane returns the reply as sent, as connection.read_response() does
    assert got[:4] == expected[:4]
    assert got[4] in (["f", "1"], {"f": "1"}) and expected[4] == {"f": "1"}  # RESP3: a map
    assert got[5] == expected[5] == [1, ["x", 2], None]
    assert got[6] == [f"{prefix}:list", "a"] and tuple(got[6]) == expected[6]
    await lane.aclose()


async def test_a_read_past_the_socket_timeout_raises_the_drivers_timeout(
    redis_url: str, prefix: str
) -> None:
    conn = redis.asyncio.Redis.from_url(redis_url, socket_timeout=0.1)
    connection = await conn.connection_pool.get_connection()
    try:
        await connection.send_command("BLPOP", f"{prefix}:nothing", 2)
        with pytest.raises(redis.exceptions.TimeoutError, match="Timeout reading"):
            await read_reply(connection)
    finally:
        await connection.disconnect()
        await conn.connection_pool.release(connection)
        await conn.aclose()


async def test_a_connection_that_reads_its_own_way_is_left_to_it(redis_url: str) -> None:
    """A Sentinel-managed primary's connection turns READONLY into a disconnect in its
    own read_response: read_reply calls that, not the parser."""
    calls: list[str] = []

    class Marked(redis.asyncio.Connection):
        async def read_response(self, *args: Any, **kwargs: Any) -> Any:
            calls.append("own read")
            return await super().read_response(*args, **kwargs)

    conn = redis.asyncio.Redis.from_url(redis_url, connection_class=Marked)
    lane = Lane(conn)
    try:
        await lane.execute_command("PING")  # connects (the handshake reads its own way too)
        calls.clear()
        assert await lane.execute_command("ECHO", "x") == b"x"
        assert calls == ["own read"]
    finally:
        await lane.aclose()
        await conn.aclose()


async def test_an_idle_workers_blocking_read_goes_out_on_a_lane(
    redis_url: str, prefix: str
) -> None:
    """The hand-off a blocking read returns is a job to start now: the read is made on
    a kept connection (Broker.blocking_lane), and returns what was pushed."""
    app = App("lanes", redis_url=redis_url, prefix=prefix)
    async with app.client() as c:
        broker = c.backend.broker
        blocking = c.backend.blocking_client(1.0)
        lane = broker.blocking_lane(blocking)
        assert isinstance(lane, Lane)
        inbox = broker.keys.queue("default").inbox("w1")
        pending = asyncio.create_task(broker.wait_for_work(lane, ["default"], "w1", 1.0))
        await asyncio.sleep(0.05)
        assert blocking.connection_pool._in_use_connections == {lane._connection}
        await c.backend.redis.rpush(inbox, "payload")
        assert await pending == (inbox, "payload")
        assert await broker.wait_for_work(lane, ["default"], "w1", 0.05) is None
        await lane.aclose()
        assert not blocking.connection_pool._in_use_connections
        await blocking.aclose()
