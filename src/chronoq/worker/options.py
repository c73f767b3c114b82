"""How a worker runs: its queues, concurrency, timings and limits (`WorkerOptions`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chronoq.core.alerts import INTERVAL as ALERT_INTERVAL
from chronoq.worker.queues import QueueOrder

# Jobs one worker process runs at once, and most jobs claimed per round trip. A claim
# takes at most as many jobs as slots are free, so the slots bound the batch: every
# claim and every outcome write costs the worker and Redis a round trip, and on the
# 2-vCPU VM each round trip also costs the sleep and wake of two processes. Draining
# no-op jobs with two worker processes (bench/systems/chronoq.py process --procs 2,
# 4 interleaved runs, N=100,000) ran at a median of about 25,700/s with 64 slots,
# 27,300/s with 128 and 31,600/s with 256; one process ran about 10 % faster with
# 128 or 256 than with 64. The tasks this is for (mail, HTTP calls, scraping) wait on
# the network: 256 of them are cheap in one asyncio loop. Plain `def` tasks run in a
# thread pool of this size (its threads start only as they are needed): a worker of
# CPU-bound `def` tasks wants `--concurrency` near its core count.
DEFAULT_CONCURRENCY = 256


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    queues: str | Sequence[str] = "default"  # "a,b" strict or "a=3,b=1" weighted
    concurrency: int = DEFAULT_CONCURRENCY
    batch: int = DEFAULT_CONCURRENCY  # most jobs claimed per round trip
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
