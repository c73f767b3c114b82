"""Every Redis key chronoq uses, in one place.

Each key carries a hash tag: `{queue}` for a queue's keys, `{~}` for the
cluster-wide registry. Every script touches the keys of one queue only, so all its
keys hash to one slot and the same code runs on Redis Cluster. Per-job keys are
addressed by *key prefixes* (e.g. `chronoq:{mail}:job:`) passed in KEYS; scripts
append the job id, which keeps the slot (the tag comes before the id).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

from chronoq.core.names import validate_account_name, validate_lock_name, validate_queue_name

DEFAULT_PREFIX = "chronoq"


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


def locks_registry(prefix: str) -> str:
    """`Keyspace.locks` (and `LockKeys.registry`): one name for both."""
    return f"{prefix}:{{~}}:locks"


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


@dataclass(frozen=True)
class WorkflowKeys:
    """The keys of one workflow. All share the hash tag `{wf:<id>}`: its scripts
    touch one slot on a Cluster."""

    prefix: str
    workflow_id: str

    def _key(self, name: str) -> str:
        return f"{self.prefix}:{{wf:{self.workflow_id}}}:{name}"

    @property
    def record(self) -> str:
        """HASH: status, stage (open stage index), open (its unfinished nodes), spec
        (JSON), name, created, updated (ms)."""
        return self._key("wf")

    @property
    def nodes(self) -> str:
        """HASH node id ("<stage>" or "<stage>.<item>") -> node JSON (state, due, job,
        queue, call, result, error)."""
        return self._key("nodes")


@dataclass(frozen=True)
class CampaignKeys:
    """The keys of one campaign. All share the hash tag `{cmp:<name>}`: its scripts
    touch one slot on a Cluster."""

    prefix: str
    name: str

    def _key(self, part: str) -> str:
        return f"{self.prefix}:{{cmp:{self.name}}}:{part}"

    @property
    def record(self) -> str:
        """HASH: spec (JSON), state, runs (started so far), live (the live run's
        number, '' when none), fence (highest run-start token), last_error,
        pause_reason, refused (why the last run start was refused), created, updated."""
        return self._key("cmp")

    @property
    def runs(self) -> str:
        """HASH run number -> run JSON (workflow, fence, started, ended, status, error)."""
        return self._key("runs")

    @property
    def recipients(self) -> str:
        """HASH email (lowercased) -> recipient JSON: every recipient ever enrolled
        (a recipient is enrolled once per campaign, whatever the run)."""
        return self._key("recipients")

    @property
    def stops(self) -> str:
        """HASH email -> stop reason (reply, bounce, unsubscribe) recorded for this
        campaign: that recipient's steps not yet begun end skipped."""
        return self._key("stops")

    @property
    def marks(self) -> str:
        """HASH "<step>|<email>" -> mark JSON {job, state, reason}: who began that
        step for that recipient and how it ended (sent, skipped, failed); the guard
        that no (campaign, step, recipient) runs twice, across runs too."""
        return self._key("marks")

    @property
    def deferred(self) -> str:
        """HASH "<step>|<email>" -> {until, reason} JSON: when a step job deferred at
        its grant (window, cap, paused) asks again; cleared when the step ends
        (the campaign view's next send for jobs already queued)."""
        return self._key("deferred")


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
class CampaignAccountKeys:
    """The campaign send counters of one sending account. All share the hash tag
    `{cmpa:<account>}`: a grant checks and counts the account's day in one script."""

    prefix: str
    account: str

    def _key(self, suffix: str) -> str:
        return f"{self.prefix}:{{cmpa:{self.account}}}:{suffix}"

    @property
    def day_prefix(self) -> str:
        """Prefix of the per-day counters (day_prefix + account-local ISO day): HASH
        n (sends granted that day), d:<domain> (sends to that recipient domain)."""
        return self._key("day:")

    def day(self, day: str) -> str:
        return self.day_prefix + day

    @property
    def ids_prefix(self) -> str:
        """Prefix of the per-day grant ids (ids_prefix + ISO day): SET of the grant
        ids counted that day, so a grant asked twice counts once."""
        return self._key("ids:")

    def ids(self, day: str) -> str:
        return self.ids_prefix + day

    @property
    def meta(self) -> str:
        """HASH first: the account's first local day of sending (warm-up day 0)."""
        return self._key("meta")


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
