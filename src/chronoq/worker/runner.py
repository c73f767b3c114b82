"""The worker process: one asyncio loop running many jobs at once.

Loops, each run by a `Supervisor` so that none dies silently:

- fetch (claim jobs, or wait on the doorbell) and the doorbell listener (hand-offs
  and wake-ups): the intake. An unexpected error in either is fatal: the worker
  shuts down gracefully (leaves its queues so no more jobs are handed to it, lets
  running jobs finish and records them, hands back the rest) and `run()` raises
  `WorkerFailed`, so the process exits non-zero for its supervisor to restart. A
  worker that cannot take work must not stay registered as idle.
- outcome writer, lease keeper, heartbeat, throttle (rate limits), scheduler: the
  upkeep. An unexpected error is logged with its traceback and the loop restarts
  with backoff; after five failures in a row the worker shuts down as above.
- A permanent Redis fault in any loop or at start-up (`RedisUnusable`: a refused
  password, a denied command, a TLS certificate) stops the worker at once:
  outcomes could not be recorded, so running jobs are not waited for. `run()`
  raises it, one line naming the server and the cause.

Temporary Redis faults never reach the supervisor: every loop waits them out
through the worker's `Outages`, logged once per outage. A stop request (SIGTERM)
ends waits for Redis too: a worker reconnecting forever still stops at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor

from chronoq.app import App
from chronoq.control.limiter import Limiter
from chronoq.core.claims import ClaimedJob
from chronoq.core.errors import ConfigurationError
from chronoq.core.ids import new_job_id, new_token
from chronoq.core.job import JobStatus, workflow_of
from chronoq.core.task import DEFAULT_MAX_RETRIES
from chronoq.redis.channels import READ_TIMEOUT
from chronoq.redis.errors import RedisUnusable, server_label
from chronoq.redis.server_check import check_server
from chronoq.worker.alerting import run_alerts
from chronoq.worker.cancels import CancelListener
from chronoq.worker.context import RunContexts
from chronoq.worker.doorbell import Doorbell
from chronoq.worker.events import JobEvents
from chronoq.worker.execution import Outcome, RunPlan, execute, plan
from chronoq.worker.heartbeat import Description, Heartbeat
from chronoq.worker.leases import LeaseKeeper
from chronoq.worker.options import WorkerOptions
from chronoq.worker.outcomes import OutcomeWriter
from chronoq.worker.publishing import Publication
from chronoq.worker.recycling import Recycling, resident_memory
from chronoq.worker.resilience import Outages, Stopped, until_stopped
from chronoq.worker.runs import Run, Runs
from chronoq.worker.scheduling import run_scheduler
from chronoq.worker.shutdown import WorkerShutdown
from chronoq.worker.supervisor import Restart, Supervisor, loop_failure
from chronoq.worker.throttle import Throttle
from chronoq.worker.trimming import Trimmer
from chronoq.worker.usage import ProcessUsage
from chronoq.workflows.advancer import Advancer
from chronoq.workflows.engine import Workflows
from chronoq.workflows.sweep import Sweeper

log = logging.getLogger("chronoq.worker")

UPKEEP = Restart()
TASK_THREADS = "chronoq-task"  # the names of the threads sync tasks run in
CLAIM_FINISHES = (JobStatus.EXPIRED, JobStatus.SKIPPED, JobStatus.CANCELLED)  # a claim ends these
# A delayed job is claimed this long before its due time and held until then: the
# claim's round trip is over when it falls due (claim.lua ARGV[9]). More than a
# claim takes over a slow network and a late timer; short enough that a job seen
# "running" a moment before its due time starts at its due time.
EARLY_CLAIM_MS = 10


class Worker(WorkerShutdown):
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
        self._handoff_places: dict[str, int] = {}  # per queue, as the last claim registered
        self._stop = asyncio.Event()
        self._force = asyncio.Event()
        self.recycling = Recycling(
            self.id,
            max_jobs=self.options.max_jobs,
            max_memory=self.options.max_memory,
            stop=self._stop.set,  # like SIGTERM, and a signal then is still the first
        )
        self._stop_requests = 0
        self._failure: BaseException | None = None
        self._ends_on_stop: list[asyncio.Task[None]] = []
        self.state = "starting"  # then "serving", "stopping", "stopped"
        self._contexts = RunContexts(self._write_progress)

    # -- control -----------------------------------------------------------

    def request_stop(self) -> None:
        """First call: graceful shutdown. Second call: stop waiting for running jobs."""
        self._stop_requests += 1
        self._stop.set()
        if self._stop_requests > 1:
            self._force.set()

    def request_cancel(self, job_id: str) -> bool:
        """Ask the job's run here to stop: the task sees `current_job().cancelled`
        (`raise_if_cancelled()` raises JobCancelled); after the cancel grace the run
        is cancelled outright, and the job ends `cancelled`. False when no run of
        that job is going in this worker. (`Client.cancel` reaches whichever worker
        runs the job.)"""
        if "_runs" not in vars(self):  # not started yet: it runs nothing
            return False
        return self._runs.cancel(job_id)

    async def _write_progress(
        self, queue: str, job_id: str, token: str, fraction: float, message: str
    ) -> bool:
        return await self.broker.progress(queue, job_id, token, fraction, message)

    @property
    def stop_requested(self) -> bool:
        return self._stop_requests > 0

    @property
    def running_count(self) -> int:
        return len(self._runs)

    # -- lifecycle ---------------------------------------------------------

    async def run(self) -> None:
        """Serve until stopped (a signal, `request_stop`, or the end of a burst).

        Raises `RedisUnusable` on a permanent Redis fault, `ServerUnsafe` when the
        strict start-up check refuses the server, and `WorkerFailed` when a loop
        failed (after shutting down).
        """
        self.backend = self.app.backend()
        self.broker = self.backend.broker
        # One blocking read on every queue, or on a Cluster one per queue (its slot).
        readers = len(self.order.queues) if self.backend.is_cluster else 1
        self._blocking = [
            self.backend.blocking_client(self.options.idle_wait) for _ in range(readers)
        ]
        self._cancels = self.backend.blocking_client(READ_TIMEOUT)
        self._outages = Outages(server_label(self.backend.connector.url))
        self._threads = ThreadPoolExecutor(self.options.concurrency, TASK_THREADS)
        try:
            await self._serve()
        finally:
            self.state = "stopped"
            self._threads.shutdown(wait=False, cancel_futures=True)
            for client in [*self._blocking, self._cancels]:
                await client.aclose()
            if hasattr(self, "_workflows"):  # built by _serve
                await self._workflows.close()
            await self.backend.close()
        if self._failure is not None:
            raise self._failure

    async def _serve(self) -> None:
        self._build_parts()
        try:
            await until_stopped(self._prepare(), self._stop)
        except Stopped:
            log.info("chronoq worker %s stopped before it started", self.id)
            return
        for hook in self.app.on_startup:
            await hook(self.app)
        log.info("chronoq worker %s serving %s", self.id, ",".join(self.order.queues))
        self.state = "serving"
        supervisor = Supervisor(on_fatal=self._loop_failed)
        upkeep = [
            supervisor.start("outcome writer", self._writer.run, restart=UPKEEP),
            supervisor.start("lease keeper", self._leases.run, restart=UPKEEP),
            supervisor.start("heartbeat", self._heartbeat.run, restart=UPKEEP),
            supervisor.start("rate limit", self._throttle.run, restart=UPKEEP),
            supervisor.start("trimmer", self._trimmer.run, restart=UPKEEP),
            supervisor.start("cancel listener", self._cancel_listener.run, restart=UPKEEP),
        ]
        if self.options.alerts:
            upkeep.append(supervisor.start("alerts", self._alert_loop, restart=UPKEEP))
        if self.app.settings.workflow_sweep > 0:
            upkeep.append(supervisor.start("workflow sweep", self._sweep_workflows, restart=UPKEEP))
        if self.options.scheduler:  # ends by itself on stop: its clean-up is its own
            self._ends_on_stop.append(
                supervisor.start("scheduler", self._scheduler_loop, restart=UPKEEP)
            )
        listener = supervisor.start("doorbell listener", self._doorbell.listen, restart=None)
        fetcher = supervisor.start("fetch", self._fetch_loop, restart=None)
        stopper = asyncio.create_task(self._stop.wait())
        await asyncio.wait([fetcher, stopper], return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        await self._shutdown(fetcher, listener, upkeep)

    async def _prepare(self) -> None:
        """The start-up work that needs Redis: waits out outages, ends on stop."""
        settings = self.app.settings
        await self._outages.persist(
            lambda: check_server(self.broker.redis, strict=settings.strict_server),
            "checking the server",
            stop=self._stop,
        )
        if self.app.declared_limits:
            await self._outages.persist(
                lambda: self._limiter.store.sync_declared(self.app.declared_limits.values()),
                "storing declared limits",
                stop=self._stop,
            )
        await self._outages.persist(
            self._publication.publish, "publishing the app's tasks", stop=self._stop
        )

    def _loop_failed(self, name: str, exc: BaseException) -> None:
        """A loop failed for good: record why and shut down (at once if Redis is
        unusable: running jobs' outcomes could not be recorded anyway)."""
        if self._failure is None:
            self._failure = loop_failure(name, exc)
        log.error("chronoq worker %s shutting down: the %s loop failed", self.id, name)
        self._stop.set()
        if isinstance(exc, RedisUnusable):
            self._force.set()

    async def _alert_loop(self) -> None:
        await run_alerts(self.app, self.backend, self._stop, self.options.alert_interval)

    async def _sweep_workflows(self) -> None:
        await self._sweeper.run(self._stop)

    async def _scheduler_loop(self) -> None:
        await run_scheduler(
            self.app, self._stop, outages=self._outages, heartbeat=self.options.heartbeat
        )

    def _build_parts(self) -> None:
        """The worker's collaborators, each owning one concern."""
        settings = self.app.settings
        self._events = JobEvents(self.app.hooks, self._threads)
        self._runs = Runs(
            self.options.concurrency,
            contexts=self._contexts,
            events=self._events,
            execute=self._execute,
            done=self._run_done,
            held=lambda: self._throttle.holding,
            cancel_grace=settings.cancel_grace,
            on_idle=self._runs_idle,
        )
        self._leases = LeaseKeeper(
            self.broker,
            self.order.queues,
            lease=self.lease,
            default_max_retries=DEFAULT_MAX_RETRIES,
            on_lost=self._runs.lost,
            on_cancel=self._cancel_requested,
            outages=self._outages,
        )
        policy = settings.retention_policy()
        self._trimmer = Trimmer(self.broker, self.order.queues, policy, outages=self._outages)
        succeeded_ms = policy.age_ms(JobStatus.SUCCEEDED)
        self._writer = OutcomeWriter(
            self.broker,
            retention_ms=succeeded_ms,
            # A result is read through its record: one outliving it would only leak.
            result_ttl_ms=min(int(settings.keep_result * 1000), succeeded_ms),
            on_written=self._written,
            outages=self._outages,
            classifier=self.app.error_classes,
            cancelled_retention_ms=policy.age_ms(JobStatus.CANCELLED),
            rollups=self.backend.rollups if settings.metrics else None,
        )
        self._limiter = Limiter(self.backend.limits)
        self._publication = Publication(
            self.app,
            self.backend.registry,
            self.id,
            kind="worker",
            ttl=self.options.heartbeat * 5,
        )
        self._cancel_listener = CancelListener(
            self._cancels, self.backend.keys.cancel_channel, self._cancel_requested, self.id
        )
        self._usage = ProcessUsage(self.backend.ops, self.order.queues, enabled=settings.metrics)
        self._heartbeat = Heartbeat(
            self.broker,
            self.id,
            interval=self.options.heartbeat,
            describe=self._describe,
            also=self._beat_writes,
            outages=self._outages,
            on_beat=self.recycling.check_memory,
        )
        self._throttle = Throttle(
            self._limiter,
            self.broker,
            start=self._launch,
            deferred=self._deferred,
            outages=self._outages,
            decided=self._usage.limit_decided,
        )
        self._workflows = Workflows(self.app.client())
        self._advancer = Advancer(self._workflows)
        self._sweeper = Sweeper(self._workflows, interval=settings.workflow_sweep)
        self._doorbell = Doorbell(
            self.broker,
            self._blocking,
            queues=self.order.queues,
            worker_id=self.id,
            block=self.options.idle_wait,
            capacity=self._runs.capacity,
            on_handoff=self._handed_off,
            outages=self._outages,
        )

    # -- fetching ----------------------------------------------------------

    async def _fetch_loop(self) -> None:
        runs = self._runs
        while not self._stop.is_set():
            if runs.free() <= 0:
                await runs.slot_free.wait()
                runs.slot_free.clear()
                continue
            loop = asyncio.get_running_loop()
            sent = loop.time()
            claimed, next_due_ms = await self._outages.persist(
                lambda: self._claim(runs.free()), "claiming jobs", stop=self._stop
            )
            if claimed:
                # The jobs' tasks take their first step before the next claim is
                # packed and sent (a delayed job starts one send sooner).
                await asyncio.sleep(0)
                continue
            idle = not runs and not self._throttle.holding
            if self.options.burst and idle and next_due_ms is None:
                return
            wait = self.options.idle_wait
            if next_due_ms is not None:
                # Counted from the claim's sending (when the script measured the time
                # left). A job due later than EARLY_CLAIM_MS is claimed that long ahead
                # and held here until due; one due sooner was not taken ahead (a gate,
                # say): it is claimed when due.
                lead = EARLY_CLAIM_MS if next_due_ms > EARLY_CLAIM_MS else 0
                wait = min(wait, max(0.0, sent + (next_due_ms - lead) / 1000 - loop.time()))
            await self._doorbell.wait(wait)

    async def _claim(self, free: int) -> tuple[int, int | None]:
        if free <= 0:  # a retry after jobs arrived by hand-off meanwhile
            return 0, None
        token = new_token()
        claimed, next_due = 0, None
        # What the claim may finish: expired, skipped, cancelled (their records' TTL).
        retention_ms = self.app.settings.retention_policy().record_ttl_ms(*CLAIM_FINISHES)
        # One queue: the registration may take every free slot, so a run of hand-offs
        # needs no claim in between. Several: one place per queue (each queue could
        # otherwise hand over all of them at once).
        single = len(self.order.queues) == 1
        loop = asyncio.get_running_loop()
        for queue in self.order.round():
            claim = await self.broker.claim(
                queue,
                min(free - claimed, self.options.batch),
                lease_ms=int(self.lease * 1000),
                token=token,
                worker_id=self.id,
                retention_ms=retention_ms,
                register_idle=not self.options.burst,
                free_slots=free - claimed if single else 1,
                ahead_ms=EARLY_CLAIM_MS,
            )
            replied = loop.time()  # the script ran before: a hold counted from now never ends early
            self._handoff_places[queue] = claim.registered
            for expired in claim.expired:
                self._events.expired(queue, expired)
                self._writer.count(queue, expired.task, "expired", claim.server_ms)
            for job in claim.jobs:
                # > 0: taken ahead of its due time (counted from the server's µs clock)
                ahead = (job.started_ms or 0) - (claim.server_clock_ms or claim.server_ms)
                self._start(job, replied + ahead / 1000 if ahead > 0 else None)
            claimed += len(claim.jobs)
            if claim.next_due_ms is not None and (next_due is None or claim.next_due_ms < next_due):
                next_due = claim.next_due_ms
            if claimed >= free:
                break
        self._doorbell.registered(any(n > 0 for n in self._handoff_places.values()))
        return claimed, next_due

    # -- running -----------------------------------------------------------

    def _handed_off(self, job: ClaimedJob) -> bool:
        """Start a job enqueue handed straight over. True when the registration it
        used is spent: the worker claims again, which registers it anew."""
        self._start(job)
        places = self._handoff_places.get(job.queue, 0) - 1
        self._handoff_places[job.queue] = places
        return places <= 0

    def _start(self, job: ClaimedJob, start_at: float | None = None) -> None:
        """Run a claimed job now, or at `start_at` (loop time: a job claimed ahead of
        its due time); it holds its slot and its lease from now."""
        self._leases.hold(job.id, job.queue, job.token)
        run = plan(job, self.app.registry)
        if isinstance(run, Outcome):  # dead at once, the reason stated (logged at ERROR)
            self._events.finished(run, None, None)
            self._writer.add(run)
            return
        if run.limits and start_at is not None:  # asks its limits when due
            self._throttle.submit_at(job, run, start_at)
        elif run.limits:
            self._throttle.submit(job, run)  # starts it once its limits allow
        else:
            self._runs.launch(job, run, start_at)
        self._runs.taken()

    def _launch(self, job: ClaimedJob, run: RunPlan) -> None:
        """The throttle let a held job start."""
        self._runs.launch(job, run)

    def _execute(self, job: ClaimedJob, run: RunPlan) -> Awaitable[Outcome]:
        max_bytes = self.app.settings.max_payload_bytes
        return execute(job, run, self._threads, max_result_bytes=max_bytes)

    def _run_done(self, run: Run, outcome: Outcome) -> None:
        self._leases.settling(run.job.id)
        if outcome.deferred is not None:
            self._throttle.submit(run.job, run.plan, retry_after=outcome.deferred)
        else:
            self._writer.add(outcome)

    def _runs_idle(self) -> None:
        if self.options.burst:
            self._doorbell.nudge()  # the queues may be empty now: look at once

    def _deferred(self, job: ClaimedJob) -> None:
        """A limit deferred the job: it waits in Redis now, no longer ours."""
        self._writer.count(job.queue, job.task, "throttled")
        self._leases.drop(job.id)
        self._runs.freed()

    def _cancel_requested(self, job_id: str) -> None:
        """A cancel was asked for (published, or seen by the lease renewal): the run
        here, if any, stops."""
        self._runs.cancel(job_id)

    def _written(self, outcome: Outcome) -> None:
        job = outcome.job
        self._leases.drop(job.id)
        self.jobs_done += 1
        self.recycling.job_recorded()
        # A workflow step that ended moves its workflow on; a plain job (options None,
        # or without the marker) costs this test only.
        if job.options is not None and (outcome.succeeded or outcome.retry_in is None):
            marker = workflow_of(job.options)
            if marker is not None:
                self._advancer.step_ended(marker, job.id)

    # -- heartbeat ---------------------------------------------------------

    async def _beat_writes(self) -> None:
        """What rides the heartbeat: the registry's liveness, the operations counts."""
        await self._publication.keep_alive()
        await self._usage.beat()

    def _describe(self) -> Description:
        return {
            "id": self.id,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "queues": ",".join(self.order.queues),
            "concurrency": self.options.concurrency,
            "started_at": round(self.started_at, 3),
            "jobs_done": self.jobs_done,
            "jobs_running": len(self._runs),
            "last_seen": round(time.time(), 3),
            "rss": resident_memory() or "",  # bytes (the worker_memory alert rule)
        }
