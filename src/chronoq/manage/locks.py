"""Locks and the processes behind chronoq, as operators see them:
`app.lock_admin()` lists held locks and force-releases one; `app.fleet()` reads
the workers and scheduler loops from their heartbeats."""

from __future__ import annotations

import builtins

from chronoq.manage.base import Opened, SyncFacade
from chronoq.redis.liveness import LoopBeat, WorkerInfo
from chronoq.redis.lock_registry import ForcedRelease, LockInfo, LockRegistry


class LockAdmin(Opened):
    @property
    def registry(self) -> LockRegistry:
        return self.client.backend.locks

    async def list(self, *, held_only: bool = False, scan: bool = False) -> builtins.list[LockInfo]:
        """Locks from the registry (free ones too unless `held_only`): holder digest,
        fencing token, lease left. `scan`: also held locks the registry missed (a
        SCAN of the lock key pattern: an occasional repair, costly on big keyspaces)."""
        return await self.registry.all(held_only=held_only, scan=scan)

    async def get(self, name: str) -> LockInfo:
        return await self.registry.get(name)

    async def force_release(self, name: str, *, fence: int | None = None) -> ForcedRelease:
        """Take the lock from its holder (an admin action): the next holder gets a
        higher fence, the former holder's renewal raises LockLost. With `fence`,
        only while it is still held at that fence."""
        return await self.registry.force_release(name, fence=fence)


class SyncLockAdmin(SyncFacade[LockAdmin]):
    """`with app.lock_admin() as locks:` the same operations, blocking."""

    def list(self, *, held_only: bool = False, scan: bool = False) -> builtins.list[LockInfo]:
        return self._run(self._async.list(held_only=held_only, scan=scan))

    def get(self, name: str) -> LockInfo:
        return self._run(self._async.get(name))

    def force_release(self, name: str, *, fence: int | None = None) -> ForcedRelease:
        return self._run(self._async.force_release(name, fence=fence))


class Fleet(Opened):
    """The live workers and the scheduler loops (alive, or dead within ten minutes)."""

    async def workers(self) -> builtins.list[WorkerInfo]:
        return [WorkerInfo.from_fields(info) for info in await self.client.inspector.workers()]

    async def schedulers(self) -> builtins.list[LoopBeat]:
        return await self.client.backend.scheduler_loops.read()


class SyncFleet(SyncFacade[Fleet]):
    """`with app.fleet() as fleet:` the same reads, blocking."""

    def workers(self) -> builtins.list[WorkerInfo]:
        return self._run(self._async.workers())

    def schedulers(self) -> builtins.list[LoopBeat]:
        return self._run(self._async.schedulers())
