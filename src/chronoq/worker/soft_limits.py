"""Soft time limits: raise `SoftTimeLimit` inside a run that goes on too long, so the
task can clean up or save partial work before the hard timeout stops it.

Async tasks: at the limit the run's asyncio task is cancelled, and the cancellation
is turned into a `SoftTimeLimit` where the task's own code awaits (its awaited
future is cancelled, as with any cancellation). The task may catch it and go on;
the hard `timeout` still applies. A task that awaits other tasks (gather, a
TaskGroup) gets the `SoftTimeLimit` at that await; the children see a plain
cancellation.

Sync tasks (a plain `def` in the worker's thread pool): CPython's
`PyThreadState_SetAsyncExc` raises `SoftTimeLimit` in the thread running the call.
Its limits: the exception is raised only when the thread next executes Python
bytecode, so a long blocking call in C (`time.sleep(60)`, a socket read without a
timeout, a big regex or numpy operation) is not interrupted until it returns; it
may land in any Python code the task runs, including `finally` blocks and
libraries that do not expect it; it fires once per run and never after the call
returned (a lock orders the two).
"""

from __future__ import annotations

import asyncio
import ctypes
import threading
import types
from collections.abc import Callable, Coroutine, Generator
from concurrent.futures import Executor
from typing import Any

from chronoq.core.errors import SoftTimeLimit

DEFAULT_MESSAGE = SoftTimeLimit.default_message


def _message(seconds: float) -> str:
    return f"{DEFAULT_MESSAGE} of {seconds:g}s"


class _AsyncAlarm:
    """One soft limit on one asyncio task: fired (cancellation requested), then
    delivered (that cancellation turned into a SoftTimeLimit)."""

    def __init__(self, task: asyncio.Task[Any], seconds: float) -> None:
        self.task = task
        self.seconds = seconds
        self.fired = False
        self.delivered = False

    def fire(self) -> None:
        if not self.task.done():
            self.fired = True
            self.task.cancel()

    def convert(self, exc: BaseException) -> BaseException:
        """The exception to throw into the task's code in place of `exc`."""
        if not (self.fired and not self.delivered and isinstance(exc, asyncio.CancelledError)):
            return exc
        self.delivered = True
        if self.task.uncancel() > 0:
            return exc  # cancelled for another reason too (shutdown, hard timeout): pass it on
        return SoftTimeLimit(_message(self.seconds))


@types.coroutine
def _drive(coro: Coroutine[Any, Any, Any], alarm: _AsyncAlarm) -> Generator[Any, Any, Any]:
    """`await coro`, step by step, so that the alarm's cancellation reaches the
    coroutine as a SoftTimeLimit (`yield from` would pass it on unchanged)."""
    send: Any = None
    throw: BaseException | None = None
    while True:
        try:
            step = coro.send(send) if throw is None else coro.throw(throw)
        except StopIteration as stop:
            return stop.value
        try:
            send, throw = (yield step), None
        except GeneratorExit:
            coro.close()
            raise
        except BaseException as exc:
            send, throw = None, alarm.convert(exc)


async def run_async(coro: Coroutine[Any, Any, Any], seconds: float) -> Any:
    """Await `coro`, raising SoftTimeLimit inside it after `seconds`."""
    task = asyncio.current_task()
    if task is None:  # pragma: no cover - the worker always runs jobs in tasks
        return await coro
    alarm = _AsyncAlarm(task, seconds)
    handle = asyncio.get_running_loop().call_later(seconds, alarm.fire)
    try:
        return await _drive(coro, alarm)
    finally:
        handle.cancel()


async def run_thread(threads: Executor, call: Callable[[], Any], seconds: float) -> Any:
    """Run `call` in the pool, raising SoftTimeLimit in its thread after `seconds`."""
    alarm = ThreadAlarm(call)
    loop = asyncio.get_running_loop()
    handle = loop.call_later(seconds, alarm.fire)
    try:
        return await loop.run_in_executor(threads, alarm)
    finally:
        handle.cancel()


def _checkpoint() -> None:
    """A Python-level call: CPython raises a pending asynchronous exception on entry."""


def _absorb_late_alarm() -> None:
    # Not contextlib.suppress: the alarm could be raised inside its __enter__.
    try:  # noqa: SIM105
        _checkpoint()
    except SoftTimeLimit:
        pass  # fired as the call returned: the run is done, its result stands


class ThreadAlarm:
    """Wraps a sync call run in a pool thread; `fire()` (from the event loop) raises
    SoftTimeLimit in that thread while, and only while, the call runs."""

    def __init__(self, call: Callable[[], Any]) -> None:
        self._call = call
        self._lock = threading.Lock()
        self._ident: int | None = None
        self._fired = False

    def __call__(self) -> Any:
        with self._lock:
            self._ident = threading.get_ident()
        try:
            return self._call()
        finally:
            with self._lock:
                self._ident = None
            # A pending alarm must be raised here, not in the pool's own code after
            # we return (that would kill the pool thread).
            _absorb_late_alarm()

    def fire(self) -> None:
        with self._lock:
            if self._ident is None or self._fired:
                return
            self._fired = True
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(self._ident), ctypes.py_object(SoftTimeLimit)
            )
