"""The keys of one queue (`QueueKeys`): its job indexes, gates, doorbells, job
hashes, search indexes and the per-queue parts of bulk operations, all under the
queue's hash tag `{queue}`."""

from __future__ import annotations

from dataclasses import dataclass


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
        """ZSET of succeeded ids; score = finish ms. The other finished states have
        their own (`finished`), so each state is kept by its own age and count."""
        return self._key("done")

    @property
    def done_prefix(self) -> str:
        """Prefix of the ZSETs of ids finished otherwise (done_prefix + status:
        cancelled, expired, skipped); score = finish ms. Scripts name them from the
        done key (done .. ':' .. status: the same slot)."""
        return self._key("done:")

    def finished(self, status: str) -> str:
        """The index of jobs finished in `status` ('dead': the dead-letter queue)."""
        if status == "succeeded":
            return self.done
        if status == "dead":
            return self.dead
        return self.done_prefix + status

    @property
    def events(self) -> str:
        """STREAM of the queue's state changes (fields job, status), capped near
        CHRONOQ_EVENTS_MAXLEN entries (XADD MAXLEN ~)."""
        return self._key("events")

    @property
    def seq(self) -> str:
        """Counter giving FIFO order among jobs of equal priority."""
        return self._key("seq")

    @property
    def fair(self) -> str:
        """HASH for fair sharing: 'vt' (FIFO number of the latest claim) and
        'a:<account>' (each account's last FIFO number)."""
        return self._key("fair")

    @property
    def blocked(self) -> str:
        """ZSET of jobs parked behind a full gate; score = parked ms."""
        return self._key("blocked")

    @property
    def gate_prefix(self) -> str:
        """Prefix of gate SETs (gate_prefix + key): ids of running jobs holding the key."""
        return self._key("gate:")

    @property
    def parked_prefix(self) -> str:
        """Prefix of LISTs (parked_prefix + key) of jobs waiting for the key, in order."""
        return self._key("parked:")

    @property
    def fence_prefix(self) -> str:
        """Prefix of lock keys' fencing counters (fence_prefix + key): INCR by every run
        entering the key's gate (limit 1), so a run's fence grows with each run holding
        it. Never expire, like a lock's fence (deleting one restarts its tokens)."""
        return self._key("fence:")

    @property
    def paused(self) -> str:
        """HASH present while the queue is paused (`chronoq queues pause`): reason,
        since (server ms), by. claim.lua reads it first and claims nothing then."""
        return self._key("paused")

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

    def rollup(self, resolution: str, slot: int) -> str:
        """HASH of one metrics bucket: resolution 'm', 'h' or 'd' (minute, hour, day),
        slot = epoch ms // its length; fields `<task>\t<name>` (chronoq.core.rollups).
        Expires its resolution's keep after the slot ends."""
        return self._key(f"{resolution}:{slot}")

    @property
    def histograms(self) -> str:
        """HASH of the lifetime wait/run/lateness bucket counts (fields as `rollup`'s),
        for Prometheus's cumulative histograms. Bounded: tasks x buckets; no TTL."""
        return self._key("hist")

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

    @property
    def index_prefix(self) -> str:
        """Prefix of the search indexes and failure groups (the scripts build the
        names below from it, `index_*` in _lib.lua; so do these methods). A job's
        final state is indexed by `finished(status)` (done, done:<status>, dead), the
        one per-state index every reader and trim.lua share; these index the rest:

        - `d:t:<task>`, `d:a:<account>`, `d:g:<fingerprint>`: ZSETs of dead ids by time
          of death, kept exactly (requeue, purge and trim remove their entries);
        - `f:t:<task>`, `f:a:<account>`: ZSETs of finished ids (any finished state)
          by finish ms; trim.lua removes a trimmed job's entries, and entries older
          than the longest finished retention (records that expired on their own);
          `f:keys` ZSET of those suffixes, score = a lower bound of their oldest
          entry (what the trimmer walks);
        - `g:<fingerprint>` HASH of a failure group (task, cls, title, count,
          first, last, resolved, note), `g:<fingerprint>:a` ZSET of its accounts by
          last failure, `groups` ZSET of fingerprints by last failure."""
        return self._key("ix:")

    def index(self, family: str, kind: str, value: str) -> str:
        """A search index: family 'd' (dead) or 'f' (finished), kind 't' (task),
        'a' (account) or 'g' (group, dead only)."""
        return f"{self.index_prefix}{family}:{kind}:{value}"

    @property
    def groups(self) -> str:
        return self.index_prefix + "groups"

    def group(self, fingerprint: str) -> str:
        return f"{self.index_prefix}g:{fingerprint}"

    def group_accounts(self, fingerprint: str) -> str:
        return f"{self.index_prefix}g:{fingerprint}:a"

    @property
    def op_progress_prefix(self) -> str:
        """Prefix of a bulk operation's per-queue HASHes (+ '<operation id>:<capture
        token>'): 'n' ids in its set, 'cursor' (ids done), 'o:<outcome>' counts,
        'cancelled'. Next to the queue's jobs so one script moves a batch of them and
        advances the cursor (chronoq.core.operations)."""
        return self._key("op:")

    def op_progress(self, part: str) -> str:
        return self.op_progress_prefix + part

    @property
    def op_ids_prefix(self) -> str:
        """Prefix of a bulk operation's frozen per-queue LISTs of job ids (+ the same
        '<operation id>:<capture token>' as its progress hash)."""
        return self._key("opids:")

    def op_ids(self, part: str) -> str:
        return self.op_ids_prefix + part

    def job(self, job_id: str) -> str:
        return self.job_prefix + job_id

    def result(self, job_id: str) -> str:
        return self.result_prefix + job_id

    def unique(self, unique_key: str) -> str:
        return self.unique_prefix + unique_key
