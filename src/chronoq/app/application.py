"""`App`, the application object: the tasks, schedules, limits, alert rules and
hooks an application declares, and the handles on what is stored in Redis. Its
connections, clients and locks are `AppConnections`'s. The handles' classes
(chronoq.manage) load when a handle is first asked for: a worker uses none, and its
start-up is mostly imports."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar, overload

from chronoq.app.connections import AppConnections
from chronoq.app.task import ExceptionSpec, H, Task, exception_classes, task_limits
from chronoq.client import Client
from chronoq.core.alerts import (
    AlertRule,
    Channel,
    EmailChannel,
    RuleKind,
    WebhookChannel,
    parse_kind,
)
from chronoq.core.errors import ConfigurationError
from chronoq.core.events import EventKind, HookRegistry
from chronoq.core.events import Hook as EventHook
from chronoq.core.failures import ErrorClass, ErrorClassifier
from chronoq.core.job import GatePolicy
from chronoq.core.limits import Limit, WindowsSpec, quota, rate_limit
from chronoq.core.retry import Backoff
from chronoq.core.settings import Settings
from chronoq.core.task import DEFAULT_MAX_RETRIES, DEFAULT_QUEUE, TaskDefaults, TaskRegistry
from chronoq.core.zones import zone
from chronoq.redis.connector import ClientConnector
from chronoq.schedule.model import DEFAULT_GRACE, Misfire, Overlap, ScheduleDef
from chronoq.workflows.engine import SyncWorkflows, Workflows

if TYPE_CHECKING:
    from chronoq.manage import (
        AlertHandle,
        Alerts,
        FleetHandle,
        Handle,
        LimitHandle,
        LockAdminHandle,
        QueueAdminHandle,
        QuotaHandle,
        ScheduleHandle,
    )

F = TypeVar("F", bound=Callable[..., Any])
Hook = Callable[["App"], Awaitable[None]]
ScheduleErrorHandler = Callable[[str, BaseException], Awaitable[None] | None]


class App(AppConnections):
    """Holds the tasks of one application and how to reach its Redis.

    ```
    app = App()

    @app.task(queue="mail", max_retries=5)
    async def send(to: str) -> None: ...
    ```
    """

    def __init__(
        self,
        name: str = "chronoq",
        *,
        redis_url: str | None = None,
        prefix: str | None = None,
        settings: Settings | None = None,
        timezone: str = "UTC",
        redis: Any = None,
    ) -> None:
        """`redis`: a `redis.asyncio.Redis` the program already configured (its
        address, credentials or credential provider, TLS) instead of a URL; chronoq
        opens its own connections with those settings and never closes it."""
        self.name = name
        self._connector = ClientConnector(redis) if redis is not None else None
        self.timezone = zone(timezone).key  # default zone of schedules declared here
        overrides: dict[str, Any] = {}
        if redis_url is not None:
            overrides["redis_url"] = redis_url
        if prefix is not None:
            overrides["prefix"] = prefix
        base = settings or Settings()
        self.settings = base.model_copy(update=overrides)
        self.registry = TaskRegistry()
        self.on_startup: list[Hook] = []
        self.on_shutdown: list[Hook] = []
        self.declared_schedules: dict[str, ScheduleDef] = {}
        self.on_schedule_error: ScheduleErrorHandler | None = None
        self.declared_limits: dict[str, Limit] = {}
        self.hooks = HookRegistry()  # job events: see `on`
        self.error_classes = ErrorClassifier()  # see `error_class`
        self.declared_alert_rules: dict[str, AlertRule] = {}
        self.declared_alert_channels: dict[str, Channel] = {}

    @overload
    def task(self, func: F, /) -> Task: ...

    @overload
    def task(
        self,
        func: None = None,
        /,
        *,
        name: str | None = None,
        queue: str = DEFAULT_QUEUE,
        priority: int = 0,
        max_retries: int = DEFAULT_MAX_RETRIES,
        backoff: Backoff | None = None,
        timeout: float | None = None,
        lock: str | None = None,
        on_locked: GatePolicy | str = GatePolicy.WAIT,
        concurrency: tuple[str, int] | None = None,
        account: str | None = None,
        rate_limit: str | None = None,
        rate_key: str | None = None,
        quota: str | None = None,
        retry_delays: Sequence[float] | None = None,
        retry_on: ExceptionSpec | None = None,
        dont_retry: ExceptionSpec = (),
        soft_timeout: float | None = None,
    ) -> Callable[[F], Task]: ...

    def task(
        self,
        func: F | None = None,
        /,
        *,
        name: str | None = None,
        queue: str = DEFAULT_QUEUE,
        priority: int = 0,
        max_retries: int = DEFAULT_MAX_RETRIES,
        backoff: Backoff | None = None,
        timeout: float | None = None,
        lock: str | None = None,
        on_locked: GatePolicy | str = GatePolicy.WAIT,
        concurrency: tuple[str, int] | None = None,
        account: str | None = None,
        rate_limit: str | None = None,
        rate_key: str | None = None,
        quota: str | None = None,
        retry_delays: Sequence[float] | None = None,
        retry_on: ExceptionSpec | None = None,
        dont_retry: ExceptionSpec = (),
        soft_timeout: float | None = None,
    ) -> Task | Callable[[F], Task]:
        """Register a task. Works bare (`@app.task`) or with defaults (`@app.task(...)`).

        Key templates are filled from each call's arguments at enqueue:
        `lock="campaign:{campaign_id}"` lets one job per key run at a time (when it is
        held: `on_locked` = "wait" (park until it frees, no attempt spent), "skip" or
        "fail"); `concurrency=("account:{account_id}", 3)` lets 3 run at a time (the
        rest wait); `account="{account_id}"` shares the queue fairly across accounts.
        Lock and concurrency keys are scoped to the task's queue.

        `rate_limit="linkedin"` starts jobs only as the named limit allows (declared
        with `app.limit` or set at runtime), each `rate_key` (a template; default: the
        account, else one budget for all) with its own budget; `quota="emails"`
        counts runs per account per local day or hour (`app.quota`). A job over its
        limit waits in Redis until its booked time: no attempt spent.

        Retries: `retry_delays=[300, 900, 1800]` waits exactly these seconds before
        retries 1, 2, 3 (the last repeats for more retries; it replaces `backoff`).
        `retry_on` lists the exceptions worth retrying (others are dead at once),
        `dont_retry` those never retried; `raise Permanent(reason)` ends the job dead
        at once, `raise RetryAfter(seconds)` retries after exactly that long.
        `soft_timeout` raises SoftTimeLimit inside the run after that many seconds
        (the task may catch it to clean up); `timeout`, greater, then stops the run.
        """
        defaults = TaskDefaults(
            queue=queue,
            priority=priority,
            max_retries=max_retries,
            backoff=backoff or Backoff(),
            timeout=timeout,
            lock=lock,
            on_locked=GatePolicy(on_locked),
            concurrency=concurrency,
            account=account,
            limits=task_limits(rate_limit, rate_key, quota, account),
            retry_delays=tuple(retry_delays) if retry_delays is not None else None,
            retry_on=exception_classes(retry_on),
            dont_retry=exception_classes(dont_retry) or (),
            soft_timeout=soft_timeout,
        )

        def register(f: F) -> Task:
            return Task(self.registry.add(f, name, defaults), self.hooks)

        return register(func) if func is not None else register

    def schedule(
        self,
        name: str,
        spec: str,
        task: Task | str,
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
    ) -> ScheduleDef:
        """Declare a recurring run of `task`. Checked now; stored in Redis when a
        worker or scheduler starts (operators' runtime changes are kept).

        `deadline`: seconds after its run time a run may still start; a run no
        worker started by then ends `expired` (a 09:00 post that is pointless at
        noon: `deadline=3 * 3600`)."""
        if name in self.declared_schedules:
            raise ConfigurationError(f"schedule {name!r} is declared twice")
        definition = ScheduleDef(
            name=name,
            task=task if isinstance(task, str) else task.name,
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
        self.declared_schedules[name] = definition
        return definition

    def schedule_error(self, handler: ScheduleErrorHandler) -> ScheduleErrorHandler:
        """Register the handler told when a scheduled run cannot be enqueued (it is
        retried regardless)."""
        self.on_schedule_error = handler
        return handler

    def schedules(self) -> ScheduleHandle:
        """The schedules stored in Redis: add, update, pause, resume, remove, get,
        list, next_runs, trigger. `async with app.schedules() as s:` in async code,
        `with app.schedules() as s:` in sync code (same operations)."""
        from chronoq.manage import Handle, Schedules, SyncSchedules

        return Handle(self.client, self.timezone, Schedules, SyncSchedules)

    def workflows(self) -> Handle[Workflows, SyncWorkflows]:
        """Workflows (chains, fan-outs) stored in Redis: start, show, list, pause,
        resume, cancel. `async with app.workflows() as w:` or `with app.workflows()
        as w:`; run a worker (it advances them) to see them progress."""
        from chronoq.manage import Handle

        return Handle(self.client, self.timezone, Workflows, SyncWorkflows)

    def limit(
        self,
        name: str,
        rate: str,
        *,
        burst: int = 0,
        min_gap: float = 0.0,
        windows: WindowsSpec = (),
        tz: str | None = None,
    ) -> Limit:
        """Declare a rate limit: `rate` like "600/min", `burst` extra starts at once,
        `min_gap` seconds between starts, in zone `tz` (default: the app's).

        `windows`: a list of allowed hours like ["mon-fri 09:00-18:00"] (no starts
        outside them), or a mapping of windows to their own rule, the limit's
        `rate` applying outside them: {"mon-fri 09:00-17:00": "30/h"} (slower in
        business hours), "forbid" (none then) or "allow" (the limit's rate).
        Stored when a worker starts; operators' runtime changes are kept unless
        this declaration changes."""
        limit = rate_limit(
            name, rate, burst=burst, min_gap=min_gap, windows=windows, tz=tz or self.timezone
        )
        return self._declare_limit(limit)

    def quota(self, name: str, limit: int, *, per: str = "day", tz: str | None = None) -> Limit:
        """Declare a quota: at most `limit` runs per account `per` day or hour, counted
        in the account's zone (`LimitStore.set_account_zone`), else `tz`/the app's."""
        return self._declare_limit(quota(name, limit, per=per, tz=tz or self.timezone))

    def _declare_limit(self, limit: Limit) -> Limit:
        if limit.name in self.declared_limits:
            raise ConfigurationError(f"limit {limit.name!r} is declared twice")
        self.declared_limits[limit.name] = limit
        return limit

    def limits(self) -> LimitHandle:
        """The rate limits stored in Redis: set, update, get, list, remove, usage.
        `async with app.limits() as limits:` or `with app.limits() as limits:`."""
        from chronoq.manage import Handle, Limits, SyncLimits

        return Handle(self.client, self.timezone, Limits, SyncLimits)

    def quotas(self) -> QuotaHandle:
        """The quotas stored in Redis: set, get, list, remove, usage per account,
        account zones. `async with app.quotas() as q:` or `with app.quotas() as q:`."""
        from chronoq.manage import Handle, Quotas, SyncQuotas

        return Handle(self.client, self.timezone, Quotas, SyncQuotas)

    # -- alerts (evaluated by every worker and scheduler: chronoq.observe.alerts) --

    def alert_rule(self, name: str, kind: RuleKind | str, **options: Any) -> AlertRule:
        """Declare an alert rule (options as `AlertRule`: threshold, level, pending,
        cooldown, window, min_jobs, queues, channels, enabled). A rule named like a
        default (`queue_length`, ...) replaces it; `enabled=False` turns one off."""
        rule = AlertRule(name, parse_kind(kind, name), **options)
        self.declared_alert_rules[name] = rule
        return rule

    def alert_channel(self, channel: WebhookChannel | EmailChannel) -> Channel:
        """Declare where alerts are sent: a `WebhookChannel` or an `EmailChannel`."""
        if not isinstance(channel, WebhookChannel | EmailChannel):
            raise ConfigurationError(f"expected a WebhookChannel or EmailChannel, got {channel!r}")
        self.declared_alert_channels[channel.name] = channel
        return channel

    def alerts(self) -> AlertHandle:
        """Alert rules, channels, silences, states and deliveries stored in Redis.
        `async with app.alerts() as alerts:` or `with app.alerts() as alerts:`."""

        from chronoq.manage import Alerts, Handle, SyncAlerts

        def opened(client: Client, timezone: str) -> Alerts:
            return Alerts(client, timezone, self.declared_alert_rules, self.declared_alert_channels)

        return Handle(self.client, self.timezone, opened, SyncAlerts)

    def queue_admin(self) -> QueueAdminHandle:
        """Pause, resume and drain queues; counts with the paused state.
        `async with app.queue_admin() as q:` or `with app.queue_admin() as q:`."""
        from chronoq.manage import Handle, QueueAdmin, SyncQueueAdmin

        return Handle(self.client, self.timezone, QueueAdmin, SyncQueueAdmin)

    def lock_admin(self) -> LockAdminHandle:
        """The locks held (holder digest, fencing token, lease left) and force
        release. `async with app.lock_admin() as locks:` or `with ...`."""
        from chronoq.manage import Handle, LockAdmin, SyncLockAdmin

        return Handle(self.client, self.timezone, LockAdmin, SyncLockAdmin)

    def fleet(self) -> FleetHandle:
        """The live workers and the scheduler loops, from their heartbeats."""
        from chronoq.manage import Fleet, Handle, SyncFleet

        return Handle(self.client, self.timezone, Fleet, SyncFleet)

    def queues(self) -> list[str]:
        """The queues this app's tasks use, `default` first: what a worker serves
        when told no queues."""
        names = {task.defaults.queue for task in self.registry} | {DEFAULT_QUEUE}
        return [DEFAULT_QUEUE, *sorted(names - {DEFAULT_QUEUE})]

    def error_class(self, exc_type: type[BaseException], cls: ErrorClass | str) -> None:
        """Classify failures raising `exc_type` (and its subclasses) as `cls`: one of
        network, timeout, rate_limited, parse, resource, application. Beats the
        built-in mapping (ConnectionError/OSError -> network, TimeoutError -> timeout,
        ValueError -> parse, ...). `chronoq process-dlq` requeues the dead jobs of
        recoverable classes (`app.error_classes.set_recoverable(...)`; by default
        network, timeout and rate_limited)."""
        self.error_classes.register(exc_type, cls)

    def on(self, kind: EventKind | str) -> Callable[[H], H]:
        """Register a hook for every task's `kind` events: `@app.on("dead")`.

        Kinds: enqueued, started, succeeded, failed, retrying, dead, cancelled,
        expired (`chronoq.EventKind`). A hook takes one `JobEvent` and may be sync
        or async; a task's own hooks (`@task.on(...)`) run first. "enqueued" runs in
        the enqueuing process, inside the enqueue call; "cancelled" in the process
        that cancelled a waiting job; the rest in the worker, in the background
        (async hooks on its loop, sync ones in its task thread pool), one event's
        hooks one after another. A hook that raises is logged; it never changes the
        job's outcome.
        """

        parsed = EventKind.parse(kind)  # a bad kind fails here, not at decoration

        def register(hook: H) -> H:
            self.hooks.add(parsed, hook)
            return hook

        return register

    def on_event(self, kind: EventKind | str, hook: EventHook) -> EventHook:
        """`app.on(kind)` without the decorator."""
        return self.hooks.add(kind, hook)

    def startup(self, hook: Hook) -> Hook:
        """Register a coroutine run when a worker starts (after connecting)."""
        self.on_startup.append(hook)
        return hook

    def shutdown(self, hook: Hook) -> Hook:
        self.on_shutdown.append(hook)
        return hook
