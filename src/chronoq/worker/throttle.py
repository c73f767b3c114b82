"""Holding claimed jobs that name rate limits or quotas until their limits allow them.

Jobs claimed together are decided together: one script call per limit per batch.
A job allowed by every limit starts; the others go back to wait until their booked
time (no attempt spent) and, when they are claimed again, start on that booking.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from chronoq.control.limiter import Limiter, LimitRequest
from chronoq.core import serialization
from chronoq.core.claims import ClaimedJob
from chronoq.redis.broker import Broker
from chronoq.redis.errors import RedisUnusable
from chronoq.worker.execution import RunPlan
from chronoq.worker.resilience import Outages

log = logging.getLogger("chronoq.worker")
RETRY_AFTER_ERROR = 1.0


@dataclass(slots=True)
class Held:
    job: ClaimedJob
    run: RunPlan
    block_until_ms: int = 0  # the task raised RateLimited: nothing before this
    reservations: dict[str, int] = field(default_factory=dict)
    defer_to_ms: int = 0  # latest "not before" any limit answered (0: allowed)

    def __post_init__(self) -> None:
        if self.job.reservations:
            self.reservations = {
                str(k): int(v) for k, v in serialization.loads(self.job.reservations).items()
            }


class Throttle:
    def __init__(
        self,
        limiter: Limiter,
        broker: Broker,
        *,
        start: Callable[[ClaimedJob, RunPlan], None],
        deferred: Callable[[ClaimedJob], None],
        outages: Outages,
        decided: Callable[[str, int, int], None] = lambda name, granted, denied: None,
    ) -> None:
        self._outages = outages
        self._decided = decided  # (limit, granted, denied) per batch: the ops rollups
        self._limiter = limiter
        self._broker = broker
        self._start = start
        self._deferred = deferred
        self._pending: list[Held] = []
        self._ready = asyncio.Event()
        self._busy = 0
        self._waiting = 0  # claimed ahead of their due time (submit_at)

    @property
    def holding(self) -> int:
        """Jobs claimed and not yet started or deferred (they occupy worker slots)."""
        return len(self._pending) + self._busy + self._waiting

    def submit(self, job: ClaimedJob, run: RunPlan, *, retry_after: float | None = None) -> None:
        block = int((time.time() + retry_after) * 1000) if retry_after is not None else 0
        self._pending.append(Held(job, run, block))
        self._ready.set()

    def submit_at(self, job: ClaimedJob, run: RunPlan, moment: float) -> None:
        """Submit at `moment` (the loop's clock): a job claimed ahead of its due time
        asks its limits when due. It holds its slot meanwhile."""
        self._waiting += 1
        asyncio.get_running_loop().call_at(moment, self._submit_waiting, job, run)

    def _submit_waiting(self, job: ClaimedJob, run: RunPlan) -> None:
        self._waiting -= 1
        self.submit(job, run)

    async def run(self) -> None:
        while True:
            await self._ready.wait()
            self._ready.clear()
            batch, self._pending = self._pending, []
            self._busy = len(batch)
            try:
                await self._outages.persist(
                    lambda b=batch: self._settle(b),  # type: ignore[misc]
                    "asking rate limits",
                )
            except RedisUnusable:
                raise
            except Exception:
                log.exception("chronoq: rate-limit decision failed; retrying in 1 s")
                await asyncio.sleep(RETRY_AFTER_ERROR)
                self._pending.extend(batch)
                self._ready.set()
            finally:
                self._busy = 0

    async def _settle(self, batch: list[Held]) -> None:
        await self._decide(batch)
        later = [held for held in batch if held.defer_to_ms]
        await self._defer(later)
        for held in batch:
            if not held.defer_to_ms:
                self._start(held.job, held.run)

    async def _decide(self, batch: list[Held]) -> None:
        """Ask each limit in turn, for the jobs every earlier limit allowed."""
        for held in batch:
            held.defer_to_ms = held.block_until_ms if not held.run.limits else 0
        stages = max((len(h.run.limits) for h in batch), default=0)
        for stage in range(stages):
            by_limit: dict[str, list[Held]] = defaultdict(list)
            for held in batch:
                if len(held.run.limits) > stage and not held.defer_to_ms:
                    by_limit[held.run.limits[stage].name].append(held)
            for name, group in by_limit.items():
                await self._ask(name, stage, group)

    async def _ask(self, name: str, stage: int, group: list[Held]) -> None:
        requests = [
            LimitRequest(
                key=h.run.limits[stage].key,
                reservation_ms=h.reservations.get(name, 0),
                block_until_ms=h.block_until_ms,
                ref=f"{h.job.queue} {h.job.id}",
            )
            for h in group
        ]
        now_ms = int(time.time() * 1000)
        decisions = await self._limiter.decide(name, requests)
        granted = sum(1 for d in decisions if d.go)
        self._decided(name, granted, len(decisions) - granted)
        for held, decision in zip(group, decisions, strict=True):
            if decision.go:
                # Counted now: should a later limit defer the job, this start stays its own.
                held.reservations.setdefault(name, now_ms)
                continue
            held.defer_to_ms = decision.at_ms
            if decision.booked:
                held.reservations[name] = decision.at_ms

    async def _defer(self, later: list[Held]) -> None:
        by_queue: dict[str, list[Held]] = defaultdict(list)
        for held in later:
            by_queue[held.job.queue].append(held)
        for queue, group in by_queue.items():
            entries = [
                (
                    h.job.id,
                    h.job.token,
                    h.defer_to_ms,
                    serialization.dumps(h.reservations) if h.reservations else "",
                )
                for h in group
            ]
            await self._broker.defer(queue, entries)
            for held in group:
                self._deferred(held.job)
