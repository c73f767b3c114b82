"""The task registry as operators read it: every task this app defines or a live
worker published, with its options, parameters and whether a worker serves it now."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chronoq.core.registry import PublishedTask
from chronoq.core.task import TaskRegistry
from chronoq.redis.backend import Backend


@dataclass(frozen=True, slots=True)
class TaskInfo:
    definition: PublishedTask
    in_app: bool  # defined by the app reading it
    published: bool  # a worker published a definition of it
    live: bool  # a live worker (or scheduler) has it registered now

    @property
    def name(self) -> str:
        return self.definition.name

    def to_dict(self) -> dict[str, Any]:
        return {**self.definition.to_dict(), "in_app": self.in_app,
                "published": self.published, "live": self.live}  # fmt: skip


async def task_catalog(registry: TaskRegistry, backend: Backend) -> list[TaskInfo]:
    """The app's tasks and the published ones, by name (the app's definition wins:
    it is what this process enqueues with). Two round trips."""
    published = {d.name: d for d in await backend.registry.all_definitions()}
    live = await backend.registry.live_tasks()
    local = {task.name: PublishedTask.of(task) for task in registry}
    names = sorted(set(published) | set(local))
    return [
        TaskInfo(local.get(n) or published[n], n in local, n in published, n in live) for n in names
    ]
