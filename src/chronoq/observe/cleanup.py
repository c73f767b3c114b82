"""Trimming by hand (`chronoq cleanup --days N`): what the workers' trimmer does on
its own, with an age the operator chooses, on every queue or one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chronoq.client import Client
from chronoq.core.job import JobStatus
from chronoq.core.retention import FINISHED_STATES, Keep

DAY = 86400.0


@dataclass(frozen=True, slots=True)
class Cleanup:
    """How many jobs were forgotten, per queue and final state, and each queue's
    'trimmed' counter afterwards (everything trimmed there so far)."""

    removed: dict[str, dict[JobStatus, int]]
    counters: dict[str, int]

    @property
    def total(self) -> int:
        return sum(sum(by_state.values()) for by_state in self.removed.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "trimmed": self.total,
            "queues": {
                queue: {
                    "removed": {s.value: n for s, n in by_state.items()},
                    "trimmed_total": self.counters.get(queue, 0),
                }
                for queue, by_state in self.removed.items()
            },
        }


async def cleanup(
    client: Client, *, days: float, queue: str | None = None, dead: bool = False
) -> Cleanup:
    """Forget finished jobs (and with `dead`, dead ones) older than `days`, and those
    beyond each state's count in the retention policy."""
    policy = client.settings.retention_policy()
    states = (*FINISHED_STATES, JobStatus.DEAD) if dead else FINISHED_STATES
    names = [queue] if queue else await client.inspector.queues()
    removed: dict[str, dict[JobStatus, int]] = {}
    for name in names:
        removed[name] = {
            status: await client.broker.trim_state(
                name,
                status,
                Keep(days * DAY, policy.keep(status).count),
                index_age_ms=Keep(days * DAY).age_ms,
            )
            for status in states
        }
    counts = {row.queue: row.stats.get("trimmed", 0) for row in await client.queues()}
    return Cleanup(removed, {name: counts.get(name, 0) for name in names})
