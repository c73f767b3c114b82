"""The worker process: one asyncio loop running many jobs at once.

Loops: fetch (claim jobs, or block on the queues' doorbell), outcome writer,
lease keeper, heartbeat. Shutdown stops fetching, lets running jobs finish within
the shutdown timeout, and hands the rest back to their queues.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from chronoq.app import App
from chronoq.control.limiter import Limiter
from chronoq.core.errors import ConfigurationError
from chronoq.core.ids import new_job_id, new_token
from chronoq.core.task import DEFAULT_MAX_RETRIES
from chronoq.redis.broker import ClaimedJob
from chronoq.redis.connection import check_server
from chronoq.worker.doorbell import Doorbell
from chronoq.worker.execution import Outcome, RunPlan, execute, plan
from chronoq.worker.leases import LeaseKeeper
from chronoq.worker.outcomes import OutcomeWriter
from chronoq.worker.queues import QueueOrder
from chronoq.worker.resilience import persist
from chronoq.worker.scheduling import run_scheduler
from chronoq.worker.throttle import Throttle

log = logging.getLogger("chronoq.worker")


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

    def queue_order(self) -> QueueOrder:
        if isinstance(self.queues, str):
            return QueueOrder.parse(self.queues)
        return QueueOrder(list(self.queues))


class Worker:
    def __init__(self, app: App, options: WorkerOptions | None = None) -> None:
        self.app = app
        self.options = options or WorkerOptions()
        if self.options.concurrency < 1:
            raise ConfigurationError("concurrency must be at least 1")
        if not 0 < self.options.idle_wait <= 2:
            raise ConfigurationError("idle_wait must be within (0, 2] seconds")
        self.order = self.options.queue_order()
        settings = app.settings
        self.lease = self.options.lease or settings.lease
        self.shutdown_timeout = (
            settings.shutdown_timeout
            if self.options.shutdown_timeout is None
            else self.options.shutdown_timeout
        )
        self.id = f"{socket.gethostname()}.{os.getpid()}.{new_job_id()[-6:]}"
        self.started_at = time.time()
        self.jobs_done = 0
        self._running: dict[str, asyncio.Task[None]] = {}
        self._slot_free = asyncio.Event()
        self._capacity = asyncio.Event()  # set while a slot is free
        self._capacity.set()
        self._stop = asyncio.Event()
        self._force = asyncio.Event()
        self._stop_requests = 0

    # -- control -----------------------------------------------------------

    def request_stop(self) -> None:
        """First call: graceful shutdown. Second call: stop waiting for running jobs."""
        self._stop_requests += 1
        self._stop.set()
        if self._stop_requests > 1:
            self._force.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop_requests > 0

    @property
    def running_count(self) -> int:
        return len(self._running)

    # -- lifecycle ---------------------------------------------------------

    async def run(self) -> None:
        self.backend = self.app.backend()
        self.broker = self.backend.broker
        # One blocking read on every queue, or on a Cluster one per queue (its slot).
        readers = len(self.order.queues) if self.backend.is_cluster else 1
        self._blocking = [
            self.backend.blocking_client(self.options.idle_wait) for _ in range(readers)
        ]
        self._threads = ThreadPoolExecutor(self.options.concurrency, "chronoq-task")
        try:
            await self._serve()
        finally:
            self._threads.shutdown(wait=False, cancel_futures=True)
            for client in self._blocking:
                await client.aclose()
            await self.backend.close()

    async def _serve(self) -> None:
        settings = self.app.settings
        await persist(
            lambda: check_server(self.broker.redis, strict=settings.strict_server),
            "checking the server",
        )
        self._build_parts()
        if self.app.declared_limits:
            await persist(
                lambda: self._limiter.store.sync_declared(self.app.declared_limits.values()),
                "storing declared limits",
            )
        for hook in self.app.on_startup:
            await hook(self.app)
        log.info("chronoq worker %s serving %s", self.id, ",".join(self.order.queues))
        loops = [
            self._writer.run(),
            self._leases.run(),
            self._heartbeat_loop(),
            self._throttle.run(),
        ]
        upkeep = [asyncio.create_task(c) for c in loops]
        scheduler = (
            asyncio.create_task(run_scheduler(self.app, self._stop))
            if self.options.scheduler
            else None
        )
        listener = asyncio.create_task(self._doorbell.listen())
        fetcher = asyncio.create_task(self._fetch_loop())
        stopper = asyncio.create_task(self._stop.wait())
        await asyncio.wait([fetcher, stopper], return_when=asyncio.FIRST_COMPLETED)
        await self._shutdown([fetcher, stopper], listener, upkeep, scheduler)

    def _build_parts(self) -> None:
        """The worker's collaborators, each owning one concern."""
        settings = self.app.settings
        self._leases = LeaseKeeper(
            self.broker,
            self.order.queues,
            lease=self.lease,
            default_max_retries=DEFAULT_MAX_RETRIES,
            on_lost=self._cancel_run,
        )
        self._writer = OutcomeWriter(
            self.broker,
            retention_ms=int(settings.retention * 1000),
            result_ttl_ms=int(settings.keep_result * 1000),
            on_written=self._written,
        )
        self._limiter = Limiter(self.backend.limits)
        self._throttle = Throttle(
            self._limiter, self.broker, start=self._launch, deferred=self._deferred
        )
        self._doorbell = Doorbell(
            self.broker,
            self._blocking,
            queues=self.order.queues,
            worker_id=self.id,
            block=self.options.idle_wait,
            capacity=self._capacity,
            on_handoff=self._start,
        )

    async def _shutdown(
        self,
        intake: list[asyncio.Task[Any]],
        listener: asyncio.Task[None],
        upkeep: list[asyncio.Task[None]],
        scheduler: asyncio.Task[None] | None,
    ) -> None:
        for task in intake:
            task.cancel()
        await asyncio.gather(*intake, return_exceptions=True)
        await self._stop_listening(listener)
        await self._finish_running()
        await self._hand_back()
        if scheduler is not None:
            await self._stop_scheduler(scheduler)
        for task in upkeep:
            task.cancel()
        await asyncio.gather(*upkeep, return_exceptions=True)
        for hook in self.app.on_shutdown:
            await hook(self.app)
        with contextlib.suppress(Exception):
            await self.broker.unregister_worker(self.id)
        log.info("chronoq worker %s stopped after %d jobs", self.id, self.jobs_done)

    async def _stop_scheduler(self, scheduler: asyncio.Task[None]) -> None:
        """Let the scheduler loop end by itself on the stop event (set here too: a
        burst run ends without it) rather than cancel it at once: cancelled while it
        closes its clients, it would leave their connections open (a Cluster client
        holds one to each node it read the slot map from)."""
        self._stop.set()
        await asyncio.wait([scheduler], timeout=5)
        scheduler.cancel()
        await asyncio.gather(scheduler, return_exceptions=True)

    async def _finish_running(self) -> None:
        """Let running jobs finish within the shutdown timeout, or until forced."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.shutdown_timeout
        forced = asyncio.create_task(self._force.wait())
        while self._running and not forced.done() and loop.time() < deadline:
            await asyncio.wait(
                [*self._running.values(), forced],
                timeout=deadline - loop.time(),
                return_when=asyncio.FIRST_COMPLETED,
            )
        forced.cancel()
        leftover = list(self._running.values())
        for task in leftover:
            task.cancel()
        await asyncio.gather(*leftover, return_exceptions=True)

    async def _stop_listening(self, listener: asyncio.Task[None]) -> None:
        """Stop hand-offs first, then let the pending blocking read end by itself:
        cancelling it could drop a job it had just popped (that job would wait for its
        lease to expire)."""
        for queue in self.order.queues:
            with contextlib.suppress(Exception):
                returned = await asyncio.wait_for(self.broker.retire(queue, self.id), 5)
                if returned:
                    log.info("chronoq: returned %d handed-off job(s) to %r", returned, queue)
        await self._doorbell.stop(listener)

    async def _hand_back(self) -> None:
        """Return unfinished jobs to their queues: not lost, not counted as attempts."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._writer.drain(), 5 if not self._force.is_set() else 1)
        for queue, leases in self._leases.by_queue().items():
            with contextlib.suppress(Exception):
                count = await asyncio.wait_for(self.broker.release(queue, leases), 5)
                log.info("chronoq: handed %d unfinished job(s) back to %r", count, queue)
            for job_id, _ in leases:
                self._leases.drop(job_id)

    # -- fetching ----------------------------------------------------------

    async def _fetch_loop(self) -> None:
        while not self._stop.is_set():
            free = self.options.concurrency - len(self._running) - self._throttle.holding
            if free <= 0:
                await self._slot_free.wait()
                self._slot_free.clear()
                continue
            claimed, next_due_ms = await persist(lambda f=free: self._claim(f), "claiming jobs")  # type: ignore[misc]
            if claimed:
                continue
            idle = not self._running and not self._throttle.holding
            if self.options.burst and idle and next_due_ms is None:
                return
            wait = self.options.idle_wait
            if next_due_ms is not None:
                wait = min(wait, next_due_ms / 1000)
            await self._doorbell.wait(wait)

    async def _claim(self, free: int) -> tuple[int, int | None]:
        token = new_token()
        claimed, next_due = 0, None
        retention_ms = int(self.app.settings.retention * 1000)
        for queue in self.order.round():
            claim = await self.broker.claim(
                queue,
                min(free - claimed, self.options.batch),
                lease_ms=int(self.lease * 1000),
                token=token,
                worker_id=self.id,
                retention_ms=retention_ms,
                register_idle=not self.options.burst,
            )
            for job in claim.jobs:
                self._start(job)
            claimed += len(claim.jobs)
            if claim.next_due_ms is not None and (next_due is None or claim.next_due_ms < next_due):
                next_due = claim.next_due_ms
            if claimed >= free:
                break
        return claimed, next_due

    # -- running -----------------------------------------------------------

    def _start(self, job: ClaimedJob) -> None:
        self._leases.hold(job.id, job.queue, job.token)
        run = plan(job, self.app.registry)
        if isinstance(run, Outcome):
            log.error("chronoq: job %s cannot run: %s", job.id, run.error)
            self._writer.add(run)
            return
        if run.limits:
            self._throttle.submit(job, run)  # starts it once its limits allow
        else:
            self._launch(job, run)
        if len(self._running) + self._throttle.holding >= self.options.concurrency:
            self._capacity.clear()

    def _launch(self, job: ClaimedJob, run: RunPlan) -> None:
        stale = self._running.get(job.id)
        if stale is not None:
            # This worker stalled past the job's lease, the lease was recovered and the
            # job claimed again (here): the earlier run is no longer the job's owner.
            log.warning("chronoq: job %s claimed again; stopping its earlier run", job.id)
            stale.cancel()
        self._running[job.id] = asyncio.create_task(self._run(job, run))

    async def _run(self, job: ClaimedJob, run: RunPlan) -> None:
        try:
            outcome = await execute(job, run, self._threads)
        finally:
            if self._running.get(job.id) is asyncio.current_task():
                del self._running[job.id]
            self._slot_free.set()
            self._capacity.set()
        if outcome.deferred is not None:
            self._throttle.submit(job, run, retry_after=outcome.deferred)
        else:
            self._writer.add(outcome)

    def _deferred(self, job: ClaimedJob) -> None:
        """A limit deferred the job: it waits in Redis now, no longer ours."""
        self._leases.drop(job.id)
        self._slot_free.set()
        self._capacity.set()

    def _cancel_run(self, job_id: str) -> None:
        task = self._running.get(job_id)
        if task is not None:
            task.cancel()

    def _written(self, outcome: Outcome) -> None:
        self._leases.drop(outcome.job.id)
        self.jobs_done += 1

    # -- heartbeat ---------------------------------------------------------

    async def _heartbeat_loop(self) -> None:
        interval = self.options.heartbeat
        while True:
            with contextlib.suppress(Exception):
                await self.broker.heartbeat(self.id, self._describe(), ttl=interval * 5)
            await asyncio.sleep(interval)

    def _describe(self) -> dict[str, str | int | float]:
        return {
            "id": self.id,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "queues": ",".join(self.order.queues),
            "concurrency": self.options.concurrency,
            "started_at": round(self.started_at, 3),
            "jobs_done": self.jobs_done,
            "jobs_running": len(self._running),
            "last_seen": round(time.time(), 3),
        }
