"""Connections to Redis, and the start-up check that the server will not lose jobs."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from redis.asyncio import Redis

from chronoq.core.errors import ServerUnsafe
from chronoq.redis.connector import COMMAND_TIMEOUT, Connector, short_retry

__all__ = ["COMMAND_TIMEOUT", "Connector", "check_server", "connect", "short_retry"]

log = logging.getLogger("chronoq.redis")


def connect(url: str, *, blocking_timeout: float | None = None) -> Redis:
    """An async client for `url` with default TLS options (tests and benchmarks);
    chronoq itself builds clients through a `Connector` carrying the settings."""
    return Connector(url).async_client(blocking_timeout=blocking_timeout)


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
