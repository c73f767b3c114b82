"""What one dashboard process holds: the app, its one lazily opened client (and so
its Redis connections), the redaction hook, and the shared cache every request and
live view reads through.

Connections open on first use, not at startup, so the dashboard works both run by
uvicorn (whose lifespan closes them) and mounted inside another ASGI app (where a
sub-app's lifespan never runs, and the process's end closes them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from chronoq.app import App
from chronoq.bulk import OperationRunner
from chronoq.client import Client
from chronoq.redis.backend import Backend

T = TypeVar("T")
log = logging.getLogger("chronoq.web")
RUNNER_STOP_TIMEOUT = 5.0  # seconds; a batch in flight finishes first
# (task, args, kwargs) -> (args, kwargs) as the dashboard may show them.
Redactor = Callable[[str, list[Any], dict[str, Any]], tuple[list[Any], dict[str, Any]]]
REDACTED = "[redacted]"
_SECRET_NAME = re.compile(r"pass|secret|token|api_?key|auth|credential|cookie|session", re.I)


def default_redactor(
    task: str, args: list[Any], kwargs: dict[str, Any]
) -> tuple[list[Any], dict[str, Any]]:
    """Hide the values of keyword arguments (and of dict keys, at any depth) whose
    names look secret: password, token, api_key, authorization, ... Positional
    arguments have no names and are shown as they are."""
    del task
    return [_redact(a) for a in args], {
        k: REDACTED if _SECRET_NAME.search(k) else _redact(v) for k, v in kwargs.items()
    }


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: REDACTED if isinstance(k, str) and _SECRET_NAME.search(k) else _redact(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return value


@dataclass(eq=False)
class _Entry:
    value: Any
    at: float


@dataclass(eq=False)
class SharedCache:
    """Values kept `ttl` seconds and shared by every request of the process; one
    computation at a time per key (concurrent askers wait for it), so 50 tabs
    asking at once cost one read."""

    entries: dict[str, _Entry] = field(default_factory=dict)
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    computed: int = 0  # reads made (for tests and the bench)
    forgotten: dict[str, float] = field(default_factory=dict)  # prefix -> when

    async def get(self, key: str, ttl: float, make: Callable[[], Awaitable[T]]) -> T:
        entry = self.entries.get(key)
        if entry is not None and time.monotonic() - entry.at < ttl:
            value: T = entry.value
            return value
        lock = self.locks.setdefault(key, asyncio.Lock())
        async with lock:
            entry = self.entries.get(key)
            if entry is not None and time.monotonic() - entry.at < ttl:
                kept: T = entry.value
                return kept
            began = time.monotonic()
            made = await make()
            self.computed += 1
            if self._forgotten_since(key, began):
                return made  # read before an action changed it: not kept for others
            self.entries[key] = _Entry(made, time.monotonic())
            if len(self.entries) > 1000:  # per-job keys: drop the oldest
                oldest = min(self.entries, key=lambda k: self.entries[k].at)
                self.entries.pop(oldest, None)
                self.locks.pop(oldest, None)
            return made

    def forget(self, prefix: str) -> None:
        """Drop the values whose keys start with `prefix`: an action changed them,
        and the page it goes back to must show the change."""
        self.forgotten[prefix] = time.monotonic()
        for key in [k for k in self.entries if k.startswith(prefix)]:
            del self.entries[key]

    def _forgotten_since(self, key: str, began: float) -> bool:
        """Whether an action dropped `key` while it was being read (a read that began
        before the change may hold the old value)."""
        return any(key.startswith(p) and at >= began for p, at in self.forgotten.items())


class DashboardState:
    """Held on the FastAPI app as `app.state.chronoq`."""

    def __init__(
        self,
        app: App,
        *,
        redact: Redactor | None,
        session_ttl: float,
        allowed_origins: tuple[str, ...],
        run_operations: bool = True,
    ) -> None:
        self.app = app
        self.run_operations = run_operations
        self.redact: Redactor = redact or default_redactor
        self.session_ttl = session_ttl
        self.allowed_origins = allowed_origins
        self.cache = SharedCache()
        self.base = ""  # the mount path, as the requests tell it (live fragments' links)
        self._client: Client | None = None
        self._opening = asyncio.Lock()
        self._stop = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None

    async def client(self) -> Client:
        """The process's one client, opened on first use (and with it, unless told
        otherwise, the runner of bulk operations)."""
        if self._client is None:
            async with self._opening:
                if self._client is None:
                    self._client = self.app.client()
        if self._runner is None and self.run_operations:
            self._stop.clear()
            self._runner = asyncio.get_running_loop().create_task(
                self._run_operations(self._client.backend)
            )
        return self._client

    async def _run_operations(self, backend: Backend) -> None:
        """The dashboard's bulk actions are operations (`chronoq.bulk`) this process
        runs, like the API's; any number of processes may run them (leases)."""
        settings = self.app.settings
        try:
            runner = OperationRunner(backend, batch_size=settings.operations_batch_size,
                                     lease=settings.operations_lease,
                                     pause=settings.operations_pause)  # fmt: skip
            await runner.run(self._stop)
        except Exception:  # a runner that cannot go on must not take the dashboard down
            log.exception("bulk operations runner stopped")

    async def backend(self) -> Backend:
        return (await self.client()).backend

    async def close(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            self._stop.set()  # an operation in hand is left mid-way: another resumes it
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(runner, timeout=RUNNER_STOP_TIMEOUT)
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()
