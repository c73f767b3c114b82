"""The scheduler loop as a worker runs it (every worker by default), or on its own.

Supervision: in a worker the loop runs under the worker's supervisor (restarted
with backoff when it fails unexpectedly; a `RedisUnusable` stops the worker).
`chronoq scheduler` runs `serve_scheduler`: the start-up check, then the loop; an
unexpected error ends the process non-zero. Temporary Redis faults are waited out
inside the loop either way, logged once per outage.
"""

from __future__ import annotations

import asyncio
import logging

from chronoq.app import App
from chronoq.redis.errors import server_label
from chronoq.redis.server_check import check_server
from chronoq.worker.resilience import Outages, Stopped, until_stopped
from chronoq.worker.scheduler import Scheduler

log = logging.getLogger("chronoq.scheduler")


async def run_scheduler(app: App, stop: asyncio.Event, *, outages: Outages | None = None) -> None:
    """Sync the app's declared schedules into Redis, then fire due runs until `stop`."""
    url = app.redis_url()
    outages = outages or Outages(server_label(url), logger=log)
    async with app.client() as client:
        listener = client.backend.blocking_client(30.0)
        try:
            if app.declared_schedules:
                store = client.backend.schedules
                actions = await outages.persist(
                    lambda: store.sync_declared(app.declared_schedules.values()),
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
            await scheduler.run(stop)
        except Stopped:
            return
        finally:
            await listener.aclose()


async def serve_scheduler(app: App, stop: asyncio.Event) -> None:
    """`chronoq scheduler`: check the server as a worker does, then run the loop."""
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
    log.info("chronoq scheduler running")
    await run_scheduler(app, stop, outages=outages)
