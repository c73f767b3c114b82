"""The scheduler loop: enqueue every due run exactly once, however many loops run.

Each run has a deterministic idempotency key, `sched:<name>:<due ms>`, claimed
atomically by the enqueue script in the job's queue: two loops that fire the same
run make one job. The schedule then advances by compare-and-set on its due time,
so a loop that crashed between enqueue and advance leaves the run to the next
loop, which finds the job already made. Enqueue before advance: a crash can
delay a run, never lose or double it.

The loop sleeps until the next due time (read from Redis with the server's clock)
or until a change is published; it does not poll.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from chronoq.client import Client, EnqueuedJob, JobRequest
from chronoq.core.errors import ChronoqError, JobNotFound, UnknownTask
from chronoq.core.job import from_millis, to_millis
from chronoq.core.ops import OpsBatch
from chronoq.redis.cancel import cancel_and_wait
from chronoq.redis.channels import follow
from chronoq.redis.connector import AsyncRedis
from chronoq.redis.errors import REDIS_FAULTS, Fault, RedisUnusable, classify
from chronoq.redis.schedules import Advance, DueSchedule, LastRun
from chronoq.schedule.model import Overlap, ScheduleDef
from chronoq.schedule.runs import HISTORY_CAP, RunKind, RunRecord, missed_record

log = logging.getLogger("chronoq.scheduler")

ErrorHandler = Callable[[str, BaseException], Awaitable[None] | None]
BATCH = 200
IDLE_SLEEP = 60.0  # longest sleep with nothing due (changes wake the loop sooner)
EARLY_WAKE = 0.002  # the timer's margin, spent yielding until the due time
HELD_RECHECK = 0.5  # how often a run held behind an unfinished one (overlap=queue) looks again
MISSING_RECHECK = 5.0  # how often a schedule whose task no running app defines looks again
FIRING = "firing schedules"
MAX_KEPT_COUNTS = 10_000  # schedule counts kept while their writes fail (then dropped)


class FaultLog(Protocol):
    """Where temporary Redis faults go instead of one error line per retry (the
    worker's `Outages`: one warning per outage)."""

    server: str

    def failed(self, what: str, exc: BaseException) -> None: ...

    def succeeded(self, what: str) -> None: ...


@dataclass(frozen=True, slots=True)
class _Firing:
    item: DueSchedule
    runs: list[datetime]
    first: int  # index of its first request in the batch
    skip: bool  # overlap=skip and the previous run is unfinished
    missed: list[datetime]  # due runs the misfire policy dropped (recorded as missed)


class Scheduler:
    def __init__(
        self,
        client: Client,
        *,
        listener: AsyncRedis,
        on_error: ErrorHandler | None = None,
        idempotency_ttl: float = 86400.0,
        faults: FaultLog | None = None,
    ) -> None:
        self.client = client
        self._faults = faults
        self.store = client.backend.schedules
        self.store_ops = client.backend.ops
        self._listener = listener
        self._on_error = on_error
        self._ttl = idempotency_ttl
        self._changed = asyncio.Event()
        self._ready: list[DueSchedule] = []  # read as due next; fired on waking
        self._firing: list[str] = []  # names whose runs are being enqueued, for reports
        self._missing: set[str] = set()  # reported: no running app defines their task
        self.fired = 0  # runs this loop enqueued (for tests and metrics)
        self._ops = OpsBatch()  # counts not yet written (kept across a failed write)
        self.ticked_at: float | None = None  # wall clock of the last look at due runs

    async def run(self, stop: asyncio.Event) -> None:
        """Fire due runs until `stop` is set. Raises `RedisUnusable` on a permanent
        Redis fault (a password, a permission): retrying cannot help."""
        watcher = asyncio.create_task(self._watch_changes())
        failures = 0
        try:
            while not stop.is_set():
                try:
                    wait = await self.tick()
                    self.ticked_at = time.time()
                    failures = 0
                    if self._faults is not None:
                        self._faults.succeeded(FIRING)
                except Exception as exc:
                    if not isinstance(exc, (*REDIS_FAULTS, ChronoqError)):
                        raise
                    self._unless_permanent(exc)
                    failures += 1
                    self._ready = []
                    await self._failed(exc)
                    wait = min(5.0, 0.05 * 2**failures)
                if not await self._sleep(wait, stop):
                    self._ready = []  # woken by a change: what was read may be stale
        finally:
            await cancel_and_wait(watcher)

    def _unless_permanent(self, exc: BaseException) -> None:
        if classify(exc) is Fault.PERMANENT:
            server = self._faults.server if self._faults is not None else None
            raise RedisUnusable.from_error(exc, server) from exc

    async def _failed(self, exc: BaseException) -> None:
        """Tell the handler, by schedule name, whose runs could not be enqueued (a
        failed read names no run: it is logged only)."""
        names, self._firing = self._firing, []
        if self._faults is not None and classify(exc) is Fault.TEMPORARY:
            self._faults.failed(FIRING, exc)  # logged once per outage
            for name in names:
                await self._call_handler(name, exc)
        elif names:
            for name in names:
                await self._report(name, exc)
        else:
            log.error("chronoq scheduler: reading due schedules failed: %s", exc)

    async def tick(self) -> float:
        """Fire what is due; return seconds until the next due run.

        Runs read on the previous tick as due next (`_ready`) fire first, without
        reading again: the enqueue is the first round trip after waking. Their
        idempotency keys and the compare-and-set advance keep that safe when another
        loop fired them already.
        """
        if self._ready:
            ready, self._ready = self._ready, []
            due = from_millis(max(item.due_ms for item in ready))
            assert due is not None
            await self._fire(ready, due)
        batch = await self.store.due(BATCH)
        received = asyncio.get_running_loop().time()
        for name, reason in batch.broken:
            await self._report(name, ChronoqError(f"stored schedule {name!r} is invalid: {reason}"))
            await self.store.disable_broken(name)
        now = from_millis(batch.now_ms)
        assert now is not None
        recheck = await self._fire(batch.items, now)
        if batch.items and recheck is None:
            return 0.0  # read again: the fired schedules have new due times
        if batch.next_due_ms is None:
            return recheck or IDLE_SLEEP
        self._ready = [] if recheck else batch.upcoming
        # The server read its clock somewhere within the round trip; assuming the end
        # of it errs late, never early: a run must not start before it is due.
        wait = batch.next_due_ms / 1000 - batch.now - (asyncio.get_running_loop().time() - received)
        wait = max(0.0, wait)
        return min(wait, recheck) if recheck else wait

    async def _fire(self, items: list[DueSchedule], now: datetime) -> float | None:
        """Enqueue the runs of every due schedule, then advance them. Returns when to
        look again at schedules left due: a run held behind an unfinished previous
        one, or a schedule whose task no running app defines (None: nothing left)."""
        items, missing = await self._defined(items)
        requests: list[JobRequest] = []
        firings: list[_Firing] = []
        held = False
        for item in items:
            due = from_millis(item.due_ms)
            assert due is not None
            runs, missed = item.definition.fire_plan(due, now)
            blocked = await self._previous_unfinished(item) if runs else False
            if blocked and item.definition.overlap is Overlap.QUEUE:
                held = True
                continue
            if item.definition.overlap is Overlap.QUEUE:
                runs = runs[:1]  # one at a time: the next waits for this one
            skip = blocked and item.definition.overlap is Overlap.SKIP
            firings.append(_Firing(item, runs, len(requests), skip, missed))
            if not skip:
                requests += [self._request(item.definition, run) for run in runs]
        self._firing = [f.item.definition.name for f in firings if f.runs and not f.skip]
        sent_ms = int(time.time() * 1000)
        made = await self.client.enqueue_many(requests) if requests else []
        advances = [self._advance(f, made, now) for f in firings]
        moved = await self.store.advance(advances)
        self._firing = []
        self._missing -= {f.item.definition.name for f in firings}
        self.fired += sum(1 for job in made if job.created)
        self._count(firings, made, moved, sent_ms)
        await self._write_counts()
        if held or missing:
            return HELD_RECHECK if held else MISSING_RECHECK
        return None

    def _count(
        self, firings: list[_Firing], made: list[EnqueuedJob], moved: list[bool], sent_ms: int
    ) -> None:
        """The tick's runs fired, missed and skipped per schedule, and each fired run's
        lateness from its due time to its enqueue. Once however many loops fire a run:
        a fired run counts where its job was made, a missed or skipped one where the
        advance won."""
        ops = self._ops
        for f, won in zip(firings, moved, strict=True):
            name = f.item.definition.name
            if won:
                ops.count("sched", name, "missed", sent_ms, len(f.missed))
            if f.skip:
                ops.count("sched", name, "skipped", sent_ms, len(f.runs) if won else 0)
                continue
            for run, job in zip(f.runs, made[f.first : f.first + len(f.runs)], strict=True):
                if job.created:
                    ops.count("sched", name, "fired", sent_ms)
                    ops.observe_late(name, sent_ms, sent_ms - to_millis(run))

    async def _write_counts(self) -> None:
        """One round trip per tick that counted something. A failed write keeps the
        counts for the next tick (bounded), and never fails the tick: the runs were
        fired and advanced already."""
        if not self._ops:
            return
        batch, self._ops = self._ops, OpsBatch()
        try:
            await self.store_ops.write(batch)
        except REDIS_FAULTS as exc:
            if len(batch.values) < MAX_KEPT_COUNTS:
                self._ops = batch  # written with the next tick's
            log.warning("chronoq scheduler: schedule metrics not written yet: %s", exc)

    async def _defined(self, items: list[DueSchedule]) -> tuple[list[DueSchedule], bool]:
        """The due schedules whose task this app or a running app defines. The others
        are not fired (their jobs would die as "unknown task") but stay due, so that
        when the task's app runs again their missed runs follow the misfire policy;
        each is reported once until it fires again."""
        registry = self.client.registry
        foreign = {i.definition.task for i in items if registry.find(i.definition.task) is None}
        if not foreign:
            return items, False
        live = await self.client.backend.registry.live_tasks()
        kept = [i for i in items if i.definition.task not in foreign - live]
        for item in items:
            name, task = item.definition.name, item.definition.task
            if task in foreign - live and name not in self._missing:
                self._missing.add(name)
                await self._report_missing(name, task)
        return kept, len(kept) < len(items)

    async def _report_missing(self, name: str, task: str) -> None:
        error = UnknownTask(
            f"schedule {name!r} not fired: no running app defines its task {task!r} "
            f"(it stays due; looked at again every {MISSING_RECHECK:g} s)"
        )
        log.warning("chronoq scheduler: %s", error)
        await self._call_handler(name, error)

    def _request(self, d: ScheduleDef, run: datetime) -> JobRequest:
        jitter = d.jitter_for(run)
        return JobRequest(
            d.task,
            d.args,
            d.kwargs,
            queue=d.queue,
            priority=d.priority,
            max_retries=d.max_retries,
            timeout=d.timeout,
            at=run + timedelta(seconds=jitter) if jitter else None,
            deadline=d.deadline_for(run),
            idempotency_key=f"sched:{d.name}:{to_millis(run)}",
            idempotency_ttl=max(self._ttl, d.grace * 2),
            schedule=d.name,
            schedule_due=run,
        )

    def _advance(self, firing: _Firing, made: list[EnqueuedJob], now: datetime) -> Advance:
        item, runs = firing.item, firing.runs
        d = item.definition
        if d.overlap is Overlap.QUEUE and runs:
            after = runs[-1]  # later pending runs stay due, each behind the one before
        else:
            after = max(runs[-1], now) if runs else now
        next_due = d.next_run_after(after, item.runs + len(runs))
        last = item.last
        records = [r for r in [missed_record(now, firing.missed)] if r is not None]
        if runs:
            if firing.skip and item.last is not None:  # still watch the unfinished run
                last = LastRun(runs[-1], item.last.job_id, item.last.queue, skipped=True)
                records += [RunRecord(RunKind.SKIPPED, now, run) for run in runs[-HISTORY_CAP:]]
            else:
                mine = made[firing.first : firing.first + len(runs)]
                job = mine[-1] if mine else None
                last = LastRun(runs[-1], job.id if job else None, job.queue if job else None)
                records += [
                    RunRecord(RunKind.ENQUEUED, now, run, made_job.id, made_job.queue)
                    for run, made_job in list(zip(runs, mine, strict=False))[-HISTORY_CAP:]
                ]
        return Advance(d.name, item.due_ms, next_due, len(runs), last, tuple(records))

    async def _previous_unfinished(self, item: DueSchedule) -> bool:
        if item.definition.overlap is Overlap.ALLOW or item.last is None:
            return False
        if item.last.job_id is None or item.last.queue is None:
            return False
        try:
            job = await self.client.inspector.get_job(item.last.job_id, item.last.queue)
        except JobNotFound:
            return False
        return not job.status.is_finished

    # -- waiting -----------------------------------------------------------

    async def _sleep(self, seconds: float, stop: asyncio.Event) -> bool:
        """Sleep `seconds`, or less if a change is published or `stop` is set;
        True when the full time passed.

        The event loop's timers fire up to a millisecond or two late (epoll rounds
        its timeout up to whole milliseconds), so the timer is set a little early
        and the last stretch is spent yielding to other tasks until the deadline.
        """
        if seconds <= 0:
            return not self._changed.is_set()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        self._changed.clear()
        wake = asyncio.Event()
        timer = loop.call_at(deadline - EARLY_WAKE, wake.set)
        waiters = [asyncio.create_task(e.wait()) for e in (self._changed, stop, wake)]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
            for waiter in waiters:
                waiter.cancel()
        # A deliberate yield loop of under EARLY_WAKE seconds: timers are too coarse.
        while loop.time() < deadline and not (self._changed.is_set() or stop.is_set()):  # noqa: ASYNC110
            await asyncio.sleep(0)
        return not (self._changed.is_set() or stop.is_set())

    async def _watch_changes(self) -> None:
        """Wake the loop on every published change; after a (re)subscribe, re-read."""

        def refused(exc: BaseException) -> None:
            log.warning(
                "chronoq scheduler: cannot subscribe to schedule changes (%s); "
                "changes are seen within %g s instead",
                exc,
                IDLE_SLEEP,
            )

        await follow(
            self._listener,
            self.store.keys.channel,
            lambda _: self._changed.set(),
            on_subscribed=self._changed.set,  # anything may have changed meanwhile
            on_refused=refused,
        )

    async def _report(self, name: str, exc: BaseException) -> None:
        log.error("chronoq scheduler: schedule %s: %s", name, exc)
        await self._call_handler(name, exc)

    async def _call_handler(self, name: str, exc: BaseException) -> None:
        if self._on_error is None:
            return
        try:
            outcome = self._on_error(name, exc)
            if outcome is not None:
                await outcome
        except Exception:
            log.exception("chronoq scheduler: the error handler failed")
