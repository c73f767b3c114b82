"""Every Redis key chronoq uses, in one place.

Each key carries a hash tag: `{queue}` for a queue's keys, `{~}` for the
cluster-wide registry. Every script touches the keys of one queue only, so all its
keys hash to one slot and the same code runs on Redis Cluster. Per-job keys are
addressed by *key prefixes* (e.g. `chronoq:{mail}:job:`) passed in KEYS; scripts
append the job id, which keeps the slot (the tag comes before the id).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from chronoq.core.errors import ConfigurationError

_QUEUE_NAME = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")
DEFAULT_PREFIX = "chronoq"


def validate_queue_name(name: str) -> str:
    if not _QUEUE_NAME.match(name):
        raise ConfigurationError(
            f"invalid queue name {name!r}: use 1-64 letters, digits, '_', '.', ':' or '-'"
        )
    return name


@dataclass(frozen=True, slots=True)
class QueueKeys:
    """The keys of one queue. All share the hash tag `{queue}`."""

    prefix: str
    queue: str

    def _key(self, name: str) -> str:
        return f"{self.prefix}:{{{self.queue}}}:{name}"

    @property
    def ready(self) -> str:
        """ZSET of job ids ready to run; score orders by priority, then FIFO."""
        return self._key("ready")

    @property
    def scheduled(self) -> str:
        """ZSET of job ids waiting for a time (delayed jobs, retries); score = due ms."""
        return self._key("scheduled")

    @property
    def active(self) -> str:
        """ZSET of leased job ids; score = lease expiry ms (server clock)."""
        return self._key("active")

    @property
    def dead(self) -> str:
        """ZSET of dead-lettered job ids; score = time of death ms."""
        return self._key("dead")

    @property
    def done(self) -> str:
        """ZSET of finished (succeeded, cancelled, expired) ids; score = finish ms."""
        return self._key("done")

    @property
    def seq(self) -> str:
        """Counter giving FIFO order among jobs of equal priority."""
        return self._key("seq")

    @property
    def wake(self) -> str:
        """LIST used as a doorbell: idle workers block on it (BLPOP) for new work."""
        return self._key("wake")

    @property
    def idle(self) -> str:
        """ZSET of workers waiting for this queue's jobs; score = registration ms."""
        return self._key("idle")

    @property
    def idle_leases(self) -> str:
        """HASH worker id -> 'token|lease_ms' for direct hand-off to an idle worker."""
        return self._key("idle:lease")

    @property
    def inbox_prefix(self) -> str:
        """Prefix of per-worker LISTs receiving handed-off jobs: inbox_prefix + worker id."""
        return self._key("inbox:")

    def inbox(self, worker_id: str) -> str:
        return self.inbox_prefix + worker_id

    @property
    def stats(self) -> str:
        """HASH of lifetime counters (succeeded, retried, dead, ...)."""
        return self._key("stats")

    @property
    def job_prefix(self) -> str:
        """Prefix of job hashes: job_prefix + id."""
        return self._key("job:")

    @property
    def result_prefix(self) -> str:
        """Prefix of result strings: result_prefix + id."""
        return self._key("res:")

    @property
    def unique_prefix(self) -> str:
        """Prefix of unique-key claims: unique_prefix + key -> job id."""
        return self._key("uniq:")

    def job(self, job_id: str) -> str:
        return self.job_prefix + job_id

    def result(self, job_id: str) -> str:
        return self.result_prefix + job_id

    def unique(self, unique_key: str) -> str:
        return self.unique_prefix + unique_key


@dataclass(frozen=True)
class Keyspace:
    """Key names under one prefix; tests give each test its own prefix."""

    prefix: str = DEFAULT_PREFIX

    def queue(self, name: str) -> QueueKeys:
        return QueueKeys(self.prefix, validate_queue_name(name))

    @cached_property
    def queues(self) -> str:
        """SET of every queue name that has ever received a job."""
        return f"{self.prefix}:{{~}}:queues"

    @cached_property
    def workers(self) -> str:
        """ZSET of worker ids; score = last heartbeat ms."""
        return f"{self.prefix}:{{~}}:workers"

    def worker(self, worker_id: str) -> str:
        """HASH describing one live worker; expires when heartbeats stop."""
        return f"{self.prefix}:{{~}}:worker:{worker_id}"

    @cached_property
    def schedules(self) -> ScheduleKeys:
        return ScheduleKeys(self.prefix)


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
    def version(self) -> str:
        """Counter bumped by every change, so a loop can tell it missed one."""
        return self._key("version")

    @cached_property
    def channel(self) -> str:
        """Pub/sub channel announcing changes (a channel, not a key)."""
        return self._key("changed")
