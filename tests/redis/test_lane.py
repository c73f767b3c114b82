"""A lane: one kept connection of a client's pool for one sequential caller's hot
commands, with the client's own path for everything unusual (chronoq.redis.lane)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio
from redis.exceptions import ResponseError

from chronoq import App
from chronoq.redis.lane import Lane, lane_for
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
