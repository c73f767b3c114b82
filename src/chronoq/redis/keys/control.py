"""The keys of the coordination primitives (`chronoq.control`): one rate limit or
quota (`{lim:NAME}`), one distributed lock (`{lock:NAME}`) and the prefix's lock
registry, one ledger entry (`{ledger:NAME:KEY}`)."""

from __future__ import annotations

from dataclasses import dataclass

from chronoq.redis.keys.ops import OpsKeys


def locks_registry(prefix: str) -> str:
    """`Keyspace.locks` (and `LockKeys.registry`): one name for both."""
    return f"{prefix}:{{~}}:locks"


@dataclass(frozen=True, slots=True)
class LockKeys:
    """The keys of one lock. All share the hash tag `{lock:NAME}`, so each lock
    script touches one slot (Redis Cluster)."""

    prefix: str
    name: str

    def _key(self, suffix: str) -> str:
        return f"{self.prefix}:{{lock:{self.name}}}:{suffix}"

    @property
    def holder(self) -> str:
        """STRING: the holder's random token; expires with the lease (PX)."""
        return self._key("holder")

    @property
    def fence(self) -> str:
        """Counter: the fencing token of the latest acquire. Never expires, so tokens
        only grow (deleting it restarts them: don't)."""
        return self._key("fence")

    @property
    def wake(self) -> str:
        """LIST: a release pushes one token (short expiry) that wakes one waiter."""
        return self._key("wake")

    @property
    def registry(self) -> str:
        """The prefix's lock registry (`Keyspace.locks`), which names this lock."""
        return locks_registry(self.prefix)

    @property
    def ops(self) -> OpsKeys:
        """Where the lock's contention and losses are counted (per lock family)."""
        return OpsKeys(self.prefix)


@dataclass(frozen=True, slots=True)
class LimitKeys:
    """The keys of one limit. All share the hash tag `{lim:NAME}`: one slot per limit,
    so a decision for many keys of one limit is one script call."""

    prefix: str
    name: str

    def _key(self, suffix: str) -> str:
        return f"{self.prefix}:{{lim:{self.name}}}:{suffix}"

    @property
    def config(self) -> str:
        """HASH: the limit's JSON ('json'), its version ('ver') and the numbers the
        script reads (kind, n, per_ms, burst, gap_ms); 'code' = fingerprint of the
        definition last synced from code."""
        return self._key("cfg")

    @property
    def state_prefix(self) -> str:
        """Prefix of per-key state HASHes (state_prefix + key): GCRA time, last start,
        blocked-until, period counts."""
        return self._key("s:")

    def state(self, key: str) -> str:
        return self.state_prefix + key

    @property
    def keys(self) -> str:
        """ZSET limit key -> last decision ms (recently used keys, for views)."""
        return self._key("keys")

    @property
    def booked(self) -> str:
        """ZSET '<queue> <job id>' -> booked ms: jobs waiting for a future start, to be
        released (decided again) when the limit changes."""
        return self._key("booked")

    @property
    def use_prefix(self) -> str:
        """Prefix of a quota's use history (use_prefix + local ISO day): HASH limit
        key (account) -> starts granted in periods of that local day; expires
        CHRONOQ_METRICS_DAYS after the day (limit_acquire.lua writes it)."""
        return self._key("u:")

    def use(self, day: str) -> str:
        return self.use_prefix + day


@dataclass(frozen=True, slots=True)
class LedgerKeys:
    """The key of one ledger entry, tag `{ledger:NAME:KEY}`: entries spread over the
    cluster's slots, and each ledger script touches one."""

    prefix: str
    name: str
    key: str

    @property
    def entry(self) -> str:
        """HASH: state, owner, data (JSON), updated (ms), history (JSON); expires."""
        return f"{self.prefix}:{{ledger:{self.name}:{self.key}}}"
