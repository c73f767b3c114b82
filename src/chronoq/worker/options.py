"""How a worker runs: its queues, concurrency, timings and limits (`WorkerOptions`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chronoq.core.alerts import INTERVAL as ALERT_INTERVAL
from chronoq.worker.queues import QueueOrder


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    queues: str | Sequence[str] = "default"  # "a,b" strict or "a=3,b=1" weighted
    concurrency: int = 32
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
