"""The heartbeat: a worker's live description in Redis, refreshed every interval.

`chronoq workers` and the task registry read it: a worker whose heartbeats stop is
gone after five intervals. A failed beat is logged once per outage (`Outages`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from chronoq.redis.broker import Broker
from chronoq.worker.resilience import Outages

Description = dict[str, str | int | float]
BEATS_TO_EXPIRY = 5  # a worker silent this many intervals is gone


class Heartbeat:
    def __init__(
        self,
        broker: Broker,
        worker_id: str,
        *,
        interval: float,
        describe: Callable[[], Description],
        also: Callable[[], Awaitable[object]],
        outages: Outages,
        on_beat: Callable[[], None] = lambda: None,
    ) -> None:
        self._broker = broker
        self._worker_id = worker_id
        self._interval = interval
        self._describe = describe
        self._also = also  # what else lives by the beat (the task registry's liveness)
        self._outages = outages
        self._on_beat = on_beat  # a local check that rides the beat (memory recycling)

    async def run(self) -> None:
        """Beat forever (cancel to stop)."""
        ttl = self._interval * BEATS_TO_EXPIRY
        while True:
            self._on_beat()
            await self._outages.attempt(
                lambda: self._broker.heartbeat(self._worker_id, self._describe(), ttl=ttl),
                "sending heartbeats",
            )
            await self._outages.attempt(self._also, "sending heartbeats")
            await asyncio.sleep(self._interval)
