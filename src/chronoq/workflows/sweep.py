"""The recovery sweep: workers and scheduler loops look after workflows nobody is
advancing right now (a delayed step now due, a step whose end no worker reported:
it crashed between recording a job and advancing its workflow).

Each pass claims a few due workflows from the shared attention index with a lease
(`wf_due_claim.lua`: other sweepers skip them meanwhile) and settles each; the
settle sets the next attention time. Sweepers racing over one workflow are safe
anyway (every transition is compare-and-set): the lease only saves work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from chronoq.workflows.engine import Workflows

log = logging.getLogger("chronoq.workflows")

LEASE_MS = 60_000  # a claimed workflow is left to its sweeper this long
BATCH = 20  # workflows claimed per pass


class Sweeper:
    def __init__(self, workflows: Workflows, *, interval: float) -> None:
        self.workflows = workflows
        self.interval = interval

    async def sweep_once(self) -> int:
        """One pass: settle each claimed workflow. Returns how many were claimed."""
        claimed = await self.workflows.store.claim_due(lease_ms=LEASE_MS, limit=BATCH)
        for wf_id in claimed:
            try:
                await self.workflows.settle(wf_id)
            except Exception:
                # Its lease ends and another pass tries again.
                log.exception("chronoq: could not advance workflow %s", wf_id)
        return len(claimed)

    async def run(self, stop: asyncio.Event) -> None:
        """Sweep every `interval` seconds (at once again while passes find a full
        batch) until `stop`. Redis faults are logged and the next pass tries again."""
        while not stop.is_set():
            try:
                if await self.sweep_once() >= BATCH:
                    continue
            except Exception as exc:
                log.warning("chronoq: workflow sweep failed: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)
