"""Keeping leases alive, and recovering the jobs of workers that died.

Supervision (see `chronoq.worker.runner`): Redis faults are noted in the worker's
`Outages` and retried next interval; a permanent one raises `RedisUnusable`
(fatal). Any other error in renewing leases ends `run`, which the supervisor
restarts with backoff, and after repeated failures shuts the worker down: a worker
that cannot keep its leases would see its jobs run a second time elsewhere.
Recovery of other workers' jobs is everyone's chore: its errors are logged (with a
traceback when they start or change) and do not stop this worker.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence

from chronoq.redis.broker import Broker
from chronoq.redis.errors import RedisUnusable
from chronoq.worker.resilience import Outages

log = logging.getLogger("chronoq.worker")


class LeaseKeeper:
    """Renews the leases this worker holds every third of a lease, and requeues
    expired leases of any worker on its queues (every worker does this: the script
    is atomic, so running it everywhere is safe and needs no leader)."""

    def __init__(
        self,
        broker: Broker,
        queues: Sequence[str],
        *,
        lease: float,
        default_max_retries: int,
        on_lost: Callable[[str], None],
        on_cancel: Callable[[str], None] = lambda job_id: None,
        outages: Outages,
    ) -> None:
        self._broker = broker
        self._outages = outages
        self._recover_error: str | None = None
        self._queues = list(queues)
        self._lease_ms = int(lease * 1000)
        self._interval = lease / 3
        self._default_max_retries = default_max_retries
        self._on_lost = on_lost
        self._on_cancel = on_cancel  # renewal sees cancels a missed message did not bring
        self.held: dict[str, tuple[str, str]] = {}  # job id -> (queue, token)
        # Runs that ended, their outcome not yet recorded: a renewal racing that write
        # finds the lease gone because the outcome took it, not because it was lost.
        self._settling: set[str] = set()

    def hold(self, job_id: str, queue: str, token: str) -> None:
        self.held[job_id] = (queue, token)
        self._settling.discard(job_id)

    def settling(self, job_id: str) -> None:
        """The run ended; its outcome is on its way to Redis."""
        if job_id in self.held:
            self._settling.add(job_id)

    def drop(self, job_id: str) -> None:
        self.held.pop(job_id, None)
        self._settling.discard(job_id)

    def by_queue(self) -> dict[str, list[tuple[str, str]]]:
        grouped: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for job_id, (queue, token) in self.held.items():
            grouped[queue].append((job_id, token))
        return grouped

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self._outages.attempt(self.renew, "renewing leases")
            await self._recover_quietly()

    async def _recover_quietly(self) -> None:
        try:
            await self._outages.attempt(self.recover, "recovering jobs of lost workers")
        except RedisUnusable:
            raise
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"
            if message != self._recover_error:
                log.exception("chronoq: recovering jobs of lost workers failed; will retry")
            self._recover_error = message
        else:
            self._recover_error = None

    async def renew(self) -> None:
        for queue, leases in self.by_queue().items():
            lost, cancelling = await self._broker.renew(queue, leases, lease_ms=self._lease_ms)
            for job_id in lost:
                if job_id in self.held and job_id not in self._settling:
                    log.warning("chronoq: job %s lost its lease; stopping its run", job_id)
                    self.drop(job_id)
                    self._on_lost(job_id)
            for job_id in cancelling:
                self._on_cancel(job_id)

    async def recover(self) -> None:
        for queue in self._queues:
            requeued, dead, unparked = await self._broker.recover(
                queue, default_max_retries=self._default_max_retries
            )
            if unparked:
                log.info("chronoq: woke %d parked job(s) on %r", unparked, queue)
            if requeued or dead:
                log.warning(
                    "chronoq: recovered %d job(s) of lost workers on %r (%d dead-lettered)",
                    requeued + dead,
                    queue,
                    dead,
                )
