"""Running a worker's long-lived loops so that none dies silently.

Each loop runs under `Supervisor.start`. A loop that raises is logged with its
traceback, then either restarted after a backoff (`Restart`) or reported to the
worker as fatal, which shuts the worker down and makes `Worker.run()` raise. A
`RedisUnusable` error is always fatal (restarting cannot fix a password), logged
as one line. `Stopped` and a normal return end the loop quietly.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from chronoq.core.errors import ChronoqError
from chronoq.redis.errors import RedisUnusable
from chronoq.worker.resilience import Stopped

log = logging.getLogger("chronoq.worker")

FatalHandler = Callable[[str, BaseException], None]


class WorkerFailed(ChronoqError):
    """A worker loop failed and the worker shut down; the loop's error is `__cause__`."""


@dataclass(frozen=True, slots=True)
class Restart:
    """Restart a failed loop after `first_delay`, doubling up to `max_delay`; give
    up (fatal) after `max_failures` failures in a row. A loop that ran for
    `healthy_after` seconds before failing starts the count afresh."""

    first_delay: float = 0.5
    max_delay: float = 8.0
    max_failures: int = 5
    healthy_after: float = 60.0

    def delay(self, failures: int) -> float:
        return float(min(self.max_delay, self.first_delay * 2 ** (failures - 1)))


class Supervisor:
    def __init__(self, on_fatal: FatalHandler) -> None:
        self._on_fatal = on_fatal
        self.tasks: list[asyncio.Task[None]] = []

    def start(
        self, name: str, body: Callable[[], Awaitable[None]], *, restart: Restart | None
    ) -> asyncio.Task[None]:
        """Run `body()` as the loop called `name`; `restart` None: failing is fatal."""
        task = asyncio.create_task(self._guard(name, body, restart), name=f"chronoq {name}")
        self.tasks.append(task)
        return task

    async def _guard(
        self, name: str, body: Callable[[], Awaitable[None]], restart: Restart | None
    ) -> None:
        loop = asyncio.get_running_loop()
        failures = 0
        while True:
            began = loop.time()
            try:
                await body()
                return
            except Stopped:
                return
            except RedisUnusable as exc:
                log.error("chronoq: the %s loop stops: %s", name, exc)
                self._on_fatal(name, exc)
                return
            except Exception as exc:
                log.exception("chronoq: the %s loop failed", name)
                failures = 1 if loop.time() - began >= _healthy(restart) else failures + 1
                if restart is None or failures > restart.max_failures:
                    self._on_fatal(name, exc)
                    return
                delay = restart.delay(failures)
                log.warning(
                    "chronoq: restarting the %s loop in %.1f s (failure %d of at most %d)",
                    name,
                    delay,
                    failures,
                    restart.max_failures,
                )
                await asyncio.sleep(delay)


def _healthy(restart: Restart | None) -> float:
    return restart.healthy_after if restart is not None else 0.0


def loop_failure(name: str, exc: BaseException) -> BaseException:
    """What `Worker.run()` raises for a fatal loop failure."""
    if isinstance(exc, RedisUnusable):
        return exc
    failed = WorkerFailed(f"the worker's {name} loop failed: {type(exc).__name__}: {exc}")
    failed.__cause__ = exc
    return failed
