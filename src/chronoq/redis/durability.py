"""Replica acknowledgements: a write counts as done once replicas have it.

Redis replicates asynchronously: a primary that acknowledged an enqueue and then
died before its replica copied it loses that enqueue when the replica is promoted.
With `replica_acks=N`, the script and a `WAIT N timeout` travel in one pipeline on
one connection (WAIT waits for that connection's own writes), so the write is
confirmed only when N replicas have it: one round trip, plus the replication lag.

Not on a Redis Cluster: its client cannot send WAIT over the connection that made
the write, so there `replica_acks` is refused (ConfigurationError) rather than faked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redis.exceptions import ResponseError

from chronoq.redis.connector import AsyncRedis, SyncRedis
from chronoq.redis.scripts import (
    Script,
    ScriptArgs,
    load_library,
    load_library_sync,
    missing_library,
)


@dataclass(frozen=True, slots=True)
class Durability:
    replicas: int = 0  # 0: acknowledge on the primary's reply
    timeout: float = 2.0  # seconds WAIT may block

    @property
    def waits(self) -> bool:
        return self.replicas > 0


async def run_acked(
    client: AsyncRedis,
    script: Script,
    keys: Sequence[str],
    args: ScriptArgs,
    durability: Durability,
) -> tuple[Any, int]:
    """Run `script`, then WAIT on the same connection. Returns (reply, replicas that
    confirmed it)."""
    timeout_ms = max(1, int(durability.timeout * 1000))
    for attempt in range(2):
        async with client.pipeline(transaction=False) as pipe:
            script.queue(pipe, keys, args)
            pipe.execute_command("WAIT", durability.replicas, timeout_ms)
            try:
                reply, acked = await pipe.execute()
            except ResponseError as exc:
                if attempt or not missing_library(exc):
                    raise
                await load_library(client)
                continue
        return reply, int(acked)
    raise AssertionError("unreachable")


def run_acked_sync(
    client: SyncRedis,
    script: Script,
    keys: Sequence[str],
    args: ScriptArgs,
    durability: Durability,
) -> tuple[Any, int]:
    """`run_acked` for blocking clients (sync locks)."""
    timeout_ms = max(1, int(durability.timeout * 1000))
    for attempt in range(2):
        with client.pipeline(transaction=False) as pipe:
            script.queue(pipe, keys, args)
            pipe.execute_command("WAIT", durability.replicas, timeout_ms)  # type: ignore[no-untyped-call]
            try:
                reply, acked = pipe.execute()
            except ResponseError as exc:
                if attempt or not missing_library(exc):
                    raise
                load_library_sync(client)
                continue
        return reply, int(acked)
    raise AssertionError("unreachable")
