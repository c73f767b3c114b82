"""Every Redis key chronoq uses, in one place (this package; one module per family).

Each key carries a hash tag: `{queue}` for a queue's keys, `{~}` for the
cluster-wide registry. Every script touches the keys of one queue only, so all its
keys hash to one slot and the same code runs on Redis Cluster. Per-job keys are
addressed by *key prefixes* (e.g. `chronoq:{mail}:job:`) passed in KEYS; scripts
append the job id, which keeps the slot (the tag comes before the id).

The families: `keyspace` (the `Keyspace` entry point and the cluster-wide keys),
`queue` (one queue's), `schedules` (the schedule store, the task registry), `flows`
(workflows, campaigns), `control` (limits, locks, ledger entries), `ops` (alerts,
access, bulk operations, operations rollups). Import from here: every name below.
"""

from chronoq.redis.keys.control import LedgerKeys, LimitKeys, LockKeys, locks_registry
from chronoq.redis.keys.flows import CampaignAccountKeys, CampaignKeys, WorkflowKeys
from chronoq.redis.keys.keyspace import DEFAULT_PREFIX, Keyspace
from chronoq.redis.keys.ops import AccessKeys, AlertKeys, OperationKeys, OpsKeys
from chronoq.redis.keys.queue import QueueKeys
from chronoq.redis.keys.schedules import RegistryKeys, ScheduleKeys

__all__ = [
    "DEFAULT_PREFIX",
    "AccessKeys",
    "AlertKeys",
    "CampaignAccountKeys",
    "CampaignKeys",
    "Keyspace",
    "LedgerKeys",
    "LimitKeys",
    "LockKeys",
    "OperationKeys",
    "OpsKeys",
    "QueueKeys",
    "RegistryKeys",
    "ScheduleKeys",
    "WorkflowKeys",
    "locks_registry",
]
