"""Riding out Redis outages: retry an operation until the server answers again."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.exceptions import BusyLoadingError, ConnectionError, ResponseError, TimeoutError

log = logging.getLogger("chronoq.worker")
T = TypeVar("T")

TRANSIENT = (ConnectionError, TimeoutError, BusyLoadingError, OSError)
# Server replies that pass: out of memory under noeviction, a replica during
# failover, a script or server busy. Waiting beats dropping work.
_TRANSIENT_REPLIES = ("OOM", "READONLY", "MASTERDOWN", "BUSY", "TRYAGAIN", "CLUSTERDOWN")


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, TRANSIENT):
        return True
    return isinstance(exc, ResponseError) and str(exc).startswith(_TRANSIENT_REPLIES)


async def persist(operation: Callable[[], Awaitable[T]], what: str, *, max_delay: float = 1.0) -> T:
    """Run `operation` until it succeeds, backing off while Redis is unreachable.

    A worker must not lose an outcome because Redis restarted: it waits and retries.
    """
    delay = 0.05
    while True:
        try:
            return await operation()
        except (*TRANSIENT, ResponseError) as exc:
            if not is_transient(exc):
                raise
            log.warning("chronoq: %s failed (%s); retrying in %.2fs", what, exc, delay)
            await asyncio.sleep(delay)
            delay = min(max_delay, delay * 2)
