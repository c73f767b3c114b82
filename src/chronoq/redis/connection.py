"""Connections to Redis, and the start-up check that the server will not lose jobs."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from chronoq.core.errors import ServerUnsafe

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


@dataclass(frozen=True, slots=True)
class ServerReport:
    version: str
    eviction_policy: str
    aof: bool
    rdb: bool

    def problems(self) -> list[str]:
        found = []
        if self.eviction_policy != "noeviction":
            found.append(
                f"maxmemory-policy is {self.eviction_policy!r}: under memory pressure Redis "
                "may delete queue and lease keys, losing jobs; set it to 'noeviction'"
            )
        if not (self.aof or self.rdb):
            found.append(
                "the server persists nothing (no AOF, no RDB snapshots): a restart "
                "loses every job; enable appendonly yes"
            )
        return found


async def inspect_server(redis: Redis) -> ServerReport:
    info = await redis.info("server")
    persistence = await redis.info("persistence")
    policy = await _config_value(redis, "maxmemory-policy", "noeviction")
    save = await _config_value(redis, "save", "")
    return ServerReport(
        version=str(info.get("valkey_version") or info.get("redis_version", "?")),
        eviction_policy=policy,
        aof=bool(int(persistence.get("aof_enabled", 0))),
        rdb=bool(save.strip()),
    )


async def _config_value(redis: Redis, name: str, default: str) -> str:
    """CONFIG GET, tolerating managed servers that forbid CONFIG."""
    try:
        values = await redis.config_get(name)
    except Exception:
        return default
    return str(values.get(name, default))


async def check_server(redis: Redis, *, strict: bool) -> ServerReport:
    """Warn (or refuse, when strict) on settings that can lose jobs."""
    report = await inspect_server(redis)
    for problem in report.problems():
        if strict:
            raise ServerUnsafe(f"refusing to start: {problem}")
        log.warning("chronoq: %s", problem)
    return report
