"""The operations over a window: schedules, limits, locks and worker processes, read
from the operations rollups (`chronoq.redis.ops`) as `OpsWindow`.

* schedules: runs fired, missed (dropped by the misfire policy) and skipped
  (overlap=skip), and the lateness from each run's due time to its enqueue
  (p50/p95/p99; the due-to-start lateness is the job rollups' `lateness`);
* limits: grants and denials per rate limit or quota name, and the share denied.
  Per-account quota use is not rolled up (accounts are unbounded): the live quota
  state has it for the current period (`LimitStore.usage`, the report's "limits
  near their cap");
* locks: per family, acquires that found the lock taken, timed out, and locks lost;
* workers: per queue, the peak and mean resident memory of its workers' samples
  and the CPU seconds they used (each worker process counts under every queue it
  serves).

`to_dict()` is the `operations` part of `chronoq metrics --json` and `chronoq
report --json`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chronoq.core.ops import OpsCells, late_buckets
from chronoq.core.rollups import HOUR_MS
from chronoq.observe.rollups import Durations, check_hours
from chronoq.redis.backend import Backend

MB = 1_000_000


@dataclass(frozen=True, slots=True)
class ScheduleOps:
    schedule: str
    fired: int
    missed: int
    skipped: int
    enqueue_lateness: Durations  # seconds from each fired run's due time to its enqueue

    def to_dict(self) -> dict[str, Any]:
        return {
            "schedule": self.schedule,
            "fired": self.fired,
            "missed": self.missed,
            "skipped": self.skipped,
            "enqueue_lateness": self.enqueue_lateness.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class LimitOps:
    limit: str
    granted: int
    denied: int

    @property
    def denied_share(self) -> float | None:
        asked = self.granted + self.denied
        return round(self.denied / asked, 6) if asked else None

    def to_dict(self) -> dict[str, Any]:
        return {"limit": self.limit, "granted": self.granted, "denied": self.denied,
                "denied_share": self.denied_share}  # fmt: skip


@dataclass(frozen=True, slots=True)
class LockOps:
    family: str
    contended: int
    timeout: int
    lost: int

    def to_dict(self) -> dict[str, Any]:
        return {"family": self.family, "contended": self.contended, "timeout": self.timeout,
                "lost": self.lost}  # fmt: skip


@dataclass(frozen=True, slots=True)
class WorkerOps:
    queue: str
    samples: int
    cpu_seconds: float
    rss_peak_mb: float | None
    rss_mean_mb: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"queue": self.queue, "samples": self.samples, "cpu_seconds": self.cpu_seconds,
                "rss_peak_mb": self.rss_peak_mb, "rss_mean_mb": self.rss_mean_mb}  # fmt: skip


@dataclass(frozen=True, slots=True)
class OpsWindow:
    hours: float
    schedules: list[ScheduleOps] = field(default_factory=list)
    limits: list[LimitOps] = field(default_factory=list)
    locks: list[LockOps] = field(default_factory=list)
    workers: list[WorkerOps] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "hours": self.hours,
            "schedules": [s.to_dict() for s in self.schedules],
            "limits": [x.to_dict() for x in self.limits],
            "locks": [x.to_dict() for x in self.locks],
            "workers": [w.to_dict() for w in self.workers],
        }


def _durations(names: dict[str, int]) -> Durations:
    return Durations.from_buckets(*late_buckets(names))


def from_cells(hours: float, cells: OpsCells) -> OpsWindow:
    def of(kind: str) -> list[tuple[str, dict[str, int]]]:
        return sorted(cells.get(kind, {}).items())

    schedules = [
        ScheduleOps(name, n.get("fired", 0), n.get("missed", 0), n.get("skipped", 0),
                    _durations(n))
        for name, n in of("sched")
    ]  # fmt: skip
    limits = [LimitOps(name, n.get("granted", 0), n.get("denied", 0)) for name, n in of("limit")]
    locks = [
        LockOps(family, n.get("contended", 0), n.get("timeout", 0), n.get("lost", 0))
        for family, n in of("lock")
    ]
    workers = []
    for queue, n in of("worker"):
        samples = n.get("samples", 0)
        peak = n.get("rss_max", 0)
        workers.append(
            WorkerOps(
                queue,
                samples,
                round(n.get("cpu_ms", 0) / 1000, 3),
                round(peak / MB, 1) if peak else None,
                round(n.get("rss_sum", 0) / samples / MB, 1) if samples and peak else None,
            )
        )
    return OpsWindow(hours, schedules, limits, locks, workers)


async def ops_window(backend: Backend, hours: float = 1, *, now_ms: int | None = None) -> OpsWindow:
    """The last `hours` hours of operations (whole buckets, as the metrics window)."""
    check_hours(hours)
    now = now_ms if now_ms is not None else await backend.rollups.server_ms()
    cells = await backend.ops.read(now - int(hours * HOUR_MS), now, now)
    return from_cells(hours, cells)
