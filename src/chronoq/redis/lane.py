"""A connection kept by one sequential caller, for its hot commands.

redis-py's async `execute_command` takes a connection from the pool and gives it
back on every command, each under its own timeout, inside a retry wrapper, with its
observability hooks: about half the client CPU of an async single enqueue, and a
share of every claim and completion a worker sends (bench/README.md). A caller that
sends one command at a time (a producer's single enqueues, the worker's fetch loop,
its outcome writer) does not need any of that per command: a `Lane` keeps one
connection of the client's pool and sends on it directly (the reply is still read
under the connection's socket timeout).

What stays as it was:

- A second command while one is in flight on the lane (a caller that is not
  sequential after all) goes the usual way, on another connection of the pool.
- A connection error or timeout on the lane drops its connection and sends the
  command again the usual way, which reconnects and retries as the client is
  configured to (chronoq's scripts are compare-and-set or idempotent, as they are
  for redis-py's own retry). A server's error reply (ResponseError and its
  subclasses: READONLY, NOSCRIPT, ...) is raised as the client raises it: the
  connection is fine.
- On a Cluster (`ClusterLane`) a command whose slot is known (an FCALL: its keys
  share one hash tag; an idle worker's BLPOP of one queue's keys) goes out on a
  kept connection of the node owning the slot, one per node. Each node's
  connection is in flight on its own: a worker serving queues on three nodes
  claims from all three at once, each on its lane, and only a second command for
  a node already waiting goes the usual way. A redirection (MOVED, ASK), TRYAGAIN,
  CLUSTERDOWN or a slot the map does not cover sends it again through the Cluster
  client, which follows the new topology: the server refused the command, it did
  not run.
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import (
    AskError,
    ClusterDownError,
    MovedError,
    ResponseError,
    SlotNotCoveredError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from chronoq.redis.connector import lane_slot

# What sends a command the Cluster client's way: broken or stale connections, and the
# replies that mean "not here, not now" (the command did not run).
_BROKEN = (RedisConnectionError, RedisTimeoutError)
_ELSEWHERE = (MovedError, AskError, TryAgainError, ClusterDownError, SlotNotCoveredError)


class BaseLane:
    """What Script calls on a client (`chronoq.redis.scripts`), sent down a lane."""

    client: Any  # redis-py's pools and execute_command are untyped

    async def execute_command(self, *command: Any) -> Any:
        raise NotImplementedError

    async def fcall(self, function: str, numkeys: int, *keys_and_args: Any) -> Any:
        return await self.execute_command("FCALL", function, numkeys, *keys_and_args)

    async def function_load(self, code: str, replace: bool = False) -> Any:
        return await self.client.function_load(code, replace=replace)


class Lane(BaseLane):
    """One kept connection of a single server's pool (see the module docstring)."""

    def __init__(self, client: Redis) -> None:
        self.client = client
        self._connection: Any = None
        self._busy = False

    async def execute_command(self, *command: Any) -> Any:
        if self._busy:
            return await self.client.execute_command(*command)
        self._busy = True
        try:
            return await self._exchange(command)
        except (RedisConnectionError, RedisTimeoutError):
            return await self.client.execute_command(*command)
        finally:
            self._busy = False

    async def _exchange(self, command: tuple[Any, ...]) -> Any:
        connection = self._connection
        if connection is None:
            connection = await self.client.connection_pool.get_connection()
            self._connection = connection
        try:
            await connection.send_packed_command(connection.pack_command(*command))
            return await read_reply(connection)
        except ResponseError:
            raise  # a reply: the exchange is complete, the connection fine
        except BaseException:
            # Broken, timed out or interrupted (cancelled) half-way: what the
            # connection holds is unknown. Give it back closed; the next command
            # takes a fresh one.
            self._connection = None
            await connection.disconnect(nowait=True)
            await self.client.connection_pool.release(connection)
            raise

    async def aclose(self) -> None:
        """Give the kept connection back to the pool (open: it is a good one)."""
        connection, self._connection = self._connection, None
        if connection is not None:
            await self.client.connection_pool.release(connection)


_PLAIN_READ = AbstractConnection.read_response
_plain_read: dict[type, bool] = {}  # connection class -> reads replies as redis-py's base does


async def read_reply(connection: Any) -> Any:
    """The next reply on `connection`, as its `read_response()` would return it.

    redis-py's `read_response` wraps each read in its own timeout context, error
    translation and bookkeeping: measured with a kept connection at 200 commands/s (an
    idle worker's wake-ups, a producer's single enqueues, both spent mostly asleep),
    a round trip took about 60 to 100 us longer than reading the parser directly
    (p50 ~280 against ~210 us on the 2-vCPU VM). This reads the parser under one
    timeout of the connection's socket timeout and raises what redis-py raises
    (TimeoutError, ConnectionError, the error reply). A connection class that reads
    replies its own way (a Sentinel-managed primary turns READONLY into a
    disconnect) is left to it.
    """
    kind = type(connection)
    plain = _plain_read.get(kind)
    if plain is None:
        plain = _plain_read[kind] = kind.read_response is _PLAIN_READ
    if not plain:
        return await connection.read_response()
    try:
        timeout = connection.socket_timeout
        if timeout:
            async with asyncio.timeout(timeout):
                reply = await connection._parser.read_response()
        else:
            reply = await connection._parser.read_response()
    except TimeoutError:  # the socket timeout (asyncio's TimeoutError is this one)
        raise RedisTimeoutError("Timeout reading from the Redis socket") from None
    except OSError as exc:
        raise RedisConnectionError(f"Error while reading from the Redis socket: {exc}") from exc
    interval = connection.health_check_interval
    if interval:  # as read_response: a reply proves the connection alive
        connection.next_health_check = asyncio.get_running_loop().time() + interval
    if isinstance(reply, ResponseError):
        raise reply
    return reply


class ClusterLane(BaseLane):
    """One kept connection per node of a Cluster (see the module docstring)."""

    def __init__(self, client: RedisCluster) -> None:
        self.client = client
        self._kept: dict[str, tuple[Any, Any]] = {}  # node name -> (node, connection)
        self._busy: set[str] = set()  # names of the nodes with a command in flight

    async def execute_command(self, *command: Any) -> Any:
        if self.client._initialize:  # not mapped yet
            return await self.client.execute_command(*command)
        slot = lane_slot(self.client, command)
        if slot is None:
            return await self.client.execute_command(*command)
        try:
            node = self.client.nodes_manager.get_node_from_slot(slot)
        except SlotNotCoveredError:
            return await self.client.execute_command(*command)
        name = node.name
        if name in self._busy:  # that node's lane is in flight
            return await self.client.execute_command(*command)
        self._busy.add(name)
        try:
            return await self._exchange(node, command)
        except (*_BROKEN, *_ELSEWHERE):
            return await self.client.execute_command(*command)
        finally:
            self._busy.discard(name)

    async def _exchange(self, node: Any, command: tuple[Any, ...]) -> Any:
        kept = self._kept.get(node.name)
        if kept is not None and kept[0] is not node:  # the map was rebuilt: a new node
            self._forget(node.name)
            kept = None
        if kept is None:
            connection = node.acquire_connection()
            self._kept[node.name] = (node, connection)
        else:
            connection = kept[1]
        try:
            await node.disconnect_if_needed(connection)
            await connection.send_packed_command(connection.pack_command(*command))
            return await read_reply(connection)
        except ResponseError:
            raise  # a reply (a redirection too): the exchange is complete
        except BaseException:
            self._forget(node.name)
            await connection.disconnect(nowait=True)
            raise

    def _forget(self, name: str) -> None:
        node, connection = self._kept.pop(name)
        node.release(connection)

    async def aclose(self) -> None:
        for name in list(self._kept):
            self._forget(name)


def lane_for(client: Any) -> Any:
    """A lane over a client: one kept connection, or one per node of a Cluster."""
    if isinstance(client, Redis):
        return Lane(client)
    if isinstance(client, RedisCluster):
        return ClusterLane(client)
    return client
