"""Run a worker until SIGTERM or SIGINT: the first asks it to drain, the second forces it.

Signals are honoured at every moment the loop runs: while the worker still waits
for Redis at start-up (it stops at once), while it serves, and while it drains.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable

from chronoq.worker.runner import Worker

log = logging.getLogger("chronoq.worker")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


async def run_until_signalled(
    worker: Worker, forward: Callable[[signal.Signals], None] | None = None
) -> None:
    """`worker.run()` with signal handlers installed on the running loop.

    The first signal starts a graceful shutdown (running jobs get the shutdown
    timeout, unfinished ones are handed back); a second one stops waiting.
    `forward` passes each signal on, e.g. to sibling worker processes.
    """
    loop = asyncio.get_running_loop()

    def on_signal(sig: signal.Signals) -> None:
        log.warning("received %s: %s", sig.name, _what_happens_next(worker))
        worker.request_stop()
        if forward is not None:
            forward(sig)

    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        await worker.run()
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)


def _what_happens_next(worker: Worker) -> str:
    if worker.state == "starting":
        return "stopping before start-up finished"
    if worker.stop_requested:
        return "stopping now; unfinished jobs are handed back"
    return (
        f"finishing {worker.running_count} running job(s) within "
        f"{worker.shutdown_timeout:g}s (signal again to stop at once)"
    )
