"""Metrics over time as a series of points: what a chart draws (the dashboard's
sparklines and metrics charts), read from the same rollups as `window`.

`await series(backend, hours=24)` cuts the last `hours` into steps that are whole
rollup buckets (`step_for`: 1 minute for an hour, 1 hour for a day, 1 day for 30
to 90 days), so a chart of any range costs one pipelined round trip of a bounded
number of small HGETALLs per queue (at most a few hundred), never a scan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chronoq.core.rollups import COUNT_AT, COUNTS, DAY_MS, HOUR_MS, MINUTE_MS, add_cells
from chronoq.observe.rollups import check_hours
from chronoq.redis.backend import Backend

# (longest window in hours, step in ms): the first that fits is used.
STEPS: tuple[tuple[float, int], ...] = (
    (2, MINUTE_MS),
    (12, 5 * MINUTE_MS),
    (72, HOUR_MS),
    (14 * 24, 6 * HOUR_MS),
    (float("inf"), DAY_MS),
)
MAX_POINTS = 400


def step_for(hours: float) -> int:
    """The step (ms) of a window of `hours`: whole buckets, at most a few hundred."""
    return next(step for most, step in STEPS if hours <= most)


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    start: datetime
    counts: dict[str, int]  # COUNTS over [start, start + step), the selection summed


@dataclass(frozen=True, slots=True)
class Series:
    hours: float
    step_seconds: float
    queue: str | None
    task: str | None
    points: list[SeriesPoint]

    def values(self, name: str) -> list[int]:
        """One count (`started`, `failed`, ...) per point, oldest first."""
        return [p.counts[name] for p in self.points]

    def rate(self, name: str) -> list[float]:
        """One count per second of each step (throughput when `name` is started)."""
        return [n / self.step_seconds for n in self.values(name)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "hours": self.hours,
            "step_seconds": self.step_seconds,
            "queue": self.queue,
            "task": self.task,
            "points": [{"start": p.start.isoformat(), **p.counts} for p in self.points],
        }


async def series(
    backend: Backend,
    hours: float = 1,
    queue: str | None = None,
    task: str | None = None,
    *,
    now_ms: int | None = None,
) -> Series:
    """The last `hours` in steps (`step_for`), the newest step the current one."""
    check_hours(hours)
    step = step_for(hours)
    now = now_ms if now_ms is not None else await backend.rollups.server_ms()
    end = now - now % step + step
    count = min(MAX_POINTS, max(1, round(hours * HOUR_MS / step)))
    spans = [(end - (count - i) * step, end - (count - i - 1) * step) for i in range(count)]
    names = await backend.inspector.queues()
    if queue is not None:
        names = [queue] if queue in names else []
    read = await backend.rollups.read_spans(names, spans, now)
    points = []
    for (start, _), cells in zip(spans, read, strict=True):
        chosen = [
            cell
            for by_task in cells.values()
            for name, cell in by_task.items()
            if task is None or name == task
        ]
        total = add_cells(chosen)
        counts = {name: total[COUNT_AT[name]] for name in COUNTS}
        points.append(SeriesPoint(datetime.fromtimestamp(start / 1000, UTC), counts))
    return Series(hours, step / 1000, queue, task, points)
