"""`Task`, what `@app.task` returns, and how the decorator's arguments become a
task's defaults (its limits, its exception classes), checked at declaration."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from chronoq.core.errors import ConfigurationError
from chronoq.core.events import EventKind, HookRegistry
from chronoq.core.events import Hook as EventHook
from chronoq.core.names import validate_limit_name
from chronoq.core.task import TaskDef

H = TypeVar("H", bound=EventHook)


def task_limits(
    rate_limit: str | None, rate_key: str | None, quota: str | None, account: str | None
) -> tuple[tuple[str, str | None], ...]:
    """The limits a task's jobs ask, quota first: a start the quota allows is kept
    by the job (booked) should the rate limit defer it."""
    if quota is not None and account is None:
        raise ConfigurationError(
            f"quota {quota!r} counts per account: give the task an account template too"
        )
    if rate_key is not None and rate_limit is None:
        raise ConfigurationError("rate_key needs a rate_limit to apply to")
    limits: list[tuple[str, str | None]] = []
    if quota is not None:
        limits.append((_limit_name_or_template(quota), account))
    if rate_limit is not None:
        limits.append((_limit_name_or_template(rate_limit), rate_key or account))
    return tuple(limits)


def _limit_name_or_template(name: str) -> str:
    """A limit name, or a template filled from each call's arguments
    (`"source:{source}"`: one limit per scraped source), checked when filled."""
    return name if "{" in name else validate_limit_name(name)


ExceptionSpec = type[BaseException] | Sequence[type[BaseException]]


def exception_classes(spec: ExceptionSpec | None) -> tuple[type[BaseException], ...] | None:
    """One exception class or several, as a tuple (checked by TaskDefaults)."""
    if spec is None:
        return None
    return (spec,) if isinstance(spec, type) else tuple(spec)


class Task:
    """What `@app.task` returns: the original function, still callable, plus its TaskDef."""

    def __init__(self, definition: TaskDef, hooks: HookRegistry | None = None) -> None:
        self.definition = definition
        self.name = definition.name
        self._hooks = hooks if hooks is not None else HookRegistry()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.definition.func(*args, **kwargs)

    def on(self, kind: EventKind | str) -> Callable[[H], H]:
        """Register a hook for this task's `kind` events ("succeeded", "dead", ...):
        `@send.on("dead")`. Runs before the app's hooks of that kind."""

        parsed = EventKind.parse(kind)  # a bad kind fails here, not at decoration

        def register(hook: H) -> H:
            self._hooks.add(parsed, hook, task=self.name)
            return hook

        return register

    def on_event(self, kind: EventKind | str, hook: EventHook) -> EventHook:
        """`task.on(kind)` without the decorator."""
        return self._hooks.add(kind, hook, task=self.name)

    def __repr__(self) -> str:
        return f"<Task {self.name}>"
