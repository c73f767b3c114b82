"""The task registry in Redis: what each running app's workers define.

Every worker (and `chronoq scheduler`) is a *publisher*: at start it stores the
definitions of its app's tasks (`PublishedTask` JSON, by name) and an entry saying
which app it runs, which task versions and which declared schedules it has; its
heartbeat keeps the entry alive, a graceful stop withdraws it, and one whose
heartbeats stopped expires. Definitions outlive their publishers, so producers can
enqueue while workers restart; *liveness* (a running app defines the task, declares
the schedule) is read from the entries.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from redis.asyncio import Redis

from chronoq.core import serialization
from chronoq.core.registry import PublishedTask
from chronoq.redis.keys import Keyspace, RegistryKeys
from chronoq.redis.scripts import SCRIPTS

LIVE_MAX = 10_000  # entries one read returns: far more processes than one deployment runs


@dataclass(frozen=True, slots=True)
class Publisher:
    """One live process's entry: its app, its tasks' versions, its declared schedules."""

    id: str
    app: str
    host: str = ""
    pid: int = 0
    kind: str = "worker"  # or "scheduler"
    started: float = 0.0
    tasks: dict[str, str] = field(default_factory=dict)  # name -> version
    schedules: tuple[str, ...] = ()

    def to_json(self) -> str:
        return serialization.dumps(
            {"app": self.app, "host": self.host, "pid": self.pid, "kind": self.kind,
             "started": self.started, "tasks": self.tasks, "schedules": list(self.schedules)}
        )  # fmt: skip

    @classmethod
    def from_json(cls, publisher_id: str, text: str) -> Publisher:
        raw = serialization.loads(text)
        return cls(
            publisher_id,
            str(raw.get("app", "")),
            str(raw.get("host", "")),
            int(raw.get("pid", 0)),
            str(raw.get("kind", "worker")),
            float(raw.get("started", 0.0)),
            {str(k): str(v) for k, v in dict(raw.get("tasks", {})).items()},
            tuple(str(s) for s in raw.get("schedules", ())),
        )


class RegistryStore:
    def __init__(self, redis: Redis, keyspace: Keyspace) -> None:
        self.redis = redis
        self.keys: RegistryKeys = keyspace.registry

    async def publish(
        self, publisher: Publisher, definitions: Iterable[PublishedTask], *, ttl: float
    ) -> None:
        """Store the definitions and the publisher's entry, alive for `ttl` seconds."""
        args: list[str | int] = [publisher.id, _ms(ttl), publisher.to_json()]
        for definition in definitions:
            args += [definition.name, definition.to_json()]
        await SCRIPTS.registry_publish(self.redis, self._keys(), args)

    async def refresh(self, publisher_id: str, *, ttl: float) -> bool:
        """Keep an entry alive; False when it expired meanwhile (publish it again)."""
        reply = await SCRIPTS.registry_publish(
            self.redis, self._keys(), [publisher_id, _ms(ttl), ""]
        )
        return bool(reply)

    async def withdraw(self, publisher_id: str) -> None:
        k = self.keys
        await SCRIPTS.registry_withdraw(self.redis, [k.publishers, k.alive], [publisher_id])

    async def definitions(self, names: Sequence[str]) -> dict[str, PublishedTask]:
        """The published definitions of these names (absent: never published)."""
        if not names:
            return {}
        raw = await self.redis.hmget(self.keys.tasks, list(names))
        return {n: PublishedTask.from_json(str(t)) for n, t in zip(names, raw, strict=True) if t}

    async def all_definitions(self) -> list[PublishedTask]:
        raw = await self.redis.hgetall(self.keys.tasks)
        return [PublishedTask.from_json(str(text)) for _, text in sorted(raw.items())]

    async def live(self) -> list[Publisher]:
        """The entries of publishers whose heartbeats are current (server clock)."""
        k = self.keys
        flat = await SCRIPTS.registry_live(self.redis, [k.publishers, k.alive], [LIVE_MAX])
        return [Publisher.from_json(str(flat[i]), str(flat[i + 1])) for i in range(0, len(flat), 2)]

    async def live_tasks(self) -> set[str]:
        """Names of the tasks some running app defines."""
        return {name for publisher in await self.live() for name in publisher.tasks}

    def _keys(self) -> list[str]:
        k = self.keys
        return [k.tasks, k.publishers, k.alive]


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))
