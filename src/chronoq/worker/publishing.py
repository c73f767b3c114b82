"""A worker's (or `chronoq scheduler`'s) entry in the task registry.

Published at start, kept alive by the heartbeat, withdrawn on a graceful stop: so
clients without the app's code enqueue by name with the task's own options, and
schedulers know which apps are running (what tasks they define, which schedules
they declare).
"""

from __future__ import annotations

import os
import socket
import time

from chronoq.app import App
from chronoq.core.registry import PublishedTask
from chronoq.redis.registry import Publisher, RegistryStore


class Publication:
    def __init__(
        self, app: App, store: RegistryStore, publisher_id: str, *, kind: str, ttl: float
    ) -> None:
        self.store = store
        self.ttl = ttl
        self.definitions = [PublishedTask.of(task) for task in app.registry]
        self.entry = Publisher(
            id=publisher_id,
            app=app.name,
            host=socket.gethostname(),
            pid=os.getpid(),
            kind=kind,
            started=round(time.time(), 3),
            tasks={d.name: d.version for d in self.definitions},
            schedules=tuple(sorted(app.declared_schedules)),
        )

    async def publish(self) -> None:
        await self.store.publish(self.entry, self.definitions, ttl=self.ttl)

    async def keep_alive(self) -> None:
        """Refresh the entry; publish it again if it expired (a long pause, an outage)."""
        if not await self.store.refresh(self.entry.id, ttl=self.ttl):
            await self.publish()

    async def withdraw(self) -> None:
        await self.store.withdraw(self.entry.id)
