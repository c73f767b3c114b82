"""The worker's graceful shutdown, in order: end the intake (the fetch loop, then
hand-offs and the blocking read), let running jobs finish within the shutdown
timeout, hand the rest back to their queues, drain the event hooks and workflow
steps, stop the upkeep loops, then leave the fleet. Each step needing Redis waits
at most REDIS_STEP (1 s when Redis is down or the stop is forced).

`WorkerShutdown` is a base of `Worker` (`chronoq.worker.runner`), which builds the
parts it names below; it runs once per worker, off the jobs' hot path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from chronoq.app import App
from chronoq.redis.broker import Broker
from chronoq.redis.cancel import cancel_and_wait
from chronoq.worker.context import RunContexts
from chronoq.worker.doorbell import Doorbell
from chronoq.worker.events import JobEvents
from chronoq.worker.leases import LeaseKeeper
from chronoq.worker.outcomes import OutcomeWriter
from chronoq.worker.publishing import Publication
from chronoq.worker.queues import QueueOrder
from chronoq.worker.resilience import Outages
from chronoq.worker.runs import Runs
from chronoq.worker.usage import ProcessUsage
from chronoq.workflows.advancer import Advancer

log = logging.getLogger("chronoq.worker")

INTAKE_PATIENCE = 3.0  # how long a loop that ends on stop may take to end by itself
REDIS_STEP = 5.0  # longest wait for one shutdown step needing Redis (1 s when it is down)


class WorkerShutdown:
    """`Worker`'s shutdown sequence (see the module docstring)."""

    app: App
    broker: Broker
    id: str
    order: QueueOrder
    state: str
    jobs_done: int
    shutdown_timeout: float
    _stop: asyncio.Event
    _force: asyncio.Event
    _ends_on_stop: list[asyncio.Task[None]]
    _runs: Runs
    _doorbell: Doorbell
    _contexts: RunContexts
    _events: JobEvents
    _advancer: Advancer
    _usage: ProcessUsage
    _publication: Publication
    _outages: Outages
    _writer: OutcomeWriter
    _leases: LeaseKeeper

    async def _shutdown(
        self,
        fetcher: asyncio.Task[None],
        listener: asyncio.Task[None],
        upkeep: list[asyncio.Task[None]],
    ) -> None:
        self.state = "stopping"
        self._stop.set()  # also after a burst: the scheduler loop and waits see it
        await self._end_intake(fetcher)
        await self._stop_listening(listener)
        await self._finish_running()
        await self._hand_back()
        await self._contexts.stop()
        await self._events.drain(self._redis_step())
        await self._advancer.drain(self._redis_step())
        if self._ends_on_stop:
            await asyncio.wait(self._ends_on_stop, timeout=INTAKE_PATIENCE)
        await cancel_and_wait([*upkeep, *self._ends_on_stop])
        for hook in self.app.on_shutdown:
            await hook(self.app)
        with contextlib.suppress(Exception):  # the counts since the last beat
            await asyncio.wait_for(self._usage.beat(), self._redis_step())
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.broker.unregister_worker(self.id), self._redis_step())
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._publication.withdraw(), self._redis_step())
        if self._outages.down:
            log.warning("chronoq worker %s stopped while Redis was unavailable", self.id)
        log.info("chronoq worker %s stopped after %d jobs", self.id, self.jobs_done)

    async def _end_intake(self, fetcher: asyncio.Task[None]) -> None:
        """Let the fetch loop see the stop and end after its round trip (cancelling
        a claim in flight would leave the jobs it leased waiting for their lease)."""
        self._runs.slot_free.set()
        self._doorbell.nudge()
        await asyncio.wait([fetcher], timeout=INTAKE_PATIENCE)
        await cancel_and_wait(fetcher)

    def _redis_step(self) -> float:
        return 1.0 if self._force.is_set() or self._outages.down else REDIS_STEP

    async def _finish_running(self) -> None:
        """Let running jobs finish within the shutdown timeout, or until forced."""
        await self._runs.finish(self.shutdown_timeout, self._force)

    async def _stop_listening(self, listener: asyncio.Task[None]) -> None:
        """Stop hand-offs first, then let the pending blocking read end by itself:
        cancelling it could drop a job it had just popped (that job would wait for its
        lease to expire)."""
        for queue in self.order.queues:
            with contextlib.suppress(Exception):
                returned = await asyncio.wait_for(
                    self.broker.retire(queue, self.id), self._redis_step()
                )
                if returned:
                    log.info("chronoq: returned %d handed-off job(s) to %r", returned, queue)
        await self._doorbell.stop(listener)

    async def _hand_back(self) -> None:
        """Return unfinished jobs to their queues: not lost, not counted as attempts."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._writer.drain(), self._redis_step())
        for queue, leases in self._leases.by_queue().items():
            with contextlib.suppress(Exception):
                count = await asyncio.wait_for(
                    self.broker.release(queue, leases), self._redis_step()
                )
                log.info("chronoq: handed %d unfinished job(s) back to %r", count, queue)
            for job_id, _ in leases:
                self._leases.drop(job_id)
