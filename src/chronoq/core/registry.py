"""The task registry's model: a task's definition as workers publish it.

A client that does not import the app's code (the command line, a web app, the
scheduler of another app) enqueues by name with what the task's workers published:
its queue, options, key templates and argument signature, as JSON (never pickle).
`PublishedTask` serves enqueueing exactly as a local `TaskDef` does (`TaskLike`),
so key templates are filled and calls checked by the same code.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from dataclasses import dataclass
from typing import Any

from chronoq.core import serialization
from chronoq.core.errors import ConfigurationError, UnknownTask
from chronoq.core.job import GatePolicy
from chronoq.core.retry import Backoff
from chronoq.core.task import UNKNOWN_DEFAULT, TaskDef, TaskDefaults

FORMAT = 1  # bumped if the JSON below changes incompatibly
_KINDS = {
    kind.name: kind
    for kind in (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        inspect.Parameter.VAR_POSITIONAL,
        inspect.Parameter.KEYWORD_ONLY,
        inspect.Parameter.VAR_KEYWORD,
    )
}


@dataclass(frozen=True, slots=True)
class PublishedTask:
    """A task as its workers describe it: enough to enqueue it without its code."""

    name: str
    defaults: TaskDefaults
    signature: inspect.Signature
    version: str  # a hash of the definition: equal versions, equal definitions

    @classmethod
    def of(cls, task: TaskDef) -> PublishedTask:
        """The definition a worker publishes for one of its tasks."""
        body = _body(task.name, task.defaults, task.signature)
        return cls(task.name, task.defaults, task.signature, _version(body))

    def to_json(self) -> str:
        return serialization.dumps(self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: name, queue, options, key templates, parameters, version."""
        return {**_body(self.name, self.defaults, self.signature), "version": self.version}

    @classmethod
    def from_json(cls, text: str) -> PublishedTask:
        """Read a stored definition; a malformed one is a ConfigurationError naming it."""
        try:
            raw = serialization.loads(text)
            return cls(raw["name"], _defaults(raw), _signature(raw["params"]), str(raw["version"]))
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ConfigurationError):
                raise
            raise ConfigurationError(
                f"the registry's definition of a task is malformed: {type(exc).__name__}: {exc}"
            ) from None


def unknown_task(name: str) -> UnknownTask:
    """The one-line refusal of a name neither the app nor any worker has registered."""
    return UnknownTask(
        f"unknown task {name!r}: no worker has registered it (check the name, "
        "or pass --force / force=True to enqueue it anyway)"
    )


def _body(name: str, d: TaskDefaults, signature: inspect.Signature) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "name": name,
        "queue": d.queue,
        "priority": d.priority,
        "max_retries": d.max_retries,
        "backoff": d.backoff.to_wire(),
        "timeout": d.timeout,
        "lock": d.lock,
        "on_locked": d.on_locked.value,
        "concurrency": list(d.concurrency) if d.concurrency else None,
        "account": d.account,
        "limits": [[limit, key] for limit, key in d.limits],
        "params": [_param(p) for p in signature.parameters.values()],
    }


def _version(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _param(p: inspect.Parameter) -> dict[str, Any]:
    out: dict[str, Any] = {"name": p.name, "kind": p.kind.name}
    if p.default is not inspect.Parameter.empty:
        try:
            json.dumps(p.default, allow_nan=False)
        except (TypeError, ValueError):
            out["default_hidden"] = True  # callers may leave it out; templates may not use it
        else:
            out["default"] = p.default
    return out


def _signature(params: list[dict[str, Any]]) -> inspect.Signature:
    parameters = []
    for p in params:
        if p["kind"] not in _KINDS:
            raise ConfigurationError(f"unknown parameter kind {p['kind']!r}")
        default: Any = inspect.Parameter.empty
        if "default" in p:
            default = p["default"]
        elif p.get("default_hidden"):
            default = UNKNOWN_DEFAULT
        parameters.append(inspect.Parameter(p["name"], _KINDS[p["kind"]], default=default))
    return inspect.Signature(parameters)


def _defaults(raw: dict[str, Any]) -> TaskDefaults:
    concurrency = raw.get("concurrency")
    return TaskDefaults(
        queue=raw["queue"],
        priority=int(raw["priority"]),
        max_retries=int(raw["max_retries"]),
        backoff=Backoff.from_wire(raw["backoff"]),
        timeout=raw.get("timeout"),
        lock=raw.get("lock"),
        on_locked=GatePolicy(raw.get("on_locked", GatePolicy.WAIT.value)),
        concurrency=(str(concurrency[0]), int(concurrency[1])) if concurrency else None,
        account=raw.get("account"),
        limits=tuple((str(name), key) for name, key in raw.get("limits", ())),
    )
