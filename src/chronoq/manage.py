"""Schedules, rate limits and quotas managed from Python: what the CLI does, as an API.

`app.schedules()`, `app.limits()` and `app.quotas()` each return a handle that opens
either way, so async and sync code get the same operations:

```
async with app.schedules() as schedules:          # async code
    await schedules.add("digest", "0 8 * * *", send_digest, tz="Europe/Paris")

with app.limits() as limits:                      # sync code (scripts, web views)
    limits.set("linkedin", "30/h", windows={"mon-fri 09:00-17:00": "10/h"})
```

Every change applies at once on every worker and scheduler (they watch for it).
The sync side runs the async one on an event loop of its own, in a daemon thread,
so it works from any thread, a plain `def` task included.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable, Coroutine, Iterable, Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar

from chronoq.client import Client, EnqueuedJob, JobRequest
from chronoq.core.alerts import DEFAULT_RULES, AlertRule, Channel, Silence, merge_rules
from chronoq.core.errors import ConfigurationError, LimitNotFound
from chronoq.core.limits import Kind, Limit, LimitChanges, WindowsSpec, quota, rate_limit
from chronoq.loop_thread import LoopThread
from chronoq.redis.alerts import AlertState, AlertStore
from chronoq.redis.limits import KeyUsage, LimitStore
from chronoq.redis.schedules import ScheduleInfo, ScheduleStore
from chronoq.schedule.model import DEFAULT_GRACE, Misfire, Overlap, ScheduleDef

A = TypeVar("A", bound="_Opened")
S = TypeVar("S")
T = TypeVar("T")
TaskName = Any  # a Task object (what @app.task returns) or its name


def task_name(task: TaskName) -> str:
    name = task if isinstance(task, str) else getattr(task, "name", None)
    if not isinstance(name, str) or not name:
        raise ConfigurationError(f"expected a task or a task name, got {task!r}")
    return name


class _Opened:
    """An async manager over one client (and its connections)."""

    def __init__(self, client: Client, timezone: str) -> None:
        self.client = client
        self.timezone = timezone

    async def close(self) -> None:
        await self.client.close()


class Handle(Generic[A, S]):
    """What `app.schedules()`/`limits()`/`quotas()` return: `async with` it for the
    async manager, `with` it for the sync one. Each opening has connections of its
    own, closed on exit."""

    def __init__(
        self,
        client_factory: Callable[[], Client],
        timezone: str,
        make_async: Callable[[Client, str], A],
        make_sync: Callable[[A, LoopThread], S],
    ) -> None:
        self._client_factory = client_factory
        self._timezone = timezone
        self._make_async = make_async
        self._make_sync = make_sync
        self._opened: A | None = None
        self._thread: LoopThread | None = None

    async def __aenter__(self) -> A:
        self._opened = self._make_async(self._client_factory(), self._timezone)
        return self._opened

    async def __aexit__(self, *_: object) -> None:
        if self._opened is not None:
            await self._opened.close()
            self._opened = None

    def __enter__(self) -> S:
        thread = LoopThread("chronoq-manage")
        self._thread = thread
        try:
            self._opened = thread.run(self._open_async())
        except BaseException:
            thread.stop()
            raise
        return self._make_sync(self._opened, thread)

    def __exit__(self, *_: object) -> None:
        if self._thread is not None:
            if self._opened is not None:
                self._thread.run(self._opened.close())
                self._opened = None
            self._thread.stop()
            self._thread = None

    async def _open_async(self) -> A:
        return self._make_async(self._client_factory(), self._timezone)


class _SyncFacade(Generic[A]):
    def __init__(self, opened: A, thread: LoopThread) -> None:
        self._async = opened
        self._thread = thread

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._thread.run(coro)


# -- schedules ---------------------------------------------------------------


class Schedules(_Opened):
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

    async def pause(self, name: str) -> ScheduleInfo:
        return await self.store.pause(name)

    async def resume(self, name: str) -> ScheduleInfo:
        return await self.store.resume(name)

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

    async def trigger(self, name: str) -> EnqueuedJob:
        """Enqueue one run now; the regular runs are unchanged."""
        d = (await self.store.get(name)).definition
        request = JobRequest(d.task, d.args, d.kwargs, queue=d.queue, priority=d.priority,
                             max_retries=d.max_retries, timeout=d.timeout)  # fmt: skip
        return await self.client.submit(request)


class SyncSchedules(_SyncFacade[Schedules]):
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

    def pause(self, name: str) -> ScheduleInfo:
        return self._run(self._async.pause(name))

    def resume(self, name: str) -> ScheduleInfo:
        return self._run(self._async.resume(name))

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

    def trigger(self, name: str) -> EnqueuedJob:
        return self._run(self._async.trigger(name))


# -- rate limits and quotas ------------------------------------------------


class _LimitManager(_Opened):
    kind: Kind

    @property
    def store(self) -> LimitStore:
        return self.client.backend.limits

    async def get(self, name: str) -> Limit:
        limit = await self.store.get(name)
        if limit.kind is not self.kind:
            raise LimitNotFound(f"{name!r} is a {limit.kind.value} limit, not a {self.kind.value}")
        return limit

    async def list(self) -> builtins.list[Limit]:
        return [limit for limit in await self.store.all() if limit.kind is self.kind]

    async def remove(self, name: str) -> None:
        """Forget it: jobs naming it run unlimited from now on (LimitNotFound if none)."""
        await self.get(name)
        await self.store.remove(name)

    async def usage(self, name: str, keys: Iterable[str] | None = None) -> builtins.list[KeyUsage]:
        """Per key (default: recently used keys): use now, utilization, next start."""
        await self.get(name)
        return await self.store.usage(name, keys)


class Limits(_LimitManager):
    """Rate limits stored in Redis. A change applies at once; jobs a limit deferred
    are decided again."""

    kind = Kind.RATE

    async def set(
        self,
        name: str | Limit,
        rate: str | None = None,
        *,
        burst: int = 0,
        min_gap: float = 0.0,
        windows: WindowsSpec = (),
        tz: str | None = None,
    ) -> Limit:
        """Create or replace a rate limit (arguments as in `app.limit`, or a whole
        `Limit`)."""
        if isinstance(name, Limit):
            limit = name
        elif rate is None:
            raise ConfigurationError(f"limit {name!r} needs a rate, like '600/min'")
        else:
            limit = rate_limit(
                name, rate, burst=burst, min_gap=min_gap, windows=windows, tz=tz or self.timezone
            )
        await self.store.set(limit)
        return limit

    async def update(self, name: str, **changes: Any) -> Limit:
        """Change some settings (rate, burst, min_gap, windows, tz); the rest stay."""
        try:
            wanted = LimitChanges(**changes)
        except TypeError:
            allowed = "rate, burst, min_gap, windows, tz"
            raise ConfigurationError(
                f"a limit's changes are among {allowed}; got {sorted(changes)}"
            ) from None
        limit = wanted.apply(await self.get(name))
        await self.store.set(limit)
        return limit


class Quotas(_LimitManager):
    """Quotas stored in Redis: runs per account per local day or hour."""

    kind = Kind.QUOTA

    async def set(self, name: str, limit: int, *, per: str = "day", tz: str | None = None) -> Limit:
        """Create or replace a quota (arguments as in `app.quota`)."""
        made = quota(name, limit, per=per, tz=tz or self.timezone)
        await self.store.set(made)
        return made

    async def set_account_zone(self, account: str, tz: str) -> None:
        """The zone an account's quotas count their days and hours in."""
        await self.store.set_account_zone(account, tz)

    async def account_zones(self, accounts: Iterable[str]) -> dict[str, str]:
        return await self.store.account_zones(accounts)


class _SyncLimitFacade(_SyncFacade[A]):
    def get(self, name: str) -> Limit:
        return self._run(self._manager.get(name))

    def list(self) -> builtins.list[Limit]:
        return self._run(self._manager.list())

    def remove(self, name: str) -> None:
        self._run(self._manager.remove(name))

    def usage(self, name: str, keys: Iterable[str] | None = None) -> builtins.list[KeyUsage]:
        return self._run(self._manager.usage(name, keys))

    @property
    def _manager(self) -> _LimitManager:
        manager = self._async
        assert isinstance(manager, _LimitManager)
        return manager


class SyncLimits(_SyncLimitFacade[Limits]):
    """`with app.limits() as limits:` the same operations, blocking."""

    def set(self, name: str | Limit, rate: str | None = None, **options: Any) -> Limit:
        """See `Limits.set` for the options."""
        return self._run(self._async.set(name, rate, **options))

    def update(self, name: str, **changes: Any) -> Limit:
        return self._run(self._async.update(name, **changes))


class SyncQuotas(_SyncLimitFacade[Quotas]):
    """`with app.quotas() as quotas:` the same operations, blocking."""

    def set(self, name: str, limit: int, *, per: str = "day", tz: str | None = None) -> Limit:
        return self._run(self._async.set(name, limit, per=per, tz=tz))

    def set_account_zone(self, account: str, tz: str) -> None:
        self._run(self._async.set_account_zone(account, tz))

    def account_zones(self, accounts: Iterable[str]) -> dict[str, str]:
        return self._run(self._async.account_zones(accounts))


# -- alerts ------------------------------------------------------------------


class Alerts(_Opened):
    """Alert rules, channels and silences stored in Redis, and the rules' states.

    Rules and channels added here apply on every evaluator from its next round and
    replace the app's declared ones (and the defaults) of the same name."""

    def __init__(
        self,
        client: Client,
        timezone: str,
        declared_rules: dict[str, AlertRule] | None = None,
        declared_channels: dict[str, Channel] | None = None,
    ) -> None:
        super().__init__(client, timezone)
        self.declared_rules = dict(declared_rules or {})
        self.declared_channels = dict(declared_channels or {})

    @property
    def store(self) -> AlertStore:
        return self.client.backend.alerts

    async def add_rule(self, rule: AlertRule) -> AlertRule:
        await self.store.put_rule(rule)
        return rule

    async def remove_rule(self, name: str) -> bool:
        """Forget a runtime rule (the declared one or default of that name returns)."""
        return await self.store.remove_rule(name)

    async def rules(self) -> builtins.list[AlertRule]:
        """Every rule in force: defaults, then declared, then runtime ones."""
        return merge_rules(DEFAULT_RULES, self.declared_rules, await self.store.rules())

    async def add_channel(self, channel: Channel) -> Channel:
        await self.store.put_channel(channel)
        return channel

    async def remove_channel(self, name: str) -> bool:
        return await self.store.remove_channel(name)

    async def channels(self) -> dict[str, Channel]:
        return {**self.declared_channels, **await self.store.channels()}

    async def silence(
        self, rule: str, duration: float, reason: str, *, subject: str = ""
    ) -> Silence:
        """No notification for `rule` (or one `subject` of it) for `duration` seconds."""
        if duration <= 0:
            raise ConfigurationError("a silence needs a duration > 0 seconds")
        if not reason.strip():
            raise ConfigurationError("a silence needs a reason")
        if rule not in {r.name for r in await self.rules()}:
            raise ConfigurationError(f"no alert rule named {rule!r}")
        silence = Silence(rule, time.time() + duration, reason, subject)
        await self.store.silence(silence)
        return silence

    async def unsilence(self, rule: str, *, subject: str = "") -> bool:
        return await self.store.unsilence(rule, subject)

    async def silences(self) -> builtins.list[Silence]:
        return await self.store.silences()

    async def states(self) -> builtins.list[AlertState]:
        """Pending, firing and resolved alerts, per rule and subject."""
        return await self.store.states()

    async def deliveries(self, limit: int = 50) -> builtins.list[dict[str, Any]]:
        """The newest delivery attempts (webhooks and emails), newest first."""
        return await self.store.deliveries(limit)


class SyncAlerts(_SyncFacade[Alerts]):
    """`with app.alerts() as alerts:` the same operations, blocking."""

    def add_rule(self, rule: AlertRule) -> AlertRule:
        return self._run(self._async.add_rule(rule))

    def remove_rule(self, name: str) -> bool:
        return self._run(self._async.remove_rule(name))

    def rules(self) -> builtins.list[AlertRule]:
        return self._run(self._async.rules())

    def add_channel(self, channel: Channel) -> Channel:
        return self._run(self._async.add_channel(channel))

    def remove_channel(self, name: str) -> bool:
        return self._run(self._async.remove_channel(name))

    def channels(self) -> dict[str, Channel]:
        return self._run(self._async.channels())

    def silence(self, rule: str, duration: float, reason: str, *, subject: str = "") -> Silence:
        return self._run(self._async.silence(rule, duration, reason, subject=subject))

    def unsilence(self, rule: str, *, subject: str = "") -> bool:
        return self._run(self._async.unsilence(rule, subject=subject))

    def silences(self) -> builtins.list[Silence]:
        return self._run(self._async.silences())

    def states(self) -> builtins.list[AlertState]:
        return self._run(self._async.states())

    def deliveries(self, limit: int = 50) -> builtins.list[dict[str, Any]]:
        return self._run(self._async.deliveries(limit))


ScheduleHandle = Handle[Schedules, SyncSchedules]
AlertHandle = Handle[Alerts, SyncAlerts]
LimitHandle = Handle[Limits, SyncLimits]
QuotaHandle = Handle[Quotas, SyncQuotas]
