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
- A Cluster client routes each command to its slot's node: it gets no lane
  (`lane_for` returns the client itself).
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError


class Lane:
    """One kept connection of `client`'s pool (see the module docstring)."""

    def __init__(self, client: Redis) -> None:
        self.client: Any = client  # redis-py's pool and execute_command are untyped
        self._connection: Any = None
        self._busy = False

    async def fcall(self, function: str, numkeys: int, *keys_and_args: Any) -> Any:
        return await self.execute_command("FCALL", function, numkeys, *keys_and_args)

    async def function_load(self, code: str, replace: bool = False) -> Any:
        return await self.client.function_load(code, replace=replace)

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
            return await connection.read_response()
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


def lane_for(client: Any) -> Any:
    """A lane over a single-server client; a Cluster client as it is."""
    if isinstance(client, Redis):
        return Lane(client)
    return client
