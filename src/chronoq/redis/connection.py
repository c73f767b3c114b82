"""Connections to Redis (the start-up check lives in `chronoq.redis.server_check`)."""

from __future__ import annotations

import logging

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

log = logging.getLogger("chronoq.redis")

COMMAND_TIMEOUT = 10.0


def short_retry() -> Retry:
    """A brief retry for a dropped connection (about 0.15 s in all).

    redis-py 8 retries with backoff up to seconds by default, which turns an
    unreachable server into a long hang; the worker has its own, longer patience
    (`chronoq.worker.resilience`), so the client only smooths over a blip.
    """
    return Retry(ExponentialBackoff(cap=0.1, base=0.025), 2)


def connect(url: str, *, blocking_timeout: float | None = None) -> Redis:
    """An async client. `blocking_timeout` sizes the socket timeout for BLPOP users.

    redis-py 8 defaults to a 5 s socket timeout, which would cut a long blocking read;
    a blocking connection gets its wait plus a margin instead.
    """
    timeout = COMMAND_TIMEOUT if blocking_timeout is None else blocking_timeout + 5.0
    return Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=timeout,
        socket_connect_timeout=5.0,
        health_check_interval=30,
        retry=short_retry(),
    )
