"""The application object: tasks, settings and the factories for clients and workers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, TypeVar, overload

from chronoq.client import Client, SyncClient
from chronoq.core.errors import ConfigurationError
from chronoq.core.retry import Backoff
from chronoq.core.settings import Settings
from chronoq.core.task import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_QUEUE,
    TaskDef,
    TaskDefaults,
    TaskRegistry,
)
from chronoq.schedule.model import Misfire, Overlap, ScheduleDef
from chronoq.schedule.spec import zone
from chronoq.schedule.store import ScheduleStore

F = TypeVar("F", bound=Callable[..., Any])
Hook = Callable[["App"], Awaitable[None]]
ScheduleErrorHandler = Callable[[str, BaseException], Awaitable[None] | None]


class Task:
    """What `@app.task` returns: the original function, still callable, plus its TaskDef."""

    def __init__(self, definition: TaskDef) -> None:
        self.definition = definition
        self.name = definition.name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.definition.func(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<Task {self.name}>"


class App:
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
    ) -> None:
        self.name = name
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
    ) -> Task | Callable[[F], Task]:
        """Register a task. Works bare (`@app.task`) or with defaults (`@app.task(...)`)."""
        defaults = TaskDefaults(
            queue=queue,
            priority=priority,
            max_retries=max_retries,
            backoff=backoff or Backoff(),
            timeout=timeout,
        )

        def register(f: F) -> Task:
            return Task(self.registry.add(f, name, defaults))

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
        grace: float = 300.0,
        overlap: Overlap | str = Overlap.ALLOW,
    ) -> ScheduleDef:
        """Declare a recurring run of `task`. Checked now; stored in Redis when a
        worker or scheduler starts (operators' runtime changes are kept)."""
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
        )
        self.declared_schedules[name] = definition
        return definition

    def schedule_error(self, handler: ScheduleErrorHandler) -> ScheduleErrorHandler:
        """Register the handler told when a scheduled run cannot be enqueued (it is
        retried regardless)."""
        self.on_schedule_error = handler
        return handler

    @asynccontextmanager
    async def schedules(self) -> AsyncIterator[ScheduleStore]:
        """The schedules stored in Redis: add, update, pause, resume, remove, list."""
        async with self.client() as client:
            yield ScheduleStore(client.broker.redis, client.broker.keys)

    def queues(self) -> list[str]:
        """The queues this app's tasks use, `default` first: what a worker serves
        when told no queues."""
        names = {task.defaults.queue for task in self.registry} | {DEFAULT_QUEUE}
        return [DEFAULT_QUEUE, *sorted(names - {DEFAULT_QUEUE})]

    def startup(self, hook: Hook) -> Hook:
        """Register a coroutine run when a worker starts (after connecting)."""
        self.on_startup.append(hook)
        return hook

    def shutdown(self, hook: Hook) -> Hook:
        self.on_shutdown.append(hook)
        return hook

    def redis_url(self) -> str:
        """The configured URL, or the embedded server's (started on first use)."""
        if self.settings.redis_url:
            return self.settings.redis_url
        from chronoq.redis.embedded import resolve_redis_url  # noqa: PLC0415

        url: str = resolve_redis_url(self.settings.redis_url, self.settings.data_dir)
        return url

    def client(self) -> Client:
        return Client(
            self.redis_url(),
            prefix=self.settings.prefix,
            registry=self.registry,
            settings=self.settings,
        )

    def sync_client(self) -> SyncClient:
        return SyncClient(self.client)
