"""Riding out Redis outages, and stopping on what waiting cannot fix.

Every Redis call of a long-lived loop goes through an `Outages` (one per worker or
scheduler process): `persist` retries an operation until it succeeds, `attempt`
tries it once (for loops with their own period, such as heartbeats). Errors are
sorted by `chronoq.redis.errors.classify`:

- temporary (connection lost, LOADING, READONLY, OOM, BUSY, ...): retried with
  capped backoff; logged once per outage, a warning when the first operation fails
  and one info line when every failed operation succeeds again;
- permanent (wrong password, NOPERM, TLS certificate, unknown command): raised as
  `RedisUnusable`, a one-line error the CLI prints before exiting non-zero;
- other (script errors, bugs): raised unchanged, for the caller.

A retry wait ends early when the caller's stop event is set: `persist` then
raises `Stopped`, so a worker that reconnects forever still honours SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from chronoq.redis.cancel import cancel_and_wait
from chronoq.redis.errors import Fault, RedisError, RedisUnusable, classify, describe

log = logging.getLogger("chronoq.worker")
T = TypeVar("T")

FIRST_DELAY = 0.05
MAX_DELAY = 1.0


class Stopped(Exception):
    """A stop was requested while waiting for Redis: unwind quietly."""


class Outages:
    """One server's outages as this process sees them, each logged once."""

    def __init__(self, server: str, *, logger: logging.Logger = log) -> None:
        self.server = server  # host:port, for messages
        self._log = logger
        self._failing: set[str] = set()  # operations failing right now
        self._faults: list[str] = []  # what the server said, in order, this outage
        self._since: float | None = None

    @property
    def down(self) -> bool:
        """True while some operation fails and has not succeeded since."""
        return self._since is not None

    async def persist(
        self,
        operation: Callable[[], Awaitable[T]],
        what: str,
        *,
        stop: asyncio.Event | None = None,
        max_delay: float = MAX_DELAY,
    ) -> T:
        """Run `operation` until it succeeds, waiting out temporary faults.

        Raises `RedisUnusable` on a permanent fault, `Stopped` when `stop` is set
        during a wait, and any other error unchanged.
        """
        delay = FIRST_DELAY
        while True:
            try:
                result = await operation()
            except Exception as exc:
                self._sort(exc, what)
                if not await _pause(delay, stop):
                    raise Stopped(f"stopped while {what} waited for Redis") from exc
                delay = min(max_delay, delay * 2)
            else:
                self.succeeded(what)
                return result

    async def attempt(self, operation: Callable[[], Awaitable[T]], what: str) -> T | None:
        """Run `operation` once; None if it met a temporary fault (noted, not raised)."""
        try:
            result = await operation()
        except Exception as exc:
            self._sort(exc, what)
            return None
        self.succeeded(what)
        return result

    def failed(self, what: str, exc: BaseException) -> None:
        """Note a temporary fault; the first of an outage is logged."""
        reason = describe(exc, self.server)
        if reason not in self._faults:
            self._faults.append(reason)
        self._failing.add(what)
        if self._since is not None:
            self._log.debug("chronoq: %s failed again: %s", what, reason)
            return
        self._since = asyncio.get_running_loop().time()
        self._log.warning(
            "chronoq: %s; %s and all other work needing Redis wait until it answers",
            reason,
            what,
        )

    def succeeded(self, what: str) -> None:
        """Note a success; the outage ends when every failed operation succeeded."""
        if self._since is None:
            return
        self._failing.discard(what)
        if self._failing:
            return
        lasted = asyncio.get_running_loop().time() - self._since
        self._log.info(
            "chronoq: Redis at %s answers again after %.1f s (during the outage: %s)",
            self.server,
            lasted,
            "; then ".join(self._faults),
        )
        self._since = None
        self._faults = []

    def _sort(self, exc: Exception, what: str) -> None:
        """Return if `exc` is temporary (noted); raise it otherwise."""
        fault = classify(exc)
        if fault is Fault.PERMANENT:
            raise RedisUnusable.from_error(exc, self.server) from exc
        if fault is not Fault.TEMPORARY:
            if isinstance(exc, RedisError):
                self.succeeded(what)  # the server answered, if only with an error
            raise exc
        self.failed(what, exc)


async def _pause(seconds: float, stop: asyncio.Event | None) -> bool:
    """Sleep `seconds`; False (at once) if `stop` is or gets set."""
    if stop is None:
        await asyncio.sleep(seconds)
        return True
    if stop.is_set():
        return False
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await stop.wait()
    return not stop.is_set()


async def until_stopped(
    operation: Awaitable[T], stop: asyncio.Event, *, patience: float = 5.0
) -> T:
    """Await `operation`, or cancel it and raise `Stopped` as soon as `stop` is set
    (for start-up work, which may wait on a connect timeout or a slow server)."""
    work = asyncio.ensure_future(operation)
    waiter = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait([work, waiter], return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        await cancel_and_wait(work, patience=patience)
        raise
    finally:
        waiter.cancel()
    if work.done():
        return work.result()
    await cancel_and_wait(work, patience=patience)
    raise Stopped("stopped before it finished")
