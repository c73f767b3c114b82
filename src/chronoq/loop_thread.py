"""An event loop in a daemon thread: how the sync facades run async code.

A sync facade (`SyncClient`, `with app.schedules()`) cannot use `asyncio.run` per
call: it would open new connections each time, and it fails inside a thread that
already runs a loop. One loop of its own, in its own thread, keeps the connections
and works from any thread, including a plain `def` task in the worker's pool.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class LoopThread:
    def __init__(self, name: str = "chronoq-sync") -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the thread's loop and wait for its result here."""
        if not self._loop.is_running():
            coro.close()
            raise RuntimeError("this sync facade is closed")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    @property
    def running(self) -> bool:
        return self._loop.is_running()

    def stop(self) -> None:
        """Stop the loop and join its thread (idempotent)."""
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
        if not self._loop.is_closed() and not self._thread.is_alive():
            self._loop.close()
