"""The runner: claims bulk operations and works through them, in any process that
serves the API (or `chronoq operations run`).

A runner leases an operation (renewed every third of the lease; another runner
takes it over once a killed one's lease runs out), captures its frozen set the
first time (the ids the filter matches among jobs dead by the time it was
created, written per queue), then calls the per-queue batch script until every
part is through. Each call acts on a batch and advances that part's cursor in one
step, so a runner killed anywhere leaves no job acted on twice and none skipped,
and two runners on one operation (a paused one waking after a takeover) cannot
double up either: the cursor is read in the script, not sent by the runner.

Cancel is checked between batches (the batch script sees the part's cancelled
mark). A dry run goes through the same scripts, which then count and change
nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import replace

from chronoq.bulk.capture import CaptureRefused, capture
from chronoq.core.access import AuditEntry
from chronoq.core.errors import ConfigurationError
from chronoq.core.ids import new_token
from chronoq.core.operations import Operation, OperationState
from chronoq.redis.backend import Backend
from chronoq.redis.connector import AsyncRedis
from chronoq.redis.errors import REDIS_FAULTS, Fault, classify, describe
from chronoq.redis.operations import Claimed, OperationStore

log = logging.getLogger("chronoq.bulk")

BATCH_SIZE = 500
LEASE = 10.0  # seconds; a killed runner's operation is taken over after this long
IDLE_WAIT = 5.0  # longest wait for the doorbell before looking for expired leases
RETRY_PAUSE = 1.0  # after a connection problem


class LeaseLost(Exception):
    """The runner no longer holds the operation (cancelled, or taken over)."""


class _Lease:
    """A held operation's lease as the runner knows it: lost when a renewal says
    so, or when the local clock passes the end of the last renewed lease."""

    def __init__(self, clock: Callable[[], float], seconds: float) -> None:
        self.clock = clock
        self.seconds = seconds
        self.lost = asyncio.Event()
        self.deadline = clock() + seconds

    def renewed(self, asked_at: float) -> None:
        self.deadline = asked_at + self.seconds

    def check(self) -> None:
        if self.lost.is_set() or self.clock() >= self.deadline:
            raise LeaseLost


class OperationRunner:
    """`await OperationRunner(backend).run(stop)` serves until `stop` is set;
    `run_next()` runs one operation (or the one named) to its end."""

    def __init__(
        self,
        backend: Backend,
        *,
        batch_size: int = BATCH_SIZE,
        lease: float = LEASE,
        idle_wait: float = IDLE_WAIT,
        pause: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 1 <= batch_size <= 10_000:
            raise ConfigurationError(f"batch size must be 1..10000, got {batch_size}")
        if not lease >= 0.1:
            raise ConfigurationError(f"operation lease must be at least 0.1 s, got {lease}")
        self.backend = backend
        self.store: OperationStore = backend.operations
        self.batch_size = batch_size
        self.lease = lease
        self.idle_wait = min(idle_wait, lease)
        if not 0 <= pause < lease / 3:
            raise ConfigurationError(
                f"pause between batches must be within 0..lease/3, got {pause}"
            )
        self.pause = pause  # seconds between batches: gentler on a busy Redis
        self.clock = clock

    @property
    def lease_ms(self) -> int:
        return int(self.lease * 1000)

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Run operations as they come until `stop` is set."""
        stop = stop or asyncio.Event()
        blocking = self.backend.blocking_client(self.idle_wait + 5)
        try:
            while not stop.is_set():
                try:
                    ran = await self.run_next()
                    if ran is None:
                        await self._idle(blocking, stop)
                except REDIS_FAULTS as exc:
                    if classify(exc) is Fault.PERMANENT:
                        raise
                    log.warning("operations runner: %s; trying again", describe(exc))
                    await _sleep_or_stop(stop, RETRY_PAUSE)
        finally:
            await blocking.aclose()

    async def _idle(self, blocking: AsyncRedis, stop: asyncio.Event) -> None:
        """Wait for the doorbell (a new operation) or, at the latest, for a killed
        runner's lease to run out; return early when stopped."""
        waiting = asyncio.ensure_future(self.store.wait(blocking, self.idle_wait))
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({waiting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (waiting, stopping):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, *REDIS_FAULTS):
                    await task

    async def run_next(self, operation_id: str = "") -> str | None:
        """Claim one operation (the one named, if its lease is free) and run it to its
        end, or until it is cancelled or taken over. Returns its id, or None when
        there was none to claim."""
        token = new_token()
        claimed = await self.store.claim(token, self.lease_ms, operation_id)
        if claimed is None:
            return None
        await self._hold(claimed, token)
        return claimed.operation_id

    async def _hold(self, claimed: Claimed, token: str) -> None:
        lease = _Lease(self.clock, self.lease)
        renewing = asyncio.create_task(self._renew(claimed.operation_id, token, lease))
        try:
            await self._work(claimed, token, lease)
        except (LeaseLost, CaptureRefused):
            log.info("operation %s: no longer ours (cancelled or taken over)", claimed.operation_id)
        except REDIS_FAULTS as exc:
            if classify(exc) is not Fault.OTHER:
                raise  # connection trouble: the lease runs out, someone resumes it
            log.error("operation %s failed: %s", claimed.operation_id, describe(exc))
            await self.store.finish(
                claimed.operation_id, token, OperationState.FAILED, error=describe(exc)
            )
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing

    async def _renew(self, operation_id: str, token: str, lease: _Lease) -> None:
        """Renew every third of the lease. The lease is also tracked on the local
        clock from before each renewal: a runner paused past it knows it lost it."""
        while True:
            await asyncio.sleep(self.lease / 3)
            started = self.clock()
            try:
                held = await self.store.renew(operation_id, token, self.lease_ms)
            except REDIS_FAULTS as exc:
                log.warning("operation %s: renewal failed: %s", operation_id, describe(exc))
                continue
            if not held:
                lease.lost.set()
                return
            lease.renewed(started)

    async def _work(self, claimed: Claimed, token: str, lease: _Lease) -> None:
        op = await self.store.get(claimed.operation_id)
        if op is None:
            raise LeaseLost
        part = claimed.capture
        if not part:
            op = await capture(self.backend, op, token, lease.check)
            part = token
        for queue in op.queues:
            while True:
                lease.check()
                result = await self.store.batch(queue, op.id, part, op.spec, self.batch_size)
                if result.state == "cancelled":
                    raise LeaseLost
                if result.state == "missing":
                    error = f"its set of jobs in queue {queue!r} is gone (expired or deleted)"
                    await self.store.finish(op.id, token, OperationState.FAILED, error=error)
                    return
                if result.state == "done":
                    break
                if self.pause:
                    await asyncio.sleep(self.pause)
        processed, counts = await self.store.progress(op.id, part, op.queues)
        finished = await self.store.finish(
            op.id, token, OperationState.DONE, processed=processed, counts=counts
        )
        if finished:
            await self.store.drop_parts(op.id, part, op.queues)
            log.info("operation %s done: %s", op.id, counts)
            done = replace(op, processed=processed, counts=counts)
            await self.backend.access.record(audit_entry(done, "operations.done"))


def audit_entry(op: Operation, action: str, actor: str = "") -> AuditEntry:
    """The audit log's entry for an operation (who, what, filter, count), written by
    the library for every surface (API, dashboard, CLI), so none records it twice."""
    detail = {"kind": op.kind.value, "dry_run": op.spec.dry_run, "state": op.state.value,
              "counts": op.counts}  # fmt: skip
    return AuditEntry(actor or op.spec.actor or "python", action, target=op.id,
                      filter=op.spec.filter_text, count=op.processed, detail=detail)  # fmt: skip


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
