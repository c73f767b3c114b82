"""The alert loop of a worker and of `chronoq scheduler`, loaded when it first runs.

The alert engine reads rollups and metrics, Prometheus' client among them: about a
fifth of what `import chronoq.worker` costs. Its first round is due one interval
after the start anyway, so the engine is imported then: a worker serves its first
jobs that much sooner, and every round still runs on time. The import runs in a
thread: made on the event loop it held the loop for about 60 ms on the 2-vCPU VM,
and every job handed to the worker meanwhile started that late (the idle-latency
stream's max showed it); in a thread the loop keeps running, sharing the
interpreter with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chronoq.app import App
    from chronoq.redis.backend import Backend


async def run_alerts(app: App, backend: Backend, stop: asyncio.Event, interval: float) -> None:
    """Evaluate the app's alert rules every `interval` seconds until `stop`."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), interval)
    if stop.is_set():
        return
    await asyncio.to_thread(importlib.import_module, "chronoq.observe.alerts")
    from chronoq.observe.alerts import AlertEngine  # noqa: PLC0415 (imported just now)

    engine = AlertEngine(
        backend,
        rules=app.declared_alert_rules,
        channels=app.declared_alert_channels,
        app=app.name,
        interval=interval,
    )
    await engine.run(stop, wait_first=False)
