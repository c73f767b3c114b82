"""The start-up check: will this server lose jobs?

Two settings decide it: the eviction policy (anything but `noeviction` lets Redis
delete queue and lease keys under memory pressure) and persistence (no AOF and no
RDB snapshots: a restart loses everything). Both are read with what the user may
run: INFO memory and INFO persistence first (an ACL user often lacks `+config`;
managed servers rename CONFIG), CONFIG GET only for what INFO does not say (whether
RDB snapshots are configured) and as a fallback. What cannot be read is reported
as unknown, never assumed safe: a warning normally, a refusal under
`strict_server`. Connection problems are not swallowed here: they propagate, for
the caller to wait out (temporary) or stop on (permanent).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from chronoq.core.errors import ServerUnsafe
from chronoq.redis.errors import refused_command

log = logging.getLogger("chronoq.redis")

UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class ServerReport:
    """What the check read; None where the server would not say."""

    version: str
    eviction_policy: str | None
    aof: bool | None
    rdb: bool | None

    @property
    def persists(self) -> bool | None:
        """True if AOF or RDB is on, False if both are off, None if unknown."""
        if self.aof or self.rdb:
            return True
        if self.aof is None or self.rdb is None:
            return None
        return False

    def problems(self) -> list[str]:
        found = []
        if self.eviction_policy is None:
            found.append(
                "maxmemory-policy is unknown (this user may run neither INFO nor CONFIG "
                "GET): unless it is 'noeviction', Redis may delete queue and lease keys "
                "under memory pressure, losing jobs"
            )
        elif self.eviction_policy != "noeviction":
            found.append(
                f"maxmemory-policy is {self.eviction_policy!r}: under memory pressure Redis "
                "may delete queue and lease keys, losing jobs; set it to 'noeviction'"
            )
        persists = self.persists
        if persists is None:
            found.append(
                "persistence is unknown (this user may run neither INFO nor CONFIG GET): "
                "unless AOF or RDB snapshots are on, a restart loses every job"
            )
        elif not persists:
            found.append(
                "the server persists nothing (no AOF, no RDB snapshots): a restart "
                "loses every job; enable appendonly yes"
            )
        return found


async def inspect_server(redis: Redis) -> ServerReport:
    server = await _info(redis, "server")
    memory = await _info(redis, "memory")
    persistence = await _info(redis, "persistence")
    policy = _text(memory, "maxmemory_policy")
    if policy is None:
        policy = await _config_value(redis, "maxmemory-policy")
    aof = _flag(persistence, "aof_enabled")
    if aof is None:
        appendonly = await _config_value(redis, "appendonly")
        aof = None if appendonly is None else appendonly == "yes"
    rdb = None
    if not aof:  # with AOF on, snapshots do not matter
        save = await _config_value(redis, "save")
        rdb = None if save is None else bool(save.strip())
    version = _text(server, "valkey_version") or _text(server, "redis_version") or UNKNOWN
    return ServerReport(version=version, eviction_policy=policy, aof=aof, rdb=rdb)


async def check_server(redis: Redis, *, strict: bool) -> ServerReport:
    """Warn (or refuse, when strict) on settings that can lose jobs or are unknown."""
    report = await inspect_server(redis)
    for problem in report.problems():
        if strict:
            raise ServerUnsafe(f"refusing to start: {problem}")
        log.warning("chronoq: %s", problem)
    return report


async def _info(redis: Redis, section: str) -> dict[str, Any]:
    """One INFO section, or {} when this user may not run INFO."""
    try:
        return dict(await redis.info(section))
    except Exception as exc:
        if not refused_command(exc):
            raise
        log.debug("chronoq: INFO %s refused: %s", section, exc)
        return {}


async def _config_value(redis: Redis, name: str) -> str | None:
    """CONFIG GET name, or None when CONFIG is denied, renamed away or unknown."""
    try:
        values = await redis.config_get(name)
    except Exception as exc:
        if not refused_command(exc):
            raise
        log.debug("chronoq: CONFIG GET %s refused: %s", name, exc)
        return None
    value = values.get(name)
    return None if value is None else str(value)


def _text(section: dict[str, Any], field: str) -> str | None:
    value = section.get(field)
    return None if value is None else str(value)


def _flag(section: dict[str, Any], field: str) -> bool | None:
    value = section.get(field)
    if value is None:
        return None
    try:
        return bool(int(value))
    except (TypeError, ValueError):
        return None
