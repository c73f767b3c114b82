"""Forgetting finished jobs past the retention, on queues that have gone quiet."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from chronoq.redis.broker import Broker
from chronoq.worker.resilience import Outages

log = logging.getLogger("chronoq.worker")

MIN_INTERVAL = 1.0  # seconds; a shorter retention is trimmed at most this often
MAX_INTERVAL = 60.0  # a week's retention needs no more than a pass a minute


def trim_interval(retention: float) -> float:
    """A quarter of the retention, within [MIN_INTERVAL, MAX_INTERVAL]: a finished
    record outlives its retention by at most that, and a pass that finds nothing due
    costs one sorted-set range read per queue."""
    return min(max(retention / 4, MIN_INTERVAL), MAX_INTERVAL)


class Trimmer:
    """Every worker trims every queue it serves (the script is atomic and idempotent,
    so no leader is needed). Its own loop: a long first pass over a big backlog must
    not hold up lease renewals. Redis faults are waited out like every loop's
    (`Outages`); anything else reaches the worker's supervisor, which restarts it."""

    def __init__(
        self,
        broker: Broker,
        queues: Sequence[str],
        *,
        retention: float,
        outages: Outages | None = None,
    ) -> None:
        self._broker = broker
        self._outages = outages or Outages("redis")
        self._queues = list(queues)
        self._retention_ms = int(retention * 1000)
        self.interval = trim_interval(retention)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self._outages.attempt(self.trim, "trimming finished jobs")

    async def trim(self) -> int:
        total = 0
        for queue in self._queues:
            removed = await self._broker.trim(queue, retention_ms=self._retention_ms)
            if removed:
                log.debug("chronoq: forgot %d finished job(s) of %r", removed, queue)
            total += removed
        return total
