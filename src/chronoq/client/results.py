"""What the client hands back: `EnqueuedJob` per request, `JobFailed` for an
awaited job that ended without a result, `CancelReply`; and the "enqueued" hook
events of an enqueue, fired in this process (`fire`). Shared by `Client` and
`SyncClient`."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from chronoq.core.claims import Enqueued, Placement
from chronoq.core.errors import ChronoqError
from chronoq.core.events import EventKind, HookRegistry, JobEvent
from chronoq.core.job import Job, JobSpec, JobStatus

log = logging.getLogger("chronoq.client")


CancelReply = Literal["cancelled", "cancelling"]


class JobFailed(ChronoqError):
    """The awaited job ended without a result (dead, cancelled or expired)."""

    def __init__(self, job: Job) -> None:
        super().__init__(f"job {job.id} ended {job.status.value}: {job.error or 'no error'}")
        self.job = job


@dataclass(frozen=True, slots=True)
class EnqueuedJob:
    id: str
    queue: str
    status: JobStatus
    created: bool  # False when the unique key returned an existing job

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "queue": self.queue, "status": self.status.value,
                "created": self.created}  # fmt: skip


def place_results(
    out: list[EnqueuedJob | None],
    queue: str,
    items: list[tuple[int, JobSpec, Placement]],
    results: list[Enqueued],
) -> None:
    for (index, _, _), res in zip(items, results, strict=True):
        out[index] = EnqueuedJob(res.id, queue, res.status, res.created)


def enqueued_events(
    hooks: HookRegistry,
    queue: str,
    items: list[tuple[int, JobSpec, Placement]],
    results: list[Enqueued],
) -> list[JobEvent]:
    """An "enqueued" event per job created (not per deduplicated request)."""
    if not hooks.wants(EventKind.ENQUEUED):
        return []
    return [
        JobEvent(EventKind.ENQUEUED, res.id, spec.task, queue, outcome=res.status.value)
        for (_, spec, _), res in zip(items, results, strict=True)
        if res.created
    ]


async def fire(hooks: HookRegistry, events: Iterable[JobEvent]) -> None:
    """Run each event's hooks in this process, in order (the task's, then the app's):
    a sync hook is called here, an async one awaited; keep them quick, they delay the
    enqueue's return. A hook that raises is logged and changes nothing."""
    for event in events:
        for hook in hooks.chain(event.kind, event.task):
            try:
                result = hook(event)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                what = (event.kind.value, hook, event.job_id)
                log.exception("chronoq: %s hook %r failed for job %s", *what)
