"""The handle pattern every manager shares: `async with` for the async manager,
`with` for the sync one (run on an event loop of its own, in a daemon thread).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, Generic, TypeVar

from chronoq.client import Client
from chronoq.core.errors import ConfigurationError
from chronoq.loop_thread import LoopThread

A = TypeVar("A", bound="Opened")
S = TypeVar("S")
T = TypeVar("T")
TaskName = Any  # a Task object (what @app.task returns) or its name


def task_name(task: TaskName) -> str:
    name = task if isinstance(task, str) else getattr(task, "name", None)
    if not isinstance(name, str) or not name:
        raise ConfigurationError(f"expected a task or a task name, got {task!r}")
    return name


class Opened:
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


class SyncFacade(Generic[A]):
    def __init__(self, opened: A, thread: LoopThread) -> None:
        self._async = opened
        self._thread = thread

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._thread.run(coro)
