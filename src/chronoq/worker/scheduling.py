"""The scheduler loop as a worker runs it (every worker by default), or on its own.

Supervision: in a worker the loop runs under the worker's supervisor (restarted
with backoff when it fails unexpectedly; a `RedisUnusable` stops the worker).
`chronoq scheduler` runs `serve_scheduler`: the start-up check, then the loop; an
unexpected error ends the process non-zero. Temporary Redis faults are waited out
inside the loop either way, logged once per outage.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time

from chronoq.app import App
from chronoq.core.alerts import INTERVAL as ALERT_INTERVAL
from chronoq.core.ids import new_job_id
from chronoq.redis.cancel import cancel_and_wait
from chronoq.redis.errors import server_label
from chronoq.redis.liveness import CLOCK_FIELD, SchedulerLoops
from chronoq.redis.registry import RegistryStore
from chronoq.redis.schedules import ScheduleStore
from chronoq.redis.server_check import check_server
from chronoq.worker.alerting import run_alerts
from chronoq.worker.heartbeat import BEATS_TO_EXPIRY
from chronoq.worker.publishing import Publication
from chronoq.worker.resilience import Outages, Stopped, until_stopped
from chronoq.worker.scheduler import Scheduler
from chronoq.worker.supervisor import Restart, Supervisor
from chronoq.workflows.engine import Workflows
from chronoq.workflows.sweep import Sweeper

log = logging.getLogger("chronoq.scheduler")
RETIRE_EVERY = 30.0  # seconds between looks for declared schedules no running app declares
HEARTBEAT = 2.0  # `chronoq scheduler`'s registry heartbeat (its entry lives 5 of them)


async def run_scheduler(
    app: App,
    stop: asyncio.Event,
    *,
    outages: Outages | None = None,
    heartbeat: float = HEARTBEAT,
) -> None:
    """Sync the app's declared schedules into Redis, then fire due runs until `stop`,
    beating every `heartbeat` seconds (`chronoq health` reads the beats)."""
    url = app.redis_url()
    outages = outages or Outages(server_label(url), logger=log)
    async with app.client() as client:
        listener = client.backend.blocking_client(30.0)
        try:
            store = client.backend.schedules
            if app.declared_schedules:
                actions = await outages.persist(
                    lambda: store.sync_declared(app.declared_schedules.values(), app=app.name),
                    "storing declared schedules",
                    stop=stop,
                )
                changed = {n: a for n, a in actions.items() if a != "unchanged"}
                if changed:
                    log.info("chronoq scheduler: declared schedules %s", changed)
            scheduler = Scheduler(
                client,
                listener=listener,
                on_error=app.on_schedule_error,
                idempotency_ttl=min(86400.0, app.settings.retention),
                faults=outages,
            )
            retiring = asyncio.create_task(
                _retire_loop(app, store, client.backend.registry, outages, stop)
            )
            beats = LoopHeartbeat(app, scheduler, client.backend.scheduler_loops, heartbeat)
            beating = asyncio.create_task(beats.run(outages))
            sweeping = None
            if app.settings.workflow_sweep > 0:  # workflows are looked after here too
                sweeper = Sweeper(Workflows(client), interval=app.settings.workflow_sweep)
                sweeping = asyncio.create_task(sweeper.run(stop))
            try:
                await scheduler.run(stop)
            finally:
                if sweeping is not None:
                    await cancel_and_wait(sweeping)
                await cancel_and_wait(beating)
                await cancel_and_wait(retiring)
                await beats.withdraw()
        except Stopped:
            return
        finally:
            await listener.aclose()


class LoopHeartbeat:
    """A scheduler loop's heartbeat: its description, refreshed every `interval`,
    gone after five missed beats; withdrawn when the loop ends in this process (a
    stop, a failure the supervisor restarts: a new loop beats under a new id). Only
    a process that dies leaves its entry to expire, and `chronoq health` sees it."""

    def __init__(
        self, app: App, scheduler: Scheduler, loops: SchedulerLoops, interval: float
    ) -> None:
        self.id = f"{socket.gethostname()}.{os.getpid()}.{new_job_id()[-6:]}"
        self._app = app
        self._scheduler = scheduler
        self._loops = loops
        self._interval = interval
        self._started = time.time()

    def describe(self) -> dict[str, str | int | float]:
        ticked = self._scheduler.ticked_at
        return {
            "id": self.id,
            "app": self._app.name,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started_at": round(self._started, 3),
            "ticked_at": "" if ticked is None else round(ticked, 3),
            "fired": self._scheduler.fired,
            CLOCK_FIELD: round(time.time(), 3),
        }

    async def run(self, outages: Outages) -> None:
        ttl = self._interval * BEATS_TO_EXPIRY
        while True:
            await outages.attempt(
                lambda: self._loops.beat(self.id, self.describe(), ttl), "sending heartbeats"
            )
            await asyncio.sleep(self._interval)

    async def withdraw(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._loops.withdraw(self.id), 2.0)


async def retire_undeclared(app: App, store: ScheduleStore, registry: RegistryStore) -> list[str]:
    """Remove the schedules stored from `app`'s code that neither this app nor any
    running process of it declares any more (a deploy dropped them). Runtime-added
    schedules, and declared ones an operator changed since, are never retired.

    The stored declarations are read before the live ones: a process publishes its
    entry before it stores its schedules, so one starting meanwhile is seen."""
    stored = await store.declared_by(app.name)
    if not stored:
        return []
    declared = set(app.declared_schedules)
    for publisher in await registry.live():
        if publisher.app == app.name:
            declared |= set(publisher.schedules)
    retired = [n for n, meta in stored.items() if n not in declared and await store.retire(n, meta)]
    if retired:
        log.info("chronoq scheduler: retired schedules no longer declared: %s", sorted(retired))
    return retired


async def _retire_loop(
    app: App, store: ScheduleStore, registry: RegistryStore, outages: Outages, stop: asyncio.Event
) -> None:
    while not stop.is_set():
        await outages.attempt(
            lambda: retire_undeclared(app, store, registry), "retiring undeclared schedules"
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), RETIRE_EVERY)


async def serve_scheduler(
    app: App, stop: asyncio.Event, *, alert_interval: float = ALERT_INTERVAL
) -> None:
    """`chronoq scheduler`: check the server as a worker does, then run the loop, and
    evaluate the alert rules every `alert_interval` seconds beside it."""
    url = app.redis_url()
    outages = Outages(server_label(url), logger=log)
    async with app.client() as client:
        try:
            await until_stopped(
                outages.persist(
                    lambda: check_server(client.broker.redis, strict=app.settings.strict_server),
                    "checking the server",
                    stop=stop,
                ),
                stop,
            )
        except Stopped:
            log.info("chronoq scheduler stopped before it started")
            return
        publication = Publication(
            app,
            client.backend.registry,
            f"{socket.gethostname()}.{os.getpid()}.{new_job_id()[-6:]}",
            kind="scheduler",
            ttl=HEARTBEAT * 5,
        )
        try:
            await until_stopped(
                outages.persist(publication.publish, "publishing the app's tasks", stop=stop),
                stop,
            )
        except Stopped:
            return
        heartbeat = asyncio.create_task(_keep_alive(publication, outages))
        supervisor = Supervisor(on_fatal=lambda name, exc: stop.set())
        alerts = lambda: run_alerts(app, client.backend, stop, alert_interval)  # noqa: E731
        alerting = supervisor.start("alerts", alerts, restart=Restart())
        try:
            log.info("chronoq scheduler running")
            await run_scheduler(app, stop, outages=outages)
        finally:
            await cancel_and_wait(alerting)
            await cancel_and_wait(heartbeat)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(publication.withdraw(), 2.0)


async def _keep_alive(publication: Publication, outages: Outages) -> None:
    while True:
        await asyncio.sleep(HEARTBEAT)
        await outages.attempt(publication.keep_alive, "sending heartbeats")
