"""The worker's side of workflows: when a step's job is recorded as ended, move its
workflow on in the background (the outcome writer is never held up; plain jobs
never get here: the worker tests the job's options for a workflow marker first).
A failure here loses nothing: the sweep finds the step ended and advances."""

from __future__ import annotations

import asyncio
import logging

from chronoq.redis.cancel import cancel_and_wait
from chronoq.workflows.engine import Workflows

log = logging.getLogger("chronoq.workflows")


class Advancer:
    def __init__(self, workflows: Workflows) -> None:
        self.workflows = workflows
        self._pending: set[asyncio.Task[None]] = set()

    def step_ended(self, marker: str, job_id: str) -> None:
        task = asyncio.create_task(self._advance(marker, job_id))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _advance(self, marker: str, job_id: str) -> None:
        try:
            await self.workflows.step_finished(marker, job_id)
        except Exception as exc:
            log.warning("chronoq: workflow step %s (job %s) not advanced yet: %s; "
                        "the sweep will", marker, job_id, exc)  # fmt: skip

    async def drain(self, patience: float) -> None:
        if self._pending:
            await asyncio.wait(list(self._pending), timeout=patience)
        await cancel_and_wait(list(self._pending))
