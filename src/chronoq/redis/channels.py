"""Following a pub/sub channel for as long as a process runs.

Messages are wake-ups and requests that are also recorded in Redis (a schedule
change bumps a version; a cancel sets the job's `cxl` field), so a message missed
while reconnecting costs latency, never correctness: `on_subscribed` runs after
every (re)subscribe so the caller can re-read what it may have missed.

A Cluster client routes SUBSCRIBE by its slot map, which it reads on its first
command (a subscribe before that fails with a KeyError) and which nothing else
would refresh after a failover: the client is initialized before each subscribe
and closed after an error (it reads the map again).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from chronoq.redis.connector import AsyncRedis
from chronoq.redis.errors import REDIS_FAULTS, Fault, classify

RESUBSCRIBE_PAUSE = 0.5  # after a fault, before subscribing again
READ_TIMEOUT = 30.0  # one read's wait; the loop reads again at once


async def follow(
    client: AsyncRedis,
    channel: str,
    on_message: Callable[[str], None],
    *,
    on_subscribed: Callable[[], None] = lambda: None,
    on_refused: Callable[[BaseException], None] = lambda exc: None,
) -> None:
    """Call `on_message(data)` for each message on `channel`, forever (cancel to
    stop). Temporary faults resubscribe; a permanent refusal (an ACL without the
    channel) calls `on_refused` and returns."""
    while True:
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            initialize = getattr(client, "initialize", None)
            if initialize is not None:
                await initialize()
            await pubsub.subscribe(channel)
            on_subscribed()
            while True:
                message = await pubsub.get_message(timeout=READ_TIMEOUT)
                if message is not None:
                    on_message(str(message.get("data", "")))
        except REDIS_FAULTS as exc:
            if classify(exc) is Fault.PERMANENT:
                on_refused(exc)
                return
            with contextlib.suppress(Exception):
                await client.aclose()  # reconnects (and re-reads a slot map)
            await asyncio.sleep(RESUBSCRIBE_PAUSE)
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]
