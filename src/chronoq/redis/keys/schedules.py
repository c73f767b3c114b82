"""The keys of what code publishes for the fleet: the schedule store (`{~sched}`)
and the task registry (`{~reg}`). A scheduler loop's liveness keys are
`Keyspace`'s."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property


@dataclass(frozen=True)
class ScheduleKeys:
    """The keys of every schedule under one prefix. All share the hash tag `{~sched}`."""

    prefix: str

    def _key(self, suffix: str) -> str:
        return f"{self.prefix}:{{~sched}}:{suffix}"

    @cached_property
    def defs(self) -> str:
        """HASH name -> definition JSON."""
        return self._key("defs")

    @cached_property
    def due(self) -> str:
        """ZSET name -> epoch ms of the earliest unfired run (absent: paused or over)."""
        return self._key("due")

    @cached_property
    def meta(self) -> str:
        """HASH name -> JSON {origin: code|runtime, fingerprint, updated}."""
        return self._key("meta")

    @cached_property
    def runs(self) -> str:
        """HASH name -> runs fired so far."""
        return self._key("runs")

    @cached_property
    def last(self) -> str:
        """HASH name -> JSON {due, job, queue} of the latest fired run."""
        return self._key("last")

    @cached_property
    def history_prefix(self) -> str:
        """Prefix of per-schedule LISTs (history_prefix + name) of what happened to its
        runs, newest first, capped: enqueued, skipped, missed (schedule_advance.lua),
        triggered, backfilled, paused, resumed (the schedule store)."""
        return self._key("hist:")

    def history(self, name: str) -> str:
        return self.history_prefix + name

    @cached_property
    def version(self) -> str:
        """Counter bumped by every change, so a loop can tell it missed one."""
        return self._key("version")

    @cached_property
    def channel(self) -> str:
        """Pub/sub channel announcing changes (a channel, not a key)."""
        return self._key("changed")


@dataclass(frozen=True)
class RegistryKeys:
    """The task registry's keys: global to the prefix (not per queue), all with the
    hash tag `{~reg}` so that publishing is one script on one Cluster slot."""

    prefix: str

    def _key(self, suffix: str) -> str:
        return f"{self.prefix}:{{~reg}}:{suffix}"

    @cached_property
    def tasks(self) -> str:
        """HASH task name -> published definition JSON (the latest publisher's)."""
        return self._key("tasks")

    @cached_property
    def publishers(self) -> str:
        """HASH publisher id (a worker or scheduler process) -> JSON {app, host, pid,
        kind, started, tasks: {name: version}, schedules: [declared names]}."""
        return self._key("publishers")

    @cached_property
    def alive(self) -> str:
        """ZSET publisher id -> expiry ms (server clock), pushed on by its heartbeat."""
        return self._key("alive")
