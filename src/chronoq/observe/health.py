"""The health report: is this deployment doing its job, and if not, how badly?

One report, for probes and cron (`chronoq health`, exit 0 ok, 1 warning, 2
critical) and for scripts (`to_dict()`, `--json`). Each check has a level; the
report's is the worst. What decides each level:

- redis: unreachable, or a PING over `LATENCY_CRITICAL`: critical; over
  `LATENCY_WARNING`: warning.
- memory: used memory against maxmemory: from `MEMORY_WARNING` a warning, from
  `MEMORY_CRITICAL` critical (with noeviction, writes then fail with OOM).
- eviction: a policy other than noeviction is critical: under memory pressure Redis
  deletes queue and lease keys, so jobs are lost without a trace. Unknown: warning.
- persistence: neither AOF nor RDB: warning (a restart loses every job). Unknown:
  warning.
- queues: a queue with waiting jobs and no live worker consuming it: critical.
- schedulers: a scheduler loop whose heartbeat expired (it died without
  withdrawing), a loop that has not looked at its schedules for `STALE_TICK`, or
  active schedules and no live loop: warning.
- clock: a process (worker, scheduler loop, this one) whose clock is off the Redis
  server's by `SKEW_WARNING` or more: warning; by `SKEW_CRITICAL`: critical.
- alerts: the firing alerts of the sources passed (`AlertSource`; `chronoq health`
  passes the alert engine's states, `chronoq.observe.alerts.StoredAlerts`), at
  their rule's level; with none passed the check says so (it never claims that
  rules were evaluated).

What this user may not read (a viewer ACL has no INFO, TIME or PTTL) is reported as
unknown, a warning: never assumed fine.
"""

from __future__ import annotations

import asyncio
import enum
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from chronoq.redis.backend import Backend
from chronoq.redis.errors import REDIS_FAULTS, describe, server_label
from chronoq.redis.server_check import ServerReport, inspect_server
from chronoq.redis.snapshot import Snapshot

LATENCY_WARNING = 0.05  # seconds per PING
LATENCY_CRITICAL = 0.5
MEMORY_WARNING = 0.80  # of maxmemory
MEMORY_CRITICAL = 0.95
SKEW_WARNING = 1.0  # seconds between a process's clock and the server's
SKEW_CRITICAL = 30.0
STALE_TICK = 180.0  # a loop looks at least every 60 s (its idle sleep); 3 of them
TIMEOUT = 5.0  # the whole check; past it Redis counts as unreachable
PINGS = 3


class Level(enum.IntEnum):
    """A check's verdict; its value is the exit status of `chronoq health`."""

    OK = 0
    WARNING = 1
    CRITICAL = 2

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    level: Level
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.level.label,
            "message": self.message,
            "details": self.details,
        }


@dataclass(frozen=True, slots=True)
class HealthReport:
    checks: list[Check]
    checked_at: float  # epoch seconds, this process's clock

    @property
    def level(self) -> Level:
        return max((c.level for c in self.checks), default=Level.OK)

    @property
    def exit_code(self) -> int:
        return int(self.level)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.level.label,
            "exit_code": self.exit_code,
            "checked_at": datetime.fromtimestamp(self.checked_at, UTC).isoformat(),
            "checks": [c.to_dict() for c in self.checks],
        }


@dataclass(frozen=True, slots=True)
class FiringAlert:
    name: str
    level: Level
    message: str


class AlertSource(Protocol):
    """Where firing alerts come from (the alert engine's `StoredAlerts`, or your
    own). Pass sources to `check_health`; each is asked once."""

    async def firing(self) -> Sequence[FiringAlert]: ...


async def check_health(
    backend: Backend,
    *,
    alerts: Sequence[AlertSource] = (),
    timeout: float = TIMEOUT,
) -> HealthReport:
    """Check the deployment `backend` reaches. Never raises for Redis faults: an
    unreachable or failing server is the report's critical `redis` check."""
    started = time.time()
    where = server_label(backend.connector.url)
    try:
        checks = await asyncio.wait_for(_checks(backend, alerts), timeout)
    except TimeoutError:
        message = f"Redis at {where} did not answer within {timeout:g} s"
        checks = [Check("redis", Level.CRITICAL, message, {"server": where})]
    except REDIS_FAULTS as exc:
        checks = [Check("redis", Level.CRITICAL, describe(exc, where), {"server": where})]
    return HealthReport(checks, started)


async def _checks(backend: Backend, alerts: Sequence[AlertSource]) -> list[Check]:
    latency = await _latency(backend)
    local_before = time.time()
    snapshot = await backend.snapshots.read()
    local_after = time.time()
    server = await inspect_server(backend.redis)
    version = server.version
    return [
        _redis_check(backend, latency, version),
        _memory_check(snapshot),
        _eviction_check(server),
        _persistence_check(server),
        _queues_check(snapshot),
        _schedulers_check(snapshot),
        _clock_check(snapshot, (local_before + local_after) / 2),
        await _alerts_check(alerts),
    ]


async def _latency(backend: Backend) -> float:
    """The median of a few PINGs, after one that opens the connection."""
    await backend.redis.ping()
    samples = []
    for _ in range(PINGS):
        began = time.perf_counter()
        await backend.redis.ping()
        samples.append(time.perf_counter() - began)
    return statistics.median(samples)


def _redis_check(backend: Backend, latency: float, version: str) -> Check:
    where = server_label(backend.connector.url)
    ms = round(latency * 1000, 3)
    details = {"server": where, "version": version, "latency_ms": ms}
    message = f"reachable at {where} (version {version}), PING {ms:g} ms"
    for limit, level in ((LATENCY_CRITICAL, Level.CRITICAL), (LATENCY_WARNING, Level.WARNING)):
        if latency >= limit:
            return Check("redis", level, f"{message}: slower than {limit * 1000:g} ms", details)
    return Check("redis", Level.OK, message, details)


def _memory_check(snapshot: Snapshot) -> Check:
    memory = snapshot.info.get("memory", {})
    used, limit = memory.get("used_memory"), memory.get("maxmemory")
    if used is None or limit is None:
        return Check("memory", Level.WARNING, "memory use is unknown (INFO memory refused)")
    used, limit = int(used), int(limit)
    details: dict[str, Any] = {"used_bytes": used, "maxmemory_bytes": limit}
    if limit == 0:
        return Check("memory", Level.OK, f"{_mib(used)} used, no maxmemory limit", details)
    ratio = used / limit
    details["ratio"] = round(ratio, 4)
    message = f"{_mib(used)} of maxmemory {_mib(limit)} used ({ratio:.0%})"
    if ratio >= MEMORY_CRITICAL:
        return Check("memory", Level.CRITICAL, message, details)
    if ratio >= MEMORY_WARNING:
        return Check("memory", Level.WARNING, message, details)
    return Check("memory", Level.OK, message, details)


def _eviction_check(server: ServerReport) -> Check:
    policy = server.eviction_policy
    details = {"maxmemory_policy": policy}
    if policy == "noeviction":
        return Check("eviction", Level.OK, "maxmemory-policy is noeviction", details)
    problem = server.problems()[0]
    level = Level.WARNING if policy is None else Level.CRITICAL
    return Check("eviction", level, problem, details)


def _persistence_check(server: ServerReport) -> Check:
    details = {"aof": server.aof, "rdb": server.rdb}
    if server.persists:
        kinds = [k for k, on in (("AOF", server.aof), ("RDB snapshots", server.rdb)) if on]
        return Check("persistence", Level.OK, f"persists with {' and '.join(kinds)}", details)
    problem = server.problems()[-1]
    return Check("persistence", Level.WARNING, problem, details)


def consumers(snapshot: Snapshot) -> dict[str, int]:
    """Live workers per queue, from their heartbeats' `queues` field."""
    counts: dict[str, int] = {}
    for worker in snapshot.workers:
        if worker.alive:
            for name in worker.info.get("queues", "").split(","):
                if name:
                    counts[name] = counts.get(name, 0) + 1
    return counts


def _queues_check(snapshot: Snapshot) -> Check:
    serving = consumers(snapshot)
    rows = [
        {"queue": q.name, "waiting": q.sizes["queued"], "scheduled": q.sizes["scheduled"],
         "running": q.sizes["running"], "workers": serving.get(q.name, 0),
         "paused": q.paused}
        for q in snapshot.queues
    ]  # fmt: skip
    stranded = [r for r in rows if r["waiting"] and not r["workers"] and not r["paused"]]
    held = [r for r in rows if r["paused"]]
    alive = sum(1 for w in snapshot.workers if w.alive)
    details = {"workers": alive, "queues": rows}
    if stranded:
        names = ", ".join(f"{r['queue']} ({r['waiting']} waiting)" for r in stranded)
        return Check("queues", Level.CRITICAL, f"no live worker consumes {names}", details)
    if held:
        # Paused on purpose: waiting jobs there are expected, but not forgotten.
        names = ", ".join(f"{r['queue']} ({r['waiting']} waiting)" for r in held)
        return Check("queues", Level.WARNING, f"paused: {names}", details)
    return Check(
        "queues",
        Level.OK,
        f"{len(rows)} queue(s), {alive} live worker(s); every queue with waiting jobs "
        "has a consumer",
        details,
    )


def _schedulers_check(snapshot: Snapshot) -> Check:
    now = snapshot.server_ms / 1000 if snapshot.server_ms is not None else time.time()
    alive = [b for b in snapshot.schedulers if b.alive]
    problems = [
        f"scheduler loop {b.id} stopped beating {now - b.last_beat_ms / 1000:.0f} s ago "
        "without withdrawing (its process died?)"
        for b in snapshot.schedulers
        if not b.alive
    ]
    for loop in alive:
        ticked = _float(loop.info.get("ticked_at"))
        started = _float(loop.info.get("started_at")) or now
        if now - (ticked or started) > STALE_TICK:
            problems.append(
                f"scheduler loop {loop.id} has not looked at its schedules for "
                f"{now - (ticked or started):.0f} s"
            )
    if not alive and snapshot.active_schedules:
        problems.append(
            f"no scheduler loop is running: {snapshot.active_schedules} active schedule(s) "
            "will not fire"
        )
    details = {
        "alive": [b.id for b in alive],
        "dead": [b.id for b in snapshot.schedulers if not b.alive],
        "active_schedules": snapshot.active_schedules,
    }
    if problems:
        return Check("schedulers", Level.WARNING, "; ".join(problems), details)
    return Check("schedulers", Level.OK, f"{len(alive)} scheduler loop(s) alive", details)


def _clock_check(snapshot: Snapshot, local_now: float) -> Check:
    if snapshot.server_ms is None:
        return Check("clock", Level.WARNING, "clock skew is unknown (TIME refused)")
    skews: dict[str, float | None] = {
        "this process": round(local_now - snapshot.server_ms / 1000, 3)
    }
    for kind, beats in (("worker", snapshot.workers), ("scheduler", snapshot.schedulers)):
        for beat in beats:
            if beat.alive:
                skews[f"{kind} {beat.id}"] = beat.clock_skew(snapshot.server_ms)
    known = {k: v for k, v in skews.items() if v is not None}
    unknown = sorted(k for k, v in skews.items() if v is None)
    worst = max(known.items(), key=lambda kv: abs(kv[1]))
    details = {"skew_seconds": skews, "worst": worst[0]}
    off = abs(worst[1])
    message = f"largest clock skew against the Redis server: {worst[1]:+.3f} s ({worst[0]})"
    if off >= SKEW_CRITICAL:
        return Check("clock", Level.CRITICAL, message, details)
    if off >= SKEW_WARNING:
        return Check("clock", Level.WARNING, message, details)
    if unknown:
        return Check("clock", Level.WARNING, f"clock skew unknown for {', '.join(unknown)}")
    return Check("clock", Level.OK, message, details)


async def _alerts_check(sources: Sequence[AlertSource]) -> Check:
    if not sources:
        return Check(
            "alerts",
            Level.OK,
            "no alert source was given: nothing was evaluated",
            {"sources": 0, "firing": []},
        )
    firing = [alert for source in sources for alert in await source.firing()]
    details = {
        "sources": len(sources),
        "firing": [{"name": a.name, "status": a.level.label, "message": a.message}
                   for a in firing],
    }  # fmt: skip
    if not firing:
        return Check("alerts", Level.OK, "no alert is firing", details)
    level = max(a.level for a in firing)
    names = ", ".join(a.name for a in firing)
    return Check("alerts", level, f"{len(firing)} alert(s) firing: {names}", details)


def _mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


__all__ = [
    "AlertSource",
    "Check",
    "FiringAlert",
    "HealthReport",
    "Level",
    "check_health",
]
