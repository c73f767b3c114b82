"""One client per event loop per app for the campaign tasks.

A campaign run sends one job per recipient; each job opening its own
`app.client()` opened (and closed) its own Redis connection pool, so a worker
sending 1,000 recipients opened 1,000 connections. The tasks share one client per
(app, event loop) instead: redis-py's asyncio connections belong to the loop that
opened them, so a client is never shared across loops (a worker has one; each
`asyncio.run` of a test or script has its own).

The client is closed when its loop shuts down its async generators (`asyncio.run`,
`asyncio.Runner`, the worker and pytest-asyncio do), the hook the app's lock
connections use too (chronoq.redis.locks.LoopLockClients): a generator parked at
its first `yield` is the only "this loop is ending" signal asyncio gives.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from chronoq.app import App
from chronoq.client import Client


@dataclass(eq=False)
class _Shared:
    client: Client
    closer: AsyncIterator[None] | None = None  # kept: the loop holds its generators weakly


@dataclass(eq=False)
class _PerLoop:
    by_loop: dict[asyncio.AbstractEventLoop, _Shared] = field(default_factory=dict)


_APPS: weakref.WeakKeyDictionary[App, _PerLoop] = weakref.WeakKeyDictionary()


async def shared_client(app: App) -> Client:
    """The client of `app` on the running loop (made on first use). Never close
    it: it closes with its loop."""
    loop = asyncio.get_running_loop()
    per_loop = _APPS.setdefault(app, _PerLoop())
    shared = per_loop.by_loop.get(loop)
    if shared is None:
        shared = _Shared(app.client())
        per_loop.by_loop[loop] = shared
        shared.closer = _close_at_shutdown(per_loop, loop, shared)
        await anext(shared.closer)
    return shared.client


async def _close_at_shutdown(
    per_loop: _PerLoop, loop: asyncio.AbstractEventLoop, shared: _Shared
) -> AsyncIterator[None]:
    try:
        yield
    finally:
        if per_loop.by_loop.get(loop) is shared:
            del per_loop.by_loop[loop]
        await shared.client.close()
