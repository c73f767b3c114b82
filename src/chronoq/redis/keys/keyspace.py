"""`Keyspace`: the entry point to every key name under one prefix. It names the
cluster-wide keys itself (queues, workers, schedulers, campaigns' and workflows'
indexes, records, once claims) and hands out the key families of the sibling
modules (a queue's, a schedule store's, a lock's, ...)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

from chronoq.core.names import validate_account_name, validate_lock_name, validate_queue_name
from chronoq.redis.keys.control import LedgerKeys, LimitKeys, LockKeys, locks_registry
from chronoq.redis.keys.flows import CampaignAccountKeys, CampaignKeys, WorkflowKeys
from chronoq.redis.keys.ops import AccessKeys, AlertKeys, OperationKeys, OpsKeys
from chronoq.redis.keys.queue import QueueKeys
from chronoq.redis.keys.schedules import RegistryKeys, ScheduleKeys

DEFAULT_PREFIX = "chronoq"


@lru_cache(maxsize=4096)
def _queue_keys(prefix: str, name: str) -> QueueKeys:
    """One QueueKeys per (prefix, queue), validated once: every claim and completion
    asks for its queue's keys (a name check and an object per call, otherwise)."""
    return QueueKeys(prefix, validate_queue_name(name))


@dataclass(frozen=True)
class Keyspace:
    """Key names under one prefix; tests give each test its own prefix."""

    prefix: str = DEFAULT_PREFIX

    def queue(self, name: str) -> QueueKeys:
        return _queue_keys(self.prefix, name)

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
    def schedulers(self) -> str:
        """ZSET of scheduler loop ids; score = last heartbeat ms (the loop's clock).
        An entry whose hash expired is a loop that stopped without withdrawing."""
        return f"{self.prefix}:{{~}}:schedulers"

    def scheduler(self, loop_id: str) -> str:
        """HASH describing one live scheduler loop; expires when its heartbeats stop."""
        return f"{self.prefix}:{{~}}:scheduler:{loop_id}"

    @cached_property
    def schedules(self) -> ScheduleKeys:
        return ScheduleKeys(self.prefix)

    def workflow(self, workflow_id: str) -> WorkflowKeys:
        """The keys of one workflow (`chronoq.workflows`), under its own hash tag."""
        return WorkflowKeys(self.prefix, workflow_id)

    @cached_property
    def workflows(self) -> str:
        """ZSET of every workflow id; score = creation ms (`chronoq workflows list`)."""
        return f"{self.prefix}:{{~wf}}:all"

    @cached_property
    def workflows_due(self) -> str:
        """ZSET of the workflows needing attention; score = when (epoch ms): a delayed
        step's due time, or a recheck of steps whose outcome may be unrecorded. The
        recovery sweep claims entries by raising their score (a lease)."""
        return f"{self.prefix}:{{~wf}}:due"

    def campaign(self, name: str) -> CampaignKeys:
        """The keys of one campaign (`chronoq.campaigns`), under its own hash tag."""
        return CampaignKeys(self.prefix, name)

    @cached_property
    def campaigns(self) -> str:
        """ZSET of every campaign name; score = creation ms (`chronoq campaigns list`)."""
        return f"{self.prefix}:{{~cmp}}:all"

    def campaign_recipient(self, email: str) -> str:
        """HASH campaign name -> enrolment ms: the campaigns that enrolled `email`
        (lowercased), so a reply without a campaign finds its campaigns without a
        scan. One key per recipient under its own hash tag `{cmpr:<email>}` (braces
        escaped): written after the enrolment (another slot), so an entry may be
        missing for a crash in between (the enrolment's retry writes it) or stale
        (its reader checks the campaign's own enrolment)."""
        tag = email.replace("{", "%7B").replace("}", "%7D")
        return f"{self.prefix}:{{cmpr:{tag}}}:campaigns"

    @cached_property
    def campaign_suppression(self) -> str:
        """HASH email (lowercased) -> reason: the suppression list every campaign's
        grant checks (bounces, unsubscribes, operators' entries)."""
        return f"{self.prefix}:{{~cmpsup}}:emails"

    @cached_property
    def cancel_channel(self) -> str:
        """Pub/sub channel carrying the ids of running jobs to cancel (a channel, not a
        key): every worker listens and the one running the job stops it."""
        return f"{self.prefix}:cancel"

    @cached_property
    def registry(self) -> RegistryKeys:
        return RegistryKeys(self.prefix)

    def limit(self, name: str) -> LimitKeys:
        """The keys of one named rate limit or quota (`chronoq.control.limiter`)."""
        return LimitKeys(self.prefix, name)

    def campaign_account(self, account: str) -> CampaignAccountKeys:
        """The send counters of one campaign account (`chronoq.campaigns.grant`)."""
        return CampaignAccountKeys(self.prefix, validate_account_name(account))

    @cached_property
    def limits(self) -> str:
        """SET of every limit name that was ever set."""
        return f"{self.prefix}:{{~}}:limits"

    @cached_property
    def account_zones(self) -> str:
        """HASH account -> IANA zone, for quotas counted in the account's zone."""
        return f"{self.prefix}:{{~}}:account-tz"

    @cached_property
    def locks(self) -> str:
        """ZSET lock name -> last acquire ms (the acquirer's clock): the registry that
        lists locks without a SCAN. Written beside each acquire (the same round trip);
        a name without a holder for a day is dropped by the next listing."""
        return locks_registry(self.prefix)

    def lock(self, name: str) -> LockKeys:
        """The keys of one distributed lock (`chronoq.control.locks`)."""
        return LockKeys(self.prefix, validate_lock_name(name))

    @cached_property
    def alerts(self) -> AlertKeys:
        return AlertKeys(self.prefix)

    @cached_property
    def access(self) -> AccessKeys:
        return AccessKeys(self.prefix)

    @cached_property
    def operations(self) -> OperationKeys:
        return OperationKeys(self.prefix)

    @cached_property
    def ops(self) -> OpsKeys:
        return OpsKeys(self.prefix)

    def record(self, namespace: str, key: str) -> str:
        """STRING holding one JSON record of `Client.records(namespace)` (the
        connectors' ETags, robots.txt cache, search results); tag `{rec:NAMESPACE}`."""
        return f"{self.prefix}:{{rec:{namespace}}}:{validate_lock_name(key, what='record key')}"

    def ledger(self, name: str, key: str) -> LedgerKeys:
        return LedgerKeys(self.prefix, name, key)

    def once(self, key: str) -> str:
        """STRING claimed by `App.once(key)` (SET NX PX); tag `{once:KEY}`."""
        return f"{self.prefix}:{{once:{validate_lock_name(key, what='once key')}}}"
