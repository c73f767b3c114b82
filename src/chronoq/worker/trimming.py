"""Forgetting jobs past their retention (per final state, by age and by count), on
queues that have gone quiet too."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from chronoq.core.retention import RetentionPolicy
from chronoq.redis.broker import Broker
from chronoq.worker.resilience import Outages

log = logging.getLogger("chronoq.worker")

MIN_INTERVAL = 1.0  # seconds; a shorter retention is trimmed at most this often
MAX_INTERVAL = 60.0  # a week's retention needs no more than a pass a minute


def trim_interval(retention: float) -> float:
    """A quarter of the retention, within [MIN_INTERVAL, MAX_INTERVAL]: a finished
    record outlives its retention by at most that, and a pass that finds nothing due
    costs one sorted-set range read per queue and state."""
    return min(max(retention / 4, MIN_INTERVAL), MAX_INTERVAL)


def policy_interval(policy: RetentionPolicy) -> float:
    """The pass interval for the shortest age the policy keeps (a count limit alone is
    checked every MAX_INTERVAL: counts are rarely overrun by much within a minute)."""
    ages = [keep.age for _, keep in policy.states if keep.age is not None]
    return trim_interval(min(ages)) if ages else MAX_INTERVAL


class Trimmer:
    """Every worker trims every queue it serves (the script is atomic and idempotent,
    so no leader is needed). Its own loop: a long first pass over a big backlog must
    not hold up lease renewals. Redis faults are waited out like every loop's
    (`Outages`); anything else reaches the worker's supervisor, which restarts it."""

    def __init__(
        self,
        broker: Broker,
        queues: Sequence[str],
        policy: RetentionPolicy,
        *,
        outages: Outages | None = None,
    ) -> None:
        self._broker = broker
        self._outages = outages or Outages("redis")
        self._queues = list(queues)
        self._policy = policy
        self.interval = policy_interval(policy)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self._outages.attempt(self.trim, "trimming finished jobs")

    async def trim(self) -> int:
        total = 0
        for queue in self._queues:
            removed = sum((await self._broker.trim_policy(queue, self._policy)).values())
            if removed:
                log.debug("chronoq: forgot %d finished job(s) of %r", removed, queue)
            total += removed
        return total
