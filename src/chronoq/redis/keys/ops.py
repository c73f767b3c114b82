"""The operators' keys: the alert engine (`{~alerts}`), API tokens, sessions and
the audit log (`{~access}`), bulk operations' records (`{~ops}`) and the
operations rollups (`{~oprollup}`)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property


@dataclass(frozen=True)
class AlertKeys:
    """The alert engine's keys, all with the hash tag `{~alerts}` (one slot: a
    transition reads the silences and writes the state in one script)."""

    prefix: str

    def _key(self, suffix: str) -> str:
        return f"{self.prefix}:{{~alerts}}:{suffix}"

    @cached_property
    def rules(self) -> str:
        """HASH rule name -> rule JSON (added at runtime; code's and defaults are merged)."""
        return self._key("rules")

    @cached_property
    def channels(self) -> str:
        """HASH channel name -> channel JSON (added at runtime)."""
        return self._key("channels")

    @cached_property
    def silences(self) -> str:
        """HASH 'rule' or 'rule<TAB>subject' -> JSON {until_ms, reason}."""
        return self._key("silences")

    @cached_property
    def state(self) -> str:
        """HASH 'rule<TAB>subject' -> JSON {state, since, updated, notified,
        last_notified, value, message, level}: changed only by alert_transition.lua."""
        return self._key("state")

    @cached_property
    def deliveries(self) -> str:
        """LIST of delivery attempts' JSON, newest first, capped (LTRIM)."""
        return self._key("deliveries")

    @cached_property
    def samples_prefix(self) -> str:
        """Prefix of ZSETs (samples_prefix + queue) of the queue's counters as each
        evaluation saw them (member JSON {t, c}, score = server ms), kept one window."""
        return self._key("samples:")

    def samples(self, queue: str) -> str:
        return self.samples_prefix + queue


@dataclass(frozen=True)
class AccessKeys:
    """API tokens and the audit log, with the hash tag `{~access}`."""

    prefix: str

    def _key(self, suffix: str) -> str:
        return f"{self.prefix}:{{~access}}:{suffix}"

    @cached_property
    def tokens(self) -> str:
        """HASH token id -> token JSON (name, role, SHA-256 digest, created_ms)."""
        return self._key("tokens")

    @cached_property
    def audit(self) -> str:
        """STREAM of audit entries (field `e`: entry JSON), capped near
        `AUDIT_MAXLEN` entries; the entry id's milliseconds are its time."""
        return self._key("audit")

    def reply(self, digest: str) -> str:
        """STRING: the HTTP API's stored reply to the request sent with one
        Idempotency-Key (`digest`: the key's SHA-256, hex), kept 24 h."""
        return self._key(f"reply:{digest}")

    def session(self, session_id: str) -> str:
        """STRING: a dashboard session's JSON (token id, form token, created_ms),
        expiring with the session (PX)."""
        return self._key(f"session:{session_id}")

    def sessions(self, token_id: str) -> str:
        """SET of the session ids opened with one token (revoking it drops them)."""
        return self._key(f"sessions:{token_id}")


@dataclass(frozen=True)
class OperationKeys:
    """Bulk operations' records, with the hash tag `{~ops}` (claims, leases and the
    idempotency keys change in one script). Each operation's frozen set of ids and
    its progress live in the queues' slots instead (`QueueKeys.op_ids`)."""

    prefix: str

    def _key(self, suffix: str) -> str:
        return f"{self.prefix}:{{~ops}}:{suffix}"

    @cached_property
    def index(self) -> str:
        """ZSET operation id -> created ms (listings, newest first)."""
        return self._key("index")

    @cached_property
    def runnable(self) -> str:
        """ZSET of operations not finished: id -> lease expiry ms (0: never claimed);
        a runner claims the first whose lease has run out."""
        return self._key("runnable")

    @cached_property
    def wake(self) -> str:
        """LIST used as a doorbell: idle runners block on it for a new operation."""
        return self._key("wake")

    @cached_property
    def op_prefix(self) -> str:
        """Prefix of operation HASHes (+ id): spec, state, lease, capture, result."""
        return self._key("op:")

    def op(self, operation_id: str) -> str:
        return self.op_prefix + operation_id

    @cached_property
    def idem_prefix(self) -> str:
        """Prefix of STRINGs (+ idempotency key) -> operation id, expiring."""
        return self._key("idem:")


@dataclass(frozen=True)
class OpsKeys:
    """The operations rollups (`chronoq.core.ops`): schedules, limits, locks and
    worker processes. All share the hash tag `{~oprollup}` (`{~ops}` is the bulk
    operations'): one script writes a minute's buckets and the totals together."""

    prefix: str

    def _key(self, suffix: str) -> str:
        return f"{self.prefix}:{{~oprollup}}:{suffix}"

    @cached_property
    def minute_prefix(self) -> str:
        """Prefix of the minute bucket HASHes (minute_prefix + epoch ms // 60000);
        fields `<kind><TAB><subject><TAB><name>`. Each resolution expires its keep
        after the slot ends (like the queues' rollups)."""
        return self._key("m:")

    @cached_property
    def hour_prefix(self) -> str:
        return self._key("h:")

    @cached_property
    def day_prefix(self) -> str:
        return self._key("d:")

    def bucket(self, resolution: str, slot: int) -> str:
        """The bucket of resolution 'm', 'h' or 'd' and its slot number."""
        prefix = {"m": self.minute_prefix, "h": self.hour_prefix, "d": self.day_prefix}
        return f"{prefix[resolution]}{slot}"

    @cached_property
    def totals(self) -> str:
        """HASH of lifetime counts (same fields as the buckets'; no TTL, bounded by
        schedules + limits + lock families)."""
        return self._key("totals")

    @cached_property
    def lock_families(self) -> str:
        """SET of the lock families counted by name (at most FAMILY_CAP)."""
        return self._key("lockfam")
