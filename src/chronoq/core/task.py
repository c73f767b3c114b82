"""Task definitions: a function plus the defaults its jobs get."""

from __future__ import annotations

import inspect
import math
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

from chronoq.core.errors import ConfigurationError, UnknownTask
from chronoq.core.job import Gate, GatePolicy, JobOptions, LimitRef
from chronoq.core.names import validate_limit_name
from chronoq.core.retry import Backoff, check_delays

DEFAULT_QUEUE = "default"
DEFAULT_MAX_RETRIES = 3
ExceptionClasses = tuple[type[BaseException], ...]


@dataclass(frozen=True, slots=True)
class TaskDefaults:
    queue: str = DEFAULT_QUEUE
    priority: int = 0
    max_retries: int = DEFAULT_MAX_RETRIES
    backoff: Backoff = field(default_factory=Backoff)
    timeout: float | None = None
    lock: str | None = None  # key template, e.g. "campaign:{campaign_id}"
    on_locked: GatePolicy = GatePolicy.WAIT
    concurrency: tuple[str, int] | None = None  # (key template, limit)
    account: str | None = None  # key template naming the account, for fairness and quotas
    limits: tuple[tuple[str, str | None], ...] = ()  # (limit name, key template or None)
    retry_delays: tuple[float, ...] | None = None  # seconds before each retry; last repeats
    retry_on: ExceptionClasses | None = None  # retry only these (None: every exception)
    dont_retry: ExceptionClasses = ()  # never retry these: dead at once
    soft_timeout: float | None = None  # raise SoftTimeLimit in the run after this long

    def __post_init__(self) -> None:
        # Reuse JobOptions' checks so a bad default fails where it is declared.
        JobOptions(max_retries=self.max_retries, timeout=self.timeout, priority=self.priority)
        if self.retry_delays is not None:
            object.__setattr__(self, "retry_delays", check_delays(self.retry_delays))
        if self.retry_on is not None:
            object.__setattr__(self, "retry_on", _exception_classes(self.retry_on, "retry_on"))
        object.__setattr__(self, "dont_retry", _exception_classes(self.dont_retry, "dont_retry"))
        _check_soft_timeout(self.soft_timeout, self.timeout)
        object.__setattr__(self, "on_locked", GatePolicy(self.on_locked))
        templates = [self.lock, self.account, self.concurrency and self.concurrency[0]]
        limit_names = [name for name, _ in self.limits if "{" in name]
        for template in templates + limit_names + [key for _, key in self.limits]:
            if template is not None:
                _check_template(template)
        if self.concurrency is not None and self.concurrency[1] < 1:
            raise ConfigurationError(
                f"concurrency limit must be at least 1, got {self.concurrency[1]}"
            )

    @property
    def has_keys(self) -> bool:
        """Whether jobs of this task take keys from their arguments."""
        return bool(self.lock or self.concurrency or self.account or self.limits)


@dataclass(frozen=True, slots=True)
class TaskDef:
    name: str
    func: Callable[..., Any]
    defaults: TaskDefaults
    # Decided once: the worker asks for every job it runs.
    is_async: bool = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "is_async", inspect.iscoroutinefunction(self.func))

    @property
    def signature(self) -> inspect.Signature:
        return _signature(self.func)


class TaskLike(Protocol):
    """What enqueueing needs of a task: a local `TaskDef`, or the definition a worker
    published (`chronoq.core.registry.PublishedTask`) for a client without the code."""

    @property
    def name(self) -> str: ...

    @property
    def defaults(self) -> TaskDefaults: ...

    @property
    def signature(self) -> inspect.Signature: ...


class _UnknownDefault:
    """The default of a parameter whose value a published definition does not carry
    (it is not JSON): a call may leave it out, a key template may not use it."""

    def __repr__(self) -> str:
        return "<default not published>"


UNKNOWN_DEFAULT: Any = _UnknownDefault()


def _exception_classes(value: object, what: str) -> ExceptionClasses:
    """A class or a sequence of classes, each an exception type, as a tuple."""
    items = (value,) if isinstance(value, type) else value
    if not isinstance(items, Sequence) or isinstance(items, str):
        raise ConfigurationError(f"{what} must be exception classes, got {value!r}")
    for item in items:
        if not isinstance(item, type) or not issubclass(item, BaseException):
            raise ConfigurationError(f"{what} must be exception classes, got {item!r}")
    return tuple(items)


def _check_soft_timeout(soft: float | None, hard: float | None) -> None:
    if soft is None:
        return
    if isinstance(soft, bool) or not isinstance(soft, int | float) or not 0 < soft < math.inf:
        raise ConfigurationError(f"soft_timeout must be > 0 seconds, got {soft!r}")
    if hard is not None and not hard > soft:
        raise ConfigurationError(
            f"timeout ({hard}s) must be greater than soft_timeout ({soft}s): "
            "the soft limit warns the run before the hard one stops it"
        )


def _check_template(template: str) -> None:
    try:
        names = [field for _, field, _, _ in string.Formatter().parse(template) if field]
    except ValueError as exc:
        raise ConfigurationError(f"bad key template {template!r}: {exc}") from None
    if not template or any(not name.isidentifier() for name in names):
        raise ConfigurationError(
            f"bad key template {template!r}: use argument names in braces, "
            "e.g. 'campaign:{campaign_id}'"
        )


def _format(template: str, what: str, task: TaskLike, arguments: dict[str, Any]) -> str:
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(template) if name]
        hidden = [name for name in names if arguments.get(name) is UNKNOWN_DEFAULT]
        if hidden:
            raise ConfigurationError(
                f"{what} template {template!r} of task {task.name!r} names argument "
                f"{hidden[0]!r}, whose default is not JSON: pass it in the call"
            )
        return template.format_map(arguments)
    except KeyError as exc:
        raise ConfigurationError(
            f"{what} template {template!r} of task {task.name!r} names argument {exc}, "
            "which this call does not pass"
        ) from None


def bind_call(task: TaskLike, args: Sequence[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The call's arguments by parameter name, defaults applied; a call the task's
    signature refuses is a ConfigurationError naming the task (at enqueue, not as a
    dead job later)."""
    try:
        bound = task.signature.bind(*args, **kwargs)
    except TypeError as exc:
        raise ConfigurationError(
            f"cannot call task {task.name!r} with these arguments: {exc}"
        ) from None
    bound.apply_defaults()
    return dict(bound.arguments)


def job_keys(task: TaskLike, args: Sequence[Any], kwargs: dict[str, Any]) -> JobKeys:
    """The gates and account of one call, from the task's key templates."""
    d = task.defaults
    if not d.has_keys:
        return NO_KEYS
    arguments = bind_call(task, args, kwargs)
    gates = []
    if d.lock is not None:
        gates.append(Gate(_format(d.lock, "lock key", task, arguments), 1, d.on_locked))
    if d.concurrency is not None:
        key = _format(d.concurrency[0], "concurrency key", task, arguments)
        gates.append(Gate(key, d.concurrency[1], GatePolicy.WAIT))
    account = _format(d.account, "account", task, arguments) if d.account else None
    limits = tuple(
        LimitRef(
            _limit_name(name, task, arguments),
            _format(key, f"key of limit {name!r}", task, arguments) if key else "",
        )
        for name, key in d.limits
    )
    return JobKeys(tuple(gates), account, limits)


def _limit_name(template: str, task: TaskLike, arguments: dict[str, Any]) -> str:
    if "{" not in template:
        return template
    name = _format(template, "limit name", task, arguments)
    try:
        return validate_limit_name(name)
    except ConfigurationError as exc:
        raise ConfigurationError(
            f"limit name template {template!r} of task {task.name!r}: {exc}"
        ) from None


@dataclass(frozen=True, slots=True)
class JobKeys:
    gates: tuple[Gate, ...]
    account: str | None
    limits: tuple[LimitRef, ...] = ()


NO_KEYS = JobKeys((), None)


@lru_cache(maxsize=512)
def _signature(func: Callable[..., Any]) -> inspect.Signature:
    return inspect.signature(func)


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
