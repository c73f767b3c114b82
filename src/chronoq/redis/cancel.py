"""Cancelling a task that talks to Redis, reliably.

redis-py sends every command through `asyncio.wait_for(...)`; on Python 3.11 a
`wait_for` whose inner write finished in the same loop iteration as a
`Task.cancel()` returns normally and the cancellation is lost (fixed in 3.12). The
cancelled task then carries on: a loop around a Redis call keeps looping, and
whoever awaits it after cancelling it waits forever. That hung burst workers at
shutdown: the scheduler's change watcher, cancelled while it subscribed, went back
to reading pub/sub for good.

`cancel_and_wait` cancels again until the task really ends. It finishes that
job even when its own caller is cancelled meanwhile (within `patience`), then
passes the cancellation on: a loop cleaning up its own helper task inside a
`finally` must not leave that helper behind because the loop itself was being
cancelled again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

log = logging.getLogger("chronoq")

RECANCEL_EVERY = 0.1


async def cancel_and_wait(
    tasks: asyncio.Task[Any] | Iterable[asyncio.Task[Any]], *, patience: float = 10.0
) -> bool:
    """Cancel `tasks` and wait until each ended, cancelling again every 0.1 s in
    case a cancellation was swallowed. Returns False if one still runs after
    `patience` seconds (it is left behind, logged)."""
    pending = {tasks} if isinstance(tasks, asyncio.Task) else set(tasks)
    pending = {task for task in pending if not task.done()}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience
    interrupted = False
    while pending:
        for task in pending:
            task.cancel()
        left = deadline - loop.time()
        if left <= 0:
            for task in pending:
                log.error("chronoq: task %s ignores cancellation; leaving it behind", task)
            break
        try:
            done, pending = await asyncio.wait(pending, timeout=min(RECANCEL_EVERY, left))
        except asyncio.CancelledError:
            interrupted = True  # finish the clean-up first, then honour it
            continue
        for task in done:
            if not task.cancelled():
                task.exception()  # retrieved: the caller cancelled it, it need not know
    if interrupted:
        raise asyncio.CancelledError
    return not pending
