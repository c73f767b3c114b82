"""How a worker runs: its queues, concurrency, timings and limits (`WorkerOptions`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chronoq.core.alerts import INTERVAL as ALERT_INTERVAL
from chronoq.worker.queues import QueueOrder

# Jobs one worker process runs at once. A claim takes at most as many jobs as slots
# are free: with 32 slots no claim filled its batch of 64, and draining no-op jobs
# ran about 15 % faster per process with 64 (bench/README.md). Plain `def` tasks run
# in a thread pool of this size (its threads start only as they are needed).
DEFAULT_CONCURRENCY = 64


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    queues: str | Sequence[str] = "default"  # "a,b" strict or "a=3,b=1" weighted
    concurrency: int = DEFAULT_CONCURRENCY
    batch: int = 64  # most jobs claimed per round trip
    idle_wait: float = 1.0  # longest block on the doorbell before re-checking
    heartbeat: float = 2.0
    burst: bool = False  # exit once the queues are empty (scripts, tests, benchmarks)
    lease: float | None = None  # default: settings.lease
    shutdown_timeout: float | None = None  # default: settings.shutdown_timeout
    scheduler: bool = True  # also run a scheduler loop (any number may run: HA)
    max_jobs: int | None = None  # retire after recording this many outcomes (recycling)
    max_memory: int | None = None  # bytes: retire once the RSS reaches it (recycling)
    alerts: bool = True  # evaluate the alert rules (any number may: one notification)
    alert_interval: float = ALERT_INTERVAL  # seconds between evaluation rounds

    def queue_order(self) -> QueueOrder:
        if isinstance(self.queues, str):
            return QueueOrder.parse(self.queues)
        return QueueOrder(list(self.queues))
