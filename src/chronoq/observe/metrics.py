"""The metrics snapshot, and its Prometheus families.

Everything comes from what Redis already holds, read at scrape time in one
pipelined round trip per 50 queues (`chronoq.redis.snapshot`): nothing is counted
in this process, so any number of endpoints may serve it and a restart loses
nothing. Labels are bounded: `queue`, and `state` from a fixed set (job statuses
for sizes, the scripts' counter names for totals); never a job, worker or account
id.

| family | type | labels | what |
|---|---|---|---|
| `chronoq_build_info` | info | version, python | 1, for joins |
| `chronoq_redis_up` | gauge | | 1 when this scrape read Redis, else 0 (and nothing else) |
| `chronoq_scrape_duration_seconds` | gauge | | how long reading Redis took |
| `chronoq_jobs_total` | counter | queue, state | outcomes so far (succeeded, retried, dead, ...) |
| `chronoq_queue_jobs` | gauge | queue, state | jobs now queued, scheduled, running, dead, blocked |
| `chronoq_queue_oldest_waiting_seconds` | gauge | queue | age of the job next in line (0: none) |
| `chronoq_queue_workers` | gauge | queue | live workers consuming the queue |
| `chronoq_queue_paused` | gauge | queue | 1 while the queue is paused |
| `chronoq_workers` | gauge | | live workers |
| `chronoq_scheduler_loops` | gauge | | live scheduler loops |
| `chronoq_job_wait_seconds` | histogram | queue, task | start - due (run-at, else enqueue) |
| `chronoq_job_run_seconds` | histogram | queue, task | finish - start, per attempt |
| `chronoq_lock_lost_total` | counter | family | locks lost before their release |
| `chronoq_lock_contended_total` | counter | family | acquires that found the lock taken |

A lock's family is its name up to the first ':' ("report:2024-06" -> "report"); at
most 32 families are named, the rest count as `~other` (`chronoq.core.ops`).

The histograms are the lifetime bucket counts workers add to each queue's
`hist` hash with every outcome batch (`chronoq.redis.rollups`): one HGETALL per
queue, bounded by tasks x buckets (`chronoq.core.rollups.BUCKETS_MS`).
"""

from __future__ import annotations

import platform
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from chronoq.core.ids import created_ms
from chronoq.core.ops import LOCK_EVENTS
from chronoq.core.rollups import BUCKETS_MS, histogram
from chronoq.observe.health import consumers
from chronoq.redis.errors import REDIS_FAULTS, describe
from chronoq.redis.snapshot import QUEUE_COUNTERS, SIZES, Snapshot, SnapshotReader

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True, slots=True)
class QueueMetrics:
    queue: str
    jobs: dict[str, int]  # by state: queued, scheduled, running, dead, blocked
    totals: dict[str, int]  # lifetime counters by state (QUEUE_COUNTERS, 0 if never)
    oldest_waiting_seconds: float  # the job next in line; 0 when none waits
    # Lifetime histograms per task: {task: {"wait"|"run": {"buckets": [counts per
    # bucket of BUCKETS_MS, the last +Inf], "sum_seconds": float}}}.
    histograms: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    paused: bool = False  # `chronoq queues pause`: no job of it is claimed


@dataclass(frozen=True, slots=True)
class MetricsSnapshot:
    version: str
    up: bool
    read_seconds: float
    queues: list[QueueMetrics]
    queue_workers: dict[str, int]  # live consumers of each queue (jobs or not yet)
    workers: int
    scheduler_loops: int
    round_trips: int
    error: str | None = None  # why Redis could not be read (up is False)
    locks: dict[str, dict[str, int]] = field(default_factory=dict)  # family -> event -> n

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


async def read_metrics(reader: SnapshotReader) -> MetricsSnapshot:
    """A metrics snapshot; a Redis fault gives `up=False` with the reason, never an
    exception: the endpoint keeps answering while Redis is away."""
    began = time.perf_counter()
    try:
        snapshot = await reader.read()
    except REDIS_FAULTS as exc:
        elapsed = time.perf_counter() - began
        return MetricsSnapshot(_version(), False, elapsed, [], {}, 0, 0, 0, describe(exc))
    return from_snapshot(snapshot, time.perf_counter() - began)


def from_snapshot(snapshot: Snapshot, read_seconds: float) -> MetricsSnapshot:
    now_ms = snapshot.server_ms if snapshot.server_ms is not None else int(time.time() * 1000)
    serving = consumers(snapshot)
    names = [q.name for q in snapshot.queues]
    queues = []
    for q in snapshot.queues:
        born = created_ms(q.head_id) if q.head_id else None
        age = max(0.0, (now_ms - born) / 1000) if born is not None else 0.0
        totals = {state: q.counters.get(state, 0) for state in QUEUE_COUNTERS}
        hists = {task: _histograms(cell) for task, cell in sorted(q.histograms.items())}
        queues.append(QueueMetrics(q.name, dict(q.sizes), totals, age, hists, q.paused))
    return MetricsSnapshot(
        version=_version(),
        up=True,
        read_seconds=read_seconds,
        queues=queues,
        queue_workers={name: serving.get(name, 0) for name in sorted({*serving, *names})},
        workers=sum(1 for w in snapshot.workers if w.alive),
        scheduler_loops=sum(1 for s in snapshot.schedulers if s.alive),
        round_trips=snapshot.round_trips,
        locks={
            family: {event: n.get(event, 0) for event in LOCK_EVENTS}
            for family, n in sorted(snapshot.ops.get("lock", {}).items())
        },
    )


def _histograms(cell: list[int]) -> dict[str, dict[str, Any]]:
    out = {}
    for name in HISTOGRAM_FAMILIES:
        buckets, total_ms = histogram(cell, name)
        out[name] = {"buckets": buckets, "sum_seconds": total_ms / 1000}
    return out


HISTOGRAM_FAMILIES = {
    "wait": ("chronoq_job_wait_seconds", "Seconds from due (run-at, else enqueue) to start."),
    "run": ("chronoq_job_run_seconds", "Seconds from start to finish of each attempt."),
}
_BOUNDS = [f"{b / 1000:g}" for b in BUCKETS_MS]


def _histogram_families(m: MetricsSnapshot) -> Iterator[Metric]:
    for name, (family, help_text) in HISTOGRAM_FAMILIES.items():
        metric = HistogramMetricFamily(family, help_text, labels=["queue", "task"])
        for q in m.queues:
            for task, hists in q.histograms.items():
                h = hists[name]
                cumulative, buckets = 0, []
                for bound, n in zip([*_BOUNDS, "+Inf"], h["buckets"], strict=True):
                    cumulative += n
                    buckets.append((bound, cumulative))
                if cumulative:
                    metric.add_metric([q.queue, task], buckets, sum_value=h["sum_seconds"])
        yield metric


def _lock_families(m: MetricsSnapshot) -> Iterator[Metric]:
    lost = CounterMetricFamily(
        "chronoq_lock_lost", "Locks lost before their release, by family.", labels=["family"]
    )
    contended = CounterMetricFamily(
        "chronoq_lock_contended",
        "Lock acquires that found the lock taken, by family.",
        labels=["family"],
    )
    for family, events in m.locks.items():
        lost.add_metric([family], events["lost"])
        contended.add_metric([family], events["contended"])
    yield from (lost, contended)


def families(m: MetricsSnapshot) -> Iterator[Metric]:
    """The snapshot as Prometheus metric families."""
    build = InfoMetricFamily("chronoq_build", "chronoq's version and Python's.")
    build.add_metric([], {"version": m.version, "python": platform.python_version()})
    yield build
    yield GaugeMetricFamily(
        "chronoq_redis_up", "1 when this scrape could read Redis.", value=int(m.up)
    )
    yield GaugeMetricFamily(
        "chronoq_scrape_duration_seconds",
        "Seconds this scrape spent reading Redis.",
        value=m.read_seconds,
    )
    if not m.up:
        return
    totals = CounterMetricFamily(
        "chronoq_jobs", "Jobs by outcome over the queue's lifetime.", labels=["queue", "state"]
    )
    jobs = GaugeMetricFamily(
        "chronoq_queue_jobs", "Jobs now in each state.", labels=["queue", "state"]
    )
    oldest = GaugeMetricFamily(
        "chronoq_queue_oldest_waiting_seconds",
        "Age of the job next in line (from its creation); 0 when none waits.",
        labels=["queue"],
    )
    workers = GaugeMetricFamily(
        "chronoq_queue_workers", "Live workers consuming the queue.", labels=["queue"]
    )
    paused = GaugeMetricFamily(
        "chronoq_queue_paused", "1 while the queue is paused (no job is claimed).",
        labels=["queue"],
    )  # fmt: skip
    for q in m.queues:
        paused.add_metric([q.queue], 1 if q.paused else 0)
        for state in QUEUE_COUNTERS:
            totals.add_metric([q.queue, state], q.totals[state])
        for state in SIZES:
            jobs.add_metric([q.queue, state], q.jobs[state])
        oldest.add_metric([q.queue], q.oldest_waiting_seconds)
    for queue, count in m.queue_workers.items():
        workers.add_metric([queue], count)
    yield from (totals, jobs, oldest, workers, paused)
    yield from _histogram_families(m)
    yield from _lock_families(m)
    yield GaugeMetricFamily("chronoq_workers", "Live workers.", value=m.workers)
    yield GaugeMetricFamily(
        "chronoq_scheduler_loops", "Live scheduler loops.", value=m.scheduler_loops
    )


class SnapshotCollector(Collector):
    """Yields one snapshot already read (the async endpoint reads, then renders)."""

    def __init__(self, snapshot: MetricsSnapshot) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        return families(self._snapshot)


def render(snapshot: MetricsSnapshot) -> bytes:
    """The Prometheus text exposition of one snapshot."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshot))
    return generate_latest(registry)


def _version() -> str:
    """The installed version, as `chronoq --version` says it (not imported from the
    package root: that imports every layer, this one's callers included)."""
    try:
        return version("chronoq")
    except PackageNotFoundError:
        return "0.0.0+unknown"
