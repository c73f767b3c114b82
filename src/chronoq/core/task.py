"""Task definitions: a function plus the defaults its jobs get."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chronoq.core.errors import ConfigurationError, UnknownTask
from chronoq.core.job import JobOptions
from chronoq.core.retry import Backoff

DEFAULT_QUEUE = "default"
DEFAULT_MAX_RETRIES = 3


@dataclass(frozen=True, slots=True)
class TaskDefaults:
    queue: str = DEFAULT_QUEUE
    priority: int = 0
    max_retries: int = DEFAULT_MAX_RETRIES
    backoff: Backoff = field(default_factory=Backoff)
    timeout: float | None = None

    def __post_init__(self) -> None:
        # Reuse JobOptions' checks so a bad default fails where it is declared.
        JobOptions(max_retries=self.max_retries, timeout=self.timeout, priority=self.priority)


@dataclass(frozen=True, slots=True)
class TaskDef:
    name: str
    func: Callable[..., Any]
    defaults: TaskDefaults

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.func)


class TaskRegistry:
    """Name -> TaskDef. Names default to `module.qualname` so they are stable."""

    def __init__(self) -> None:
        self._tasks: dict[str, TaskDef] = {}

    def add(self, func: Callable[..., Any], name: str | None, defaults: TaskDefaults) -> TaskDef:
        if not callable(func):
            raise ConfigurationError(f"task {func!r} is not callable")
        task_name = name or f"{func.__module__}.{func.__qualname__}"
        if task_name in self._tasks and self._tasks[task_name].func is not func:
            raise ConfigurationError(f"task name {task_name!r} is already defined")
        task = TaskDef(task_name, func, defaults)
        self._tasks[task_name] = task
        return task

    def get(self, name: str) -> TaskDef:
        try:
            return self._tasks[name]
        except KeyError:
            raise UnknownTask(
                f"unknown task {name!r}: the worker's app defines no such task"
            ) from None

    def find(self, name: str) -> TaskDef | None:
        return self._tasks.get(name)

    def __iter__(self) -> Any:
        return iter(self._tasks.values())

    def __len__(self) -> int:
        return len(self._tasks)
