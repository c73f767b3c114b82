"""Riding out Redis outages: retry an operation until the server answers again."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.exceptions import (
    BusyLoadingError,
    ClusterError,
    ConnectionError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisClusterException,
    ResponseError,
    SlotNotCoveredError,
    TimeoutError,
    TryAgainError,
)

log = logging.getLogger("chronoq.worker")
T = TypeVar("T")

# ClusterError: a Cluster client gave up redirecting ("TTL exhausted": TRYAGAIN all
# through a slot migration) or the cluster is down (CLUSTERDOWN, MASTERDOWN: its
# subclasses) while a replica takes over; SlotNotCoveredError: its slot map has a
# hole for now.
TRANSIENT = (
    ConnectionError,
    TimeoutError,
    BusyLoadingError,
    OSError,
    ClusterError,
    SlotNotCoveredError,
)
# Server replies that pass: out of memory under noeviction, a replica during
# failover, keys of a slot in mid-migration, a script or server busy. Waiting
# beats dropping work. redis-py strips the code off the replies it has a class for,
# so those are known by class; the codes catch the rest (BUSY, nested replies).
_TRANSIENT_REPLY_CLASSES = (OutOfMemoryError, ReadOnlyError, TryAgainError)
_TRANSIENT_REPLIES = ("OOM", "READONLY", "MASTERDOWN", "BUSY", "TRYAGAIN", "CLUSTERDOWN")
# A Cluster client that cannot read a whole slot map (no node answers, the nodes
# disagree mid-failover) says so in words only; its other RedisClusterExceptions
# are mistakes (keys of one call in two slots) that retrying cannot mend.
_CLUSTER_MAP_UNREADABLE = (
    "Redis Cluster cannot be connected",
    "All slots are not covered",
    "startup_nodes could not agree",
)


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, TRANSIENT + _TRANSIENT_REPLY_CLASSES):
        return True
    if isinstance(exc, RedisClusterException):
        return str(exc).startswith(_CLUSTER_MAP_UNREADABLE)
    return isinstance(exc, ResponseError) and str(exc).startswith(_TRANSIENT_REPLIES)


async def persist(operation: Callable[[], Awaitable[T]], what: str, *, max_delay: float = 1.0) -> T:
    """Run `operation` until it succeeds, backing off while Redis is unreachable.

    A worker must not lose an outcome because Redis restarted: it waits and retries.
    """
    delay = 0.05
    while True:
        try:
            return await operation()
        except (*TRANSIENT, ResponseError, RedisClusterException) as exc:
            if not is_transient(exc):
                raise
            log.warning("chronoq: %s failed (%s); retrying in %.2fs", what, exc, delay)
            await asyncio.sleep(delay)
            delay = min(max_delay, delay * 2)
