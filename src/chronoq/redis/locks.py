"""Locks and once-keys in Redis: the connections and script calls behind
`chronoq.control.locks` (async) and `chronoq.control.sync_locks` (threads).

Each lock's keys share the hash tag `{lock:NAME}`, so every call touches one
slot. Acquire, renew and release are scripts (lock_acquire/renew/release.lua);
a waiter blocks on the lock's wake list with BLPOP on a client kept for blocking
reads. With replica acks on, an acquire counts only once the replicas have it: a
lease the replicas never saw would not stop a second holder after a failover, so
an unconfirmed acquire is released and reported (NotReplicated).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import redis
from redis.exceptions import ResponseError

from chronoq.core.errors import NotReplicated
from chronoq.core.ops import lock_family
from chronoq.core.rollups import Keep
from chronoq.redis.connector import BLOCKING_MARGIN, AsyncRedis, Connector
from chronoq.redis.durability import Durability, run_acked, run_acked_sync
from chronoq.redis.keys import LockKeys
from chronoq.redis.ops import lock_event_call
from chronoq.redis.scripts import (
    SCRIPTS,
    ScriptArg,
    load_library,
    load_library_sync,
    missing_library,
)

ScriptCall = tuple[list[str], list[ScriptArg]]  # KEYS, ARGV of one lock script
Registration = tuple[str, str]  # the lock registry's key, the lock's name
MAX_BLOCK = 60.0  # longest single blocking read; a longer wait blocks again
COUNT_TIMEOUT = 2.0  # longest a lock event's count may hold up its caller
log = logging.getLogger("chronoq.locks")


def _event_call(lock: LockKeys, event: str, keep: Keep) -> ScriptCall:
    now_ms = int(time.time() * 1000)
    return lock_event_call(lock.ops, lock_family(lock.name), event, now_ms, keep)


def _not_replicated(keys: list[str], acked: int, durability: Durability) -> NotReplicated:
    return NotReplicated(
        f"lock acquire of {keys[0]!r} confirmed by {acked} of {durability.replicas} "
        f"replica(s) within {durability.timeout:g}s; released it (a failover could have "
        "given the lock to a second holder)",
        acked=acked,
        wanted=durability.replicas,
    )


@dataclass(eq=False)
class LockClients:
    """One event loop's lock connections: a command client (acquires, renewals and
    releases reuse its pool) and a blocking client whose pool gives each waiting
    BLPOP a connection of its own."""

    commands: AsyncRedis
    blocking: AsyncRedis
    durability: Durability
    keep: Keep | None = None  # how long lock counts are kept; None: not counted
    closer: AsyncIterator[None] | None = None  # kept alive here: the loop holds it weakly

    async def acquire(
        self, call: ScriptCall, undo: ScriptCall, registration: Registration
    ) -> tuple[bool, int]:
        """(True, fence) when taken, else (False, the holder's remaining ms). `undo`
        releases an acquire the replicas did not confirm. The lock's name goes to the
        registry in the same round trip (`LockRegistry` lists from it)."""
        keys, args = call
        if not self.durability.waits:
            taken, value = await self._acquire_registered(keys, args, registration)
            return bool(taken), int(value)
        await self.commands.zadd(registration[0], {registration[1]: _now_ms()})
        (taken, value), acked = await run_acked(
            self.commands, SCRIPTS.lock_acquire, keys, args, self.durability
        )
        if taken and acked < self.durability.replicas:
            await self.release(undo)
            raise _not_replicated(keys, acked, self.durability)
        return bool(taken), int(value)

    async def _acquire_registered(
        self, keys: list[str], args: list[ScriptArg], registration: Registration
    ) -> list[int]:
        for attempt in range(2):
            async with self.commands.pipeline(transaction=False) as pipe:
                SCRIPTS.lock_acquire.queue(pipe, keys, args)
                pipe.zadd(registration[0], {registration[1]: _now_ms()})
                try:
                    reply, _ = await pipe.execute()
                    return list(reply)
                except ResponseError as exc:
                    if attempt or not missing_library(exc):
                        raise
            await load_library(self.commands)
        raise AssertionError("unreachable")

    async def release(self, call: ScriptCall) -> bool:
        return bool(await SCRIPTS.lock_release(self.commands, *call))

    async def renew(self, call: ScriptCall) -> bool:
        return bool(await SCRIPTS.lock_renew(self.commands, *call))

    async def wait(self, wake_key: str, seconds: float) -> None:
        """Block until a release rings the lock's wake list, or `seconds` pass."""
        await self.blocking.blpop([wake_key], timeout=seconds)

    async def claim_once(self, key: str, ttl_ms: int) -> bool:
        return bool(await self.commands.set(key, "1", nx=True, px=ttl_ms))

    async def count(self, lock: LockKeys, event: str) -> None:
        """Count a lock event (contended, timeout, lost) for the lock's family
        (ops_record.lua). Only the paths that wait or fail pay this round trip, never
        a free acquire. Best effort: a lock whose Redis is away must still tell its
        holder, so a failure is logged, never raised."""
        if self.keep is None:
            return
        try:
            async with asyncio.timeout(COUNT_TIMEOUT):
                await SCRIPTS.ops_record(self.commands, *_event_call(lock, event, self.keep))
        except Exception as exc:
            log.debug("counting a lock event failed: %s", exc)


@dataclass(eq=False)
class LoopLockClients:
    """The lock connections of an app, one `LockClients` per event loop.

    redis-py's asyncio connections belong to the loop that opened them. They close
    when the loop shuts down its async generators (`asyncio.run` and
    `asyncio.Runner` do; so do the worker and pytest-asyncio): an async generator
    parked at its first `yield` is the only hook asyncio gives for "this loop is
    ending". A loop closed without that leaks them.
    """

    connector: Callable[[], Connector]
    durability: Durability = field(default_factory=Durability)
    keep: Keep | None = field(default_factory=Keep)  # None: lock events not counted
    _by_loop: dict[asyncio.AbstractEventLoop, LockClients] = field(default_factory=dict)

    async def get(self) -> LockClients:
        loop = asyncio.get_running_loop()
        clients = self._by_loop.get(loop)
        if clients is None:
            connector = self.connector()
            clients = LockClients(
                connector.async_client(),
                connector.async_client(blocking_timeout=MAX_BLOCK),
                self.durability,
                self.keep,
            )
            self._by_loop[loop] = clients
            closer = clients.closer = self._close_at_shutdown(loop, clients)
            await anext(closer)
        return clients

    async def _close_at_shutdown(
        self, loop: asyncio.AbstractEventLoop, clients: LockClients
    ) -> AsyncIterator[None]:
        try:
            yield
        finally:
            self._by_loop.pop(loop, None)
            await clients.commands.aclose()
            await clients.blocking.aclose()


class SyncLockClients:
    """The blocking (threaded) lock connections of an app, made on first use: a
    command pool, and a pool for waiters' BLPOPs (socket timeout above MAX_BLOCK).
    redis-py's sync pools are thread-safe: a renewal thread takes its own
    connection while the holder's thread is busy."""

    def __init__(
        self,
        connector: Callable[[], Connector],
        durability: Durability | None = None,
        keep: Keep | None = Keep(),  # noqa: B008 (frozen: one shared default is fine)
    ) -> None:
        self._connector = connector
        self._durability = durability or Durability()
        self._keep = keep
        self._made: tuple[redis.Redis, redis.Redis] | None = None
        self._guard = threading.Lock()

    def _clients(self) -> tuple[redis.Redis, redis.Redis]:
        with self._guard:
            if self._made is None:
                connector = self._connector()
                self._made = (
                    connector.sync_client(),
                    connector.sync_client(socket_timeout=MAX_BLOCK + BLOCKING_MARGIN),
                )
            return self._made

    def acquire(
        self, call: ScriptCall, undo: ScriptCall, registration: Registration
    ) -> tuple[bool, int]:
        commands, _ = self._clients()
        keys, args = call
        if not self._durability.waits:
            taken, value = _acquire_registered_sync(commands, keys, args, registration)
            return bool(taken), int(value)
        commands.zadd(registration[0], {registration[1]: _now_ms()})
        (taken, value), acked = run_acked_sync(
            commands, SCRIPTS.lock_acquire, keys, args, self._durability
        )
        if taken and acked < self._durability.replicas:
            self.release(undo)
            raise _not_replicated(keys, acked, self._durability)
        return bool(taken), int(value)

    def release(self, call: ScriptCall) -> bool:
        commands, _ = self._clients()
        return bool(SCRIPTS.lock_release.call_sync(commands, *call))

    def renew(self, call: ScriptCall) -> bool:
        commands, _ = self._clients()
        return bool(SCRIPTS.lock_renew.call_sync(commands, *call))

    def wait(self, wake_key: str, seconds: float) -> None:
        _, blocking = self._clients()
        blocking.blpop([wake_key], timeout=seconds)

    def claim_once(self, key: str, ttl_ms: int) -> bool:
        commands, _ = self._clients()
        return bool(commands.set(key, "1", nx=True, px=ttl_ms))

    def count(self, lock: LockKeys, event: str) -> None:
        """Count a lock event; best effort, as the async `LockClients.count`."""
        if self._keep is None:
            return
        try:
            commands, _ = self._clients()
            SCRIPTS.ops_record.call_sync(commands, *_event_call(lock, event, self._keep))
        except Exception as exc:
            log.debug("counting a lock event failed: %s", exc)

    def close(self) -> None:
        with self._guard:
            made, self._made = self._made, None
        if made is not None:
            for client in made:
                client.close()


def _now_ms() -> int:
    return int(time.time() * 1000)


def _acquire_registered_sync(
    client: redis.Redis, keys: list[str], args: list[ScriptArg], registration: Registration
) -> list[int]:
    """The acquire script and the registry entry in one round trip (sync clients)."""
    for attempt in range(2):
        with client.pipeline(transaction=False) as pipe:
            SCRIPTS.lock_acquire.queue(pipe, keys, args)
            pipe.zadd(registration[0], {registration[1]: _now_ms()})
            try:
                reply, _ = pipe.execute()
                return list(reply)
            except ResponseError as exc:
                if attempt or not missing_library(exc):
                    raise
        load_library_sync(client)
    raise AssertionError("unreachable")
