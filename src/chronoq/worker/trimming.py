"""Forgetting finished jobs past the retention, on queues that have gone quiet."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from chronoq.redis.broker import Broker
from chronoq.worker.resilience import is_transient

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
    not hold up lease renewals."""

    def __init__(self, broker: Broker, queues: Sequence[str], *, retention: float) -> None:
        self._broker = broker
        self._queues = list(queues)
        self._retention_ms = int(retention * 1000)
        self.interval = trim_interval(retention)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.trim()
            except Exception as exc:  # never let upkeep die: retry next interval
                if is_transient(exc):
                    log.warning("chronoq: trimming finished jobs failed (%s); will retry", exc)
                else:
                    log.exception("chronoq: trimming finished jobs failed; will retry")

    async def trim(self) -> int:
        total = 0
        for queue in self._queues:
            removed = await self._broker.trim(queue, retention_ms=self._retention_ms)
            if removed:
                log.debug("chronoq: forgot %d finished job(s) of %r", removed, queue)
            total += removed
        return total
