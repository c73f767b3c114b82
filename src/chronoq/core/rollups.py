"""Metrics rollups: what is counted per queue, task and minute, in which fixed
buckets, and how a time window is cut into the minute, hour and day buckets kept.

Pure: the worker aggregates a batch of outcomes here (plain list arithmetic, no
strings per job), `chronoq.redis.rollups` writes and reads the cells, and
`chronoq.observe.rollups` turns them into a window with percentiles.

A cell is one (queue, task, slot) of one resolution: the counts in `COUNTS`, then
for each histogram in `HISTOGRAMS` a count per bucket of `BUCKETS_MS` (the last one
is +Inf) and the sum of the observed milliseconds. In Redis a cell is the fields
`<task>\t<name>` of the queue's HASH of that slot (names: `FIELD_NAMES`).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

# Upper bounds (ms, inclusive) of the wait, run and lateness buckets; one more: +Inf.
BUCKETS_MS: tuple[int, ...] = (
    5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000,
)  # fmt: skip
COUNTS: tuple[str, ...] = (
    "enqueued",  # jobs whose first attempt started, in the minute they were enqueued
    "started",  # attempts that ran (an outcome was recorded for them)
    "succeeded",
    "failed",  # attempts that ended in an error (retried or dead)
    "retried",
    "dead",
    "expired",  # their deadline passed before they could start
    "cancelled",
    "throttled",  # a rate limit or quota said "later" (or the task raised RateLimited)
)
# wait: start - due (run-at, else enqueue); run: finish - start; late: start - the
# due time of the schedule run that made the job (first attempts of scheduled jobs).
HISTOGRAMS: tuple[str, ...] = ("wait", "run", "late")
_SHORT = {"wait": "w", "run": "r", "late": "l"}
_WIDTH = len(BUCKETS_MS) + 2  # the buckets, +Inf, the sum
CELL_SIZE = len(COUNTS) + len(HISTOGRAMS) * _WIDTH
COUNT_AT = {name: i for i, name in enumerate(COUNTS)}
HIST_AT = {name: len(COUNTS) + i * _WIDTH for i, name in enumerate(HISTOGRAMS)}
FIELD_NAMES: tuple[str, ...] = (
    *COUNTS,
    *(
        f"{_SHORT[h]}{i}" if i <= len(BUCKETS_MS) else f"{_SHORT[h]}s"
        for h in HISTOGRAMS
        for i in range(_WIDTH)
    ),
)
_FIELD_AT = {name: i for i, name in enumerate(FIELD_NAMES)}
SEPARATOR = "\t"  # between the task and the field name in a rollup HASH

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
RESOLUTIONS: tuple[tuple[str, int], ...] = (("m", MINUTE_MS), ("h", HOUR_MS), ("d", DAY_MS))


@dataclass(frozen=True, slots=True)
class Keep:
    """How long each resolution's buckets are kept after their slot ends (ms)."""

    minute_ms: int = 26 * HOUR_MS  # `--hours 24` reads whole minutes at its edges
    hour_ms: int = 8 * DAY_MS
    day_ms: int = 90 * DAY_MS

    def of(self, resolution: str) -> int:
        return {"m": self.minute_ms, "h": self.hour_ms, "d": self.day_ms}[resolution]

    @classmethod
    def days(cls, metrics_days: float) -> Keep:
        """The keep of `CHRONOQ_METRICS_DAYS` (the days buckets; minutes and hours fixed)."""
        return cls(day_ms=int(metrics_days * DAY_MS))


def bucket_of(ms: float) -> int:
    """The bucket index of an observation: the first bound >= ms (the last: +Inf)."""
    return bisect.bisect_left(BUCKETS_MS, ms)


class RollupBatch:
    """Counts of one batch, by (queue, task, minute). Adding costs list arithmetic
    only; `fields()` names the non-zero values once, when the batch is written."""

    __slots__ = ("cells",)

    def __init__(self) -> None:
        self.cells: dict[tuple[str, str, int], list[int]] = {}

    def __bool__(self) -> bool:
        return bool(self.cells)

    def cell(self, queue: str, task: str, at_ms: int) -> list[int]:
        """The cell of (queue, task, the minute of at_ms), to add to in place."""
        key = (queue, task, at_ms // MINUTE_MS)
        cell = self.cells.get(key)
        if cell is None:
            cell = self.cells[key] = [0] * CELL_SIZE
        return cell

    def count(self, queue: str, task: str, name: str, at_ms: int, n: int = 1) -> None:
        self.cell(queue, task, at_ms)[COUNT_AT[name]] += n

    def observe(self, queue: str, task: str, histogram: str, at_ms: int, ms: float) -> None:
        add_observation(self.cell(queue, task, at_ms), HIST_AT[histogram], ms)

    def merge(self, other: RollupBatch) -> None:
        for key, values in other.cells.items():
            mine = self.cells.get(key)
            if mine is None:
                self.cells[key] = values
            else:
                for i, v in enumerate(values):
                    mine[i] += v

    def fields(self) -> Iterator[tuple[str, str, int, dict[str, int]]]:
        """(queue, task, minute, {field name: non-zero value}) per cell."""
        for (queue, task, minute), values in self.cells.items():
            yield queue, task, minute, {FIELD_NAMES[i]: v for i, v in enumerate(values) if v}


def add_observation(cell: list[int], base: int, ms: float) -> None:
    """Count `ms` into the histogram at `base` (`HIST_AT[name]`) of a cell."""
    cell[base + bisect.bisect_left(BUCKETS_MS, ms)] += 1
    cell[base + _WIDTH - 1] += round(ms)


def parse_cells(raw: Iterable[Mapping[str, str]]) -> dict[str, list[int]]:
    """Sum rollup HASHes (as read) into one cell per task. Unknown fields are left
    out (labels and names stay a known set)."""
    cells: dict[str, list[int]] = {}
    for fields in raw:
        for key, value in fields.items():
            task, _, name = key.rpartition(SEPARATOR)
            at = _FIELD_AT.get(name)
            if at is None or not task:
                continue
            cell = cells.get(task)
            if cell is None:
                cell = cells[task] = [0] * CELL_SIZE
            try:
                cell[at] += int(value)
            except ValueError:
                continue
    return cells


def add_cells(cells: Iterable[Sequence[int]]) -> list[int]:
    total = [0] * CELL_SIZE
    for cell in cells:
        for i, v in enumerate(cell):
            total[i] += v
    return total


def histogram(cell: Sequence[int], name: str) -> tuple[list[int], int]:
    """One histogram of a cell: its bucket counts (the last: +Inf) and its sum (ms)."""
    base = HIST_AT[name]
    return list(cell[base : base + _WIDTH - 1]), cell[base + _WIDTH - 1]


def quantile(buckets: Sequence[int], q: float) -> float | None:
    """The q-quantile (ms) of bucket counts, interpolated linearly inside its bucket
    as Prometheus's histogram_quantile does (the +Inf bucket gives the last bound).
    None without observations."""
    total = sum(buckets)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for i, n in enumerate(buckets):
        if n and seen + n >= rank:
            if i >= len(BUCKETS_MS):
                return float(BUCKETS_MS[-1])
            lower = 0 if i == 0 else BUCKETS_MS[i - 1]
            return lower + (BUCKETS_MS[i] - lower) * max(0.0, rank - seen) / n
        seen += n
    return float(BUCKETS_MS[-1])


def segments(start_ms: int, end_ms: int, now_ms: int, keep: Keep) -> list[tuple[str, int]]:
    """The buckets (resolution, slot number) covering [start, end): as few as can
    be, the largest that fit. The start is rounded down to the finest resolution
    still kept there (a window reaching back past the minutes kept starts on an
    hour, past the hours kept on a day); the end up to a whole minute."""
    for name, size in RESOLUTIONS:
        if now_ms - start_ms < keep.of(name) or name == "d":
            start_ms -= start_ms % size
            break
    end_ms += -end_ms % MINUTE_MS
    out: list[tuple[str, int]] = []
    t = start_ms
    while t < end_ms:
        # A minute always fits (t stays on whole minutes); larger buckets when aligned,
        # inside the window and still kept.
        for name, size in reversed(RESOLUTIONS):
            fits = t % size == 0 and t + size <= end_ms
            if name == "m" or (fits and now_ms - t < keep.of(name)):
                out.append((name, t // size))
                t += size
                break
    return out
