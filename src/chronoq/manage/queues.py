"""Queues managed from Python: `app.queue_admin()` pauses, resumes and drains.

```
with app.queue_admin() as queues:
    queues.pause("mail", reason="SMTP provider down")
    ...
    queues.resume("mail")
```
"""

from __future__ import annotations

from chronoq.core.job import JobStatus
from chronoq.manage.base import Opened, SyncFacade
from chronoq.redis.inspector import QueueCounts
from chronoq.redis.queue_control import DRAINED, DrainResult, QueueControl, QueuePause


class QueueAdmin(Opened):
    """Pause, resume and drain queues; their counts with the paused state."""

    @property
    def control(self) -> QueueControl:
        return self.client.backend.queue_control

    async def pause(self, queue: str, reason: str = "", *, by: str = "") -> QueuePause:
        """Workers claim none of `queue`'s jobs until `resume` (enqueues still queue
        them; running jobs finish; other queues are unaffected)."""
        pause, _ = await self.control.pause(queue, reason, by=by)
        return pause

    async def resume(self, queue: str) -> bool:
        """End the pause; a waiting worker claims at once. False if not paused."""
        return await self.control.resume(queue)

    async def drain(self, queue: str, *, reason: str = DRAINED) -> DrainResult:
        """Cancel every waiting job of `queue` (ready, scheduled, blocked): each ends
        `cancelled`, its error saying why, kept for the cancelled retention."""
        retention_ms = self.client.settings.retention_policy().age_ms(JobStatus.CANCELLED)
        return await self.control.drain(queue, retention_ms=retention_ms, reason=reason)

    async def paused(self) -> dict[str, QueuePause]:
        """The paused queues and their pauses."""
        names = await self.client.inspector.queues()
        return await self.control.paused(names)

    async def counts(self) -> list[QueueCounts]:
        """Every queue's counts, the paused state included (`QueueCounts.to_dict`)."""
        return await self.client.queues()


class SyncQueueAdmin(SyncFacade[QueueAdmin]):
    """`with app.queue_admin() as queues:` the same operations, blocking."""

    def pause(self, queue: str, reason: str = "", *, by: str = "") -> QueuePause:
        return self._run(self._async.pause(queue, reason, by=by))

    def resume(self, queue: str) -> bool:
        return self._run(self._async.resume(queue))

    def drain(self, queue: str, *, reason: str = DRAINED) -> DrainResult:
        return self._run(self._async.drain(queue, reason=reason))

    def paused(self) -> dict[str, QueuePause]:
        return self._run(self._async.paused())

    def counts(self) -> list[QueueCounts]:
        return self._run(self._async.counts())
