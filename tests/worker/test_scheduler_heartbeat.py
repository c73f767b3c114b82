"""Scheduler loops beat like workers (for `chronoq health`) and withdraw on stop."""

from __future__ import annotations

import asyncio
import os
import time

from chronoq import App, Client
from chronoq.worker.scheduling import run_scheduler
from tests.worker.helpers import wait_until


async def test_a_scheduler_loop_beats_and_withdraws_on_stop(app: App, client: Client) -> None:
    stop = asyncio.Event()
    loop = asyncio.create_task(run_scheduler(app, stop, heartbeat=0.1))
    reader = client.backend.snapshots

    async def beating() -> bool:
        snapshot = await reader.read()
        return any(b.alive and b.info.get("ticked_at") for b in snapshot.schedulers)

    try:
        await wait_until(beating)
        snapshot = await reader.read()
        [beat] = snapshot.schedulers
        assert beat.info["pid"] == str(os.getpid()) and beat.info["app"] == app.name
        assert abs(float(beat.info["last_seen"]) - time.time()) < 5
        assert beat.info["ttl_ms"] == "500"  # five beats
        skew = beat.clock_skew(snapshot.server_ms)
        assert skew is not None and abs(skew) < 1
    finally:
        stop.set()
        await asyncio.wait_for(loop, 10)
    assert (await reader.read()).schedulers == []
