"""Job events and the hooks registered for them (pure: who runs them is elsewhere).

"enqueued" fires in the process that enqueued (the client), "cancelled" in the
process that cancelled a waiting job (the client; a worker also fires it for a run
it ends on a cancel request); the others fire in the worker running the job. A
failed attempt fires "failed", then "retrying" or "dead". Hooks of the job's task
run before the app's, each in the order registered, one after another.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from chronoq.core.errors import ConfigurationError


class EventKind(enum.StrEnum):
    ENQUEUED = "enqueued"  # created by an enqueue (not a deduplicated one)
    STARTED = "started"  # a worker starts an attempt
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # an attempt raised (or timed out); "retrying" or "dead" follows
    RETRYING = "retrying"  # that attempt will be retried after `retry_in` seconds
    DEAD = "dead"  # out of retries, or a job that cannot run: in the dead-letter queue
    CANCELLED = "cancelled"
    EXPIRED = "expired"  # its deadline passed before it could start (found by a claim)

    @classmethod
    def parse(cls, value: EventKind | str) -> EventKind:
        try:
            return cls(value)
        except ValueError:
            names = ", ".join(k.value for k in cls)
            why = f"unknown job event {value!r}; choose one of: {names}"
            raise ConfigurationError(why) from None


@dataclass(frozen=True, slots=True)
class JobEvent:
    """What a hook receives. `outcome` names the job's state after the event
    ("running", "succeeded", "retrying", "dead", ...). `error` is the exception's
    "Type: message" line and `traceback` its text; `result` the task's return value
    (succeeded); `duration` the attempt's seconds; `retry_in` the backoff (retrying)."""

    kind: EventKind
    job_id: str
    task: str
    queue: str
    attempt: int = 0
    outcome: str = ""
    error: str | None = None
    traceback: str | None = None
    result: Any = None
    duration: float | None = None
    retry_in: float | None = None
    max_attempts: int | None = None


Hook = Callable[[JobEvent], Awaitable[None] | None]


class HookRegistry:
    """Hooks per event kind: the app's, and each task's by task name."""

    def __init__(self) -> None:
        self._app: dict[EventKind, list[Hook]] = {}
        self._tasks: dict[tuple[str, EventKind], list[Hook]] = {}
        self._kinds: set[EventKind] = set()

    def add(self, kind: EventKind | str, hook: Hook, *, task: str | None = None) -> Hook:
        if not callable(hook):
            raise ConfigurationError(f"a hook must be callable, got {hook!r}")
        parsed = EventKind.parse(kind)
        self._kinds.add(parsed)
        if task is None:
            self._app.setdefault(parsed, []).append(hook)
        else:
            self._tasks.setdefault((task, parsed), []).append(hook)
        return hook

    def chain(self, kind: EventKind, task: str) -> list[Hook]:
        """The hooks an event of `task` runs, in order: the task's, then the app's."""
        return [*self._tasks.get((task, kind), ()), *self._app.get(kind, ())]

    def wants(self, kind: EventKind) -> bool:
        """Whether any hook at all listens to `kind` (cheap: the hot path asks)."""
        return kind in self._kinds
