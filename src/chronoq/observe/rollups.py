"""Metrics over time: a window of the last N hours, per queue and task, read from
the rollups workers write (`chronoq.redis.rollups`).

`await window(backend, hours=1, queue=None, task=None)` gives a `MetricsWindow`:
counts (enqueued, started, succeeded, failed, retried, dead, expired, cancelled,
throttled), success rate, throughput, and wait, run and schedule-lateness
percentiles (p50/p95/p99, interpolated inside the fixed buckets of
`chronoq.core.rollups.BUCKETS_MS`), with each queue's state now (lengths, oldest
waiting job). The alert engine reads the same model. `to_dict()` is the JSON of
`chronoq metrics --hours N --json`.

Definitions: `success_rate` = succeeded / (succeeded + failed) attempts, None with
neither; `throughput` = attempts that ended (`started`) per second of the window.
The window is whole buckets: its start rounded down to a minute (to an hour or a
day past the minutes or hours kept), its end up to the current minute's end.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chronoq.core.errors import ConfigurationError
from chronoq.core.rollups import (
    BUCKETS_MS,
    COUNT_AT,
    COUNTS,
    HOUR_MS,
    add_cells,
    histogram,
    quantile,
)
from chronoq.observe.metrics import QueueMetrics, from_snapshot
from chronoq.redis.backend import Backend
from chronoq.redis.snapshot import Snapshot

QUANTILES = (("p50", 0.50), ("p95", 0.95), ("p99", 0.99))


@dataclass(frozen=True, slots=True)
class Durations:
    """One histogram over the window, in seconds."""

    count: int
    mean: float | None
    p50: float | None
    p95: float | None
    p99: float | None
    buckets: list[int]  # counts per bucket of BUCKETS_MS, the last one +Inf

    @classmethod
    def of(cls, cell: Sequence[int], name: str) -> Durations:
        return cls.from_buckets(*histogram(cell, name))

    @classmethod
    def from_buckets(cls, buckets: list[int], total_ms: int) -> Durations:
        """From counts per bucket of BUCKETS_MS (the last +Inf) and their sum (ms)."""
        count = sum(buckets)
        marks = {k: quantile(buckets, q) for k, q in QUANTILES}
        secs = {k: None if v is None else round(v / 1000, 6) for k, v in marks.items()}
        mean = round(total_ms / count / 1000, 6) if count else None
        return cls(count, mean, secs["p50"], secs["p95"], secs["p99"], buckets)

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "mean": self.mean,
            "p50": self.p50,
            "p95": self.p95,
            "p99": self.p99,
            "buckets": {_le(i): n for i, n in enumerate(self.buckets)},
        }


def _le(i: int) -> str:
    return "+Inf" if i >= len(BUCKETS_MS) else f"{BUCKETS_MS[i] / 1000:g}"


@dataclass(frozen=True, slots=True)
class Rollup:
    """The counts and durations of one queue and task (or of everything selected:
    queue and task None) over the window."""

    queue: str | None
    task: str | None
    counts: dict[str, int]
    seconds: float  # the window's length
    wait: Durations
    run: Durations
    lateness: Durations  # jobs made by schedules: start - their run's due time

    @classmethod
    def of(cls, queue: str | None, task: str | None, cell: Sequence[int], seconds: float) -> Rollup:
        counts = {name: cell[COUNT_AT[name]] for name in COUNTS}
        return cls(
            queue,
            task,
            counts,
            seconds,
            Durations.of(cell, "wait"),
            Durations.of(cell, "run"),
            Durations.of(cell, "late"),
        )

    @property
    def success_rate(self) -> float | None:
        ended = self.counts["succeeded"] + self.counts["failed"]
        return round(self.counts["succeeded"] / ended, 6) if ended else None

    @property
    def throughput(self) -> float:
        """Attempts that ended, per second."""
        return round(self.counts["started"] / self.seconds, 6) if self.seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "queue": self.queue,
            "task": self.task,
            "counts": self.counts,
            "success_rate": self.success_rate,
            "throughput": self.throughput,
            "wait": self.wait.to_dict(),
            "run": self.run.to_dict(),
            "lateness": self.lateness.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class MetricsWindow:
    hours: float
    start: datetime
    end: datetime
    queue: str | None  # the filters asked for
    task: str | None
    total: Rollup  # everything selected
    rows: list[Rollup]  # per queue and task, by queue then task
    queues: list[QueueMetrics] = field(default_factory=list)  # selected queues, now
    by_queue: dict[str, Rollup] = field(default_factory=dict)  # each queue's selected tasks

    # The alert engine's vocabulary: the totals' numbers.
    @property
    def success_rate(self) -> float | None:
        return self.total.success_rate

    @property
    def throughput(self) -> float:
        return self.total.throughput

    @property
    def counts(self) -> dict[str, int]:
        return self.total.counts

    @property
    def wait(self) -> Durations:
        return self.total.wait

    @property
    def run(self) -> Durations:
        return self.total.run

    def queue_length(self, queue: str | None = None) -> int:
        """Jobs waiting now (queued and scheduled) in `queue`, or in every selected one."""
        return sum(
            q.jobs["queued"] + q.jobs["scheduled"]
            for q in self.queues
            if queue is None or q.queue == queue
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "hours": self.hours,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "queue": self.queue,
            "task": self.task,
            "buckets_seconds": [b / 1000 for b in BUCKETS_MS],
            "total": self.total.to_dict(),
            "rows": [r.to_dict() for r in self.rows],
            "queues": [
                {
                    "queue": q.queue,
                    "jobs": q.jobs,
                    "oldest_waiting_seconds": round(q.oldest_waiting_seconds, 3),
                }
                for q in self.queues
            ],
        }


def check_hours(hours: float) -> float:
    if not hours > 0:
        raise ConfigurationError(f"invalid hours {hours!r}: must be more than 0")
    return hours


async def window(
    backend: Backend,
    hours: float = 1,
    queue: str | None = None,
    task: str | None = None,
    *,
    now_ms: int | None = None,
    snapshot: Snapshot | None = None,
) -> MetricsWindow:
    """The last `hours` hours (ending now, by the server's clock unless `now_ms`),
    of one queue or all, one task or all. `snapshot`: one just read (the alert
    engine's), else one is read."""
    check_hours(hours)
    started = time.perf_counter()
    if snapshot is None:
        snapshot = await backend.snapshots.read()
    now = now_ms if now_ms is not None else snapshot.server_ms or int(time.time() * 1000)
    state = from_snapshot(snapshot, time.perf_counter() - started)
    names = [q.queue for q in state.queues]
    if queue is not None:
        names = [queue] if queue in names else []
    start_ms = now - int(hours * HOUR_MS)
    cells = await backend.rollups.read(names, start_ms, now, now)
    seconds = hours * 3600
    rows = [
        Rollup.of(q, t, cell, seconds)
        for q in names
        for t, cell in sorted(cells.get(q, {}).items())
        if task is None or t == task
    ]
    total = add_cells([_cell_of(r, cells) for r in rows])
    by_queue = {
        q: Rollup.of(q, task, add_cells([_cell_of(r, cells) for r in rows if r.queue == q]),
                     seconds)
        for q in names
    }  # fmt: skip
    return MetricsWindow(
        hours=hours,
        start=datetime.fromtimestamp(start_ms / 1000, UTC),
        end=datetime.fromtimestamp(now / 1000, UTC),
        queue=queue,
        task=task,
        total=Rollup.of(queue, task, total, seconds),
        rows=rows,
        queues=[q for q in state.queues if q.queue in names],
        by_queue=by_queue,
    )


def _cell_of(row: Rollup, cells: dict[str, dict[str, list[int]]]) -> list[int]:
    return cells[row.queue or ""][row.task or ""]
