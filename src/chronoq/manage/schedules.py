"""Schedules managed from Python: `app.schedules()`."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from chronoq.client import EnqueuedJob, JobRequest
from chronoq.core.errors import ConfigurationError
from chronoq.core.job import require_aware, to_millis
from chronoq.manage.base import Opened, SyncFacade, TaskName, task_name
from chronoq.manage.schedule_models import BACKFILL_TTL, Backfill, BackfilledRun, RunView
from chronoq.redis.schedules import ScheduleInfo, ScheduleStore
from chronoq.schedule.model import DEFAULT_GRACE, Misfire, Overlap, ScheduleDef
from chronoq.schedule.runs import RunKind, RunRecord
from chronoq.schedule.timeline import (
    Calendar,
    PlannedRun,
    SpecCheck,
    calendar,
    check_spec,
    plan_runs,
    runs_between,
)


class Schedules(Opened):
    """The schedules stored in Redis (declared in code, or added at runtime)."""

    @property
    def store(self) -> ScheduleStore:
        return self.client.backend.schedules

    async def add(
        self,
        name: str | ScheduleDef,
        spec: str | None = None,
        task: TaskName = None,
        *,
        args: Sequence[Any] = (),
        kwargs: dict[str, Any] | None = None,
        tz: str | None = None,
        queue: str | None = None,
        priority: int | None = None,
        max_retries: int | None = None,
        timeout: float | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        max_runs: int | None = None,
        jitter: float = 0.0,
        misfire: Misfire | str = Misfire.ONCE,
        grace: float = DEFAULT_GRACE,
        overlap: Overlap | str = Overlap.ALLOW,
        deadline: float | None = None,
        replace: bool = False,
    ) -> ScheduleInfo:
        """Add a schedule at runtime (kept when the app's code changes), from its
        parts as `app.schedule` takes them, or a whole `ScheduleDef`. Raises
        ScheduleExists unless `replace`."""
        if isinstance(name, ScheduleDef):
            if spec is not None or task is not None:
                raise ConfigurationError("give a ScheduleDef alone, or a name, spec and task")
            return await self.store.add(name, replace=replace)
        if spec is None or task is None:
            raise ConfigurationError(f"schedule {name!r} needs a spec and a task")
        definition = ScheduleDef(
            name=name,
            task=task_name(task),
            spec=spec,
            tz=tz or self.timezone,
            args=list(args),
            kwargs=dict(kwargs or {}),
            queue=queue,
            priority=priority,
            max_retries=max_retries,
            timeout=timeout,
            start=start,
            end=end,
            max_runs=max_runs,
            jitter=jitter,
            misfire=Misfire(misfire),
            grace=grace,
            overlap=Overlap(overlap),
            deadline=deadline,
        )
        return await self.store.add(definition, replace=replace)

    async def update(self, name: str, **changes: Any) -> ScheduleInfo:
        """Change fields (spec, tz, args, paused, ...); the next run is recomputed."""
        return await self.store.update(name, **changes)

    async def pause(
        self, name: str, reason: str | None = None, *, by: str | None = None
    ) -> ScheduleInfo:
        """Stop firing until resumed; `reason` (and `by`) are stored and shown."""
        return await self.store.pause(name, reason, by=by)

    async def resume(
        self, name: str, reason: str | None = None, *, by: str | None = None
    ) -> ScheduleInfo:
        """Fire again from the next run after now; the reason goes to the history."""
        return await self.store.resume(name, reason, by=by)

    async def remove(self, name: str) -> bool:
        """Remove a schedule; False if there was none. Jobs it enqueued stay."""
        return await self.store.remove(name)

    async def get(self, name: str) -> ScheduleInfo:
        """One schedule with its next and last run (ScheduleNotFound if none)."""
        return await self.store.get(name)

    async def list(self) -> builtins.list[ScheduleInfo]:
        return await self.store.all()

    async def next_runs(
        self, name: str, count: int = 5, *, after: datetime | None = None
    ) -> builtins.list[datetime]:
        """The next `count` run times after `after` (default: the server's now)."""
        info = await self.store.get(name)
        moment = after or await self.store.server_now()
        times: list[datetime] = []
        while len(times) < count:
            following = info.definition.next_run_after(moment, info.runs + len(times))
            if following is None:
                break
            times.append(following)
            moment = following
        return times

    async def trigger(self, name: str, *, by: str | None = None) -> EnqueuedJob:
        """Enqueue one run now; the regular runs are unchanged."""
        d = (await self.store.get(name)).definition
        request = JobRequest(d.task, d.args, d.kwargs, queue=d.queue, priority=d.priority,
                             max_retries=d.max_retries, timeout=d.timeout,
                             schedule=d.name)  # fmt: skip
        job = await self.client.submit(request)
        now = await self.store.server_now()
        record = RunRecord(RunKind.TRIGGERED, now, now, job.id, job.queue, by=by)
        await self.store.record(name, [record])
        return job

    async def planned(
        self, name: str, count: int = 5, *, after: datetime | None = None
    ) -> builtins.list[PlannedRun]:
        """The next `count` runs, each marked when the zone's UTC offset changed since
        the run before (a daylight-saving change: wall-clock time skipped or repeated)."""
        info = await self.store.get(name)
        moment = after or await self.store.server_now()
        return plan_runs(info.definition, moment, count, runs_so_far=info.runs)

    async def history(self, name: str, limit: int = 50) -> builtins.list[RunView]:
        """What happened to its runs, newest first: enqueued (with the job's state
        now), skipped, missed, triggered, backfilled, paused, resumed."""
        await self.store.get(name)  # ScheduleNotFound for an unknown name
        records = await self.store.history(name, limit)
        jobs = [(r.queue, r.job_id) for r in records if r.queue and r.job_id]
        statuses = await self._statuses(jobs)
        return [RunView(r, statuses.get((r.queue or "", r.job_id or ""))) for r in records]

    async def _statuses(self, jobs: builtins.list[tuple[str, str]]) -> dict[tuple[str, str], str]:
        found = {}
        for queue in {q for q, _ in jobs}:
            ids = [i for q, i in jobs if q == queue]
            for job in await self.client.inspector.get_jobs(queue, ids):
                found[(queue, job.id)] = job.status.value
        return found

    async def backfill(
        self,
        name: str,
        start: datetime,
        end: datetime,
        *,
        by: str | None = None,
        force: bool = False,
    ) -> Backfill:
        """Enqueue the runs that would have happened in [start, end] (end at most
        now). Idempotent per run time: a run time enqueued before (by the scheduler
        within a day, or by a backfill within BACKFILL_TTL) is not enqueued again."""
        d, times, until, now = await self._range(name, start, end)
        requests = [self._run_request(d, due, force) for due in times]
        made = await self.client.enqueue_many(requests) if requests else []
        runs = [BackfilledRun(due, job.id, job.queue, job.created)
                for due, job in zip(times, made, strict=True)]  # fmt: skip
        result = Backfill(d.name, start, until, runs)
        if runs:
            record = RunRecord(RunKind.BACKFILLED, now, times[0], count=result.enqueued,
                               until=times[-1], by=by)  # fmt: skip
            await self.store.record(name, [record])
        return result

    async def backfill_times(
        self, name: str, start: datetime, end: datetime
    ) -> builtins.list[datetime]:
        """The dry run of `backfill(name, start, end)`: the run times it would
        enqueue (end at most now), enqueuing nothing. A run time enqueued before is
        listed too: the backfill would find it and not enqueue it again."""
        return (await self._range(name, start, end))[1]

    async def _range(
        self, name: str, start: datetime, end: datetime
    ) -> tuple[ScheduleDef, builtins.list[datetime], datetime, datetime]:
        """(definition, run times in [start, min(end, now)], that end, now)."""
        info = await self.store.get(name)
        now = await self.store.server_now()
        require_aware(start, "backfill start")
        require_aware(end, "backfill end")
        if end < start:
            raise ConfigurationError(
                f"a backfill range ends ({end.isoformat()}) before it starts ({start.isoformat()})"
            )
        until = min(end, now)
        times = runs_between(info.definition, start, until) if until >= start else []
        return info.definition, times, until, now

    @staticmethod
    def _run_request(d: ScheduleDef, due: datetime, force: bool = False) -> JobRequest:
        """The job of the run due at `due`, keyed as the scheduler keys it."""
        jitter = d.jitter_for(due)
        return JobRequest(
            d.task, d.args, d.kwargs, queue=d.queue, priority=d.priority,
            max_retries=d.max_retries, timeout=d.timeout,
            at=due + timedelta(seconds=jitter) if jitter else None,
            idempotency_key=f"sched:{d.name}:{to_millis(due)}",
            idempotency_ttl=BACKFILL_TTL, schedule=d.name, schedule_due=due, force=force,
        )  # fmt: skip

    async def calendar(
        self, days: int = 7, *, tz: str | None = None, now: datetime | None = None
    ) -> Calendar:
        """Runs per day per schedule for the next `days` days (local days of `tz`,
        default the app's zone), for a calendar view."""
        infos = await self.store.all()
        moment = now or await self.store.server_now()
        pairs = [(i.definition, i.runs) for i in infos]
        return calendar(pairs, moment, days=days, tz=tz or self.timezone)

    async def validate(
        self, spec: str, tz: str | None = None, *, count: int = 5, now: datetime | None = None
    ) -> SpecCheck:
        """Check a spec and zone without storing anything: ok and the next `count`
        runs, or the field at fault ("spec" or "tz") and why."""
        moment = now or await self.store.server_now()
        return check_spec(spec, tz or self.timezone, moment, count=count)


class SyncSchedules(SyncFacade[Schedules]):
    """`with app.schedules() as schedules:` the same operations, blocking."""

    def add(
        self,
        name: str | ScheduleDef,
        spec: str | None = None,
        task: TaskName = None,
        **options: Any,
    ) -> ScheduleInfo:
        """See `Schedules.add` for the options."""
        return self._run(self._async.add(name, spec, task, **options))

    def update(self, name: str, **changes: Any) -> ScheduleInfo:
        return self._run(self._async.update(name, **changes))

    def pause(self, name: str, reason: str | None = None, *, by: str | None = None) -> ScheduleInfo:
        return self._run(self._async.pause(name, reason, by=by))

    def resume(
        self, name: str, reason: str | None = None, *, by: str | None = None
    ) -> ScheduleInfo:
        return self._run(self._async.resume(name, reason, by=by))

    def remove(self, name: str) -> bool:
        return self._run(self._async.remove(name))

    def get(self, name: str) -> ScheduleInfo:
        return self._run(self._async.get(name))

    def list(self) -> builtins.list[ScheduleInfo]:
        return self._run(self._async.list())

    def next_runs(
        self, name: str, count: int = 5, *, after: datetime | None = None
    ) -> builtins.list[datetime]:
        return self._run(self._async.next_runs(name, count, after=after))

    def trigger(self, name: str, *, by: str | None = None) -> EnqueuedJob:
        return self._run(self._async.trigger(name, by=by))

    def planned(
        self, name: str, count: int = 5, *, after: datetime | None = None
    ) -> builtins.list[PlannedRun]:
        return self._run(self._async.planned(name, count, after=after))

    def history(self, name: str, limit: int = 50) -> builtins.list[RunView]:
        return self._run(self._async.history(name, limit))

    def backfill(
        self,
        name: str,
        start: datetime,
        end: datetime,
        *,
        by: str | None = None,
        force: bool = False,
    ) -> Backfill:
        return self._run(self._async.backfill(name, start, end, by=by, force=force))

    def backfill_times(self, name: str, start: datetime, end: datetime) -> builtins.list[datetime]:
        return self._run(self._async.backfill_times(name, start, end))

    def calendar(
        self, days: int = 7, *, tz: str | None = None, now: datetime | None = None
    ) -> Calendar:
        return self._run(self._async.calendar(days, tz=tz, now=now))

    def validate(
        self, spec: str, tz: str | None = None, *, count: int = 5, now: datetime | None = None
    ) -> SpecCheck:
        return self._run(self._async.validate(spec, tz, count=count, now=now))
