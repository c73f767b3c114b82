"""The alert loop of a worker and of `chronoq scheduler`, loaded when it first runs.

The alert engine reads rollups and metrics, Prometheus' client among them: about a
fifth of what `import chronoq.worker` costs. Its first round is due one interval
after the start anyway, so the engine is imported then: a worker serves its first
jobs that much sooner, and every round still runs on time.
"""

from __future__ import annotations

import asyncio
import contextlib
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
    from chronoq.observe.alerts import AlertEngine  # noqa: PLC0415 (see the module docstring)

    engine = AlertEngine(
        backend,
        rules=app.declared_alert_rules,
        channels=app.declared_alert_channels,
        app=app.name,
        interval=interval,
    )
    await engine.run(stop, wait_first=False)
