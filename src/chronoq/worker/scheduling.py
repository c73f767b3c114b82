"""The scheduler loop as a worker runs it (every worker by default), or on its own."""

from __future__ import annotations

import asyncio
import logging

from chronoq.app import App
from chronoq.worker.resilience import persist
from chronoq.worker.scheduler import Scheduler

log = logging.getLogger("chronoq.scheduler")


async def run_scheduler(app: App, stop: asyncio.Event) -> None:
    """Sync the app's declared schedules into Redis, then fire due runs until `stop`."""
    async with app.client() as client:
        listener = client.backend.blocking_client(30.0)
        try:
            if app.declared_schedules:
                store = client.backend.schedules
                actions = await persist(
                    lambda: store.sync_declared(app.declared_schedules.values()),
                    "storing declared schedules",
                )
                changed = {n: a for n, a in actions.items() if a != "unchanged"}
                if changed:
                    log.info("chronoq scheduler: declared schedules %s", changed)
            scheduler = Scheduler(
                client,
                listener=listener,
                on_error=app.on_schedule_error,
                idempotency_ttl=min(86400.0, app.settings.retention),
            )
            await scheduler.run(stop)
        finally:
            await listener.aclose()
