"""The keys of workflows and campaigns: one workflow's (`{wf:<id>}`), one
campaign's (`{cmp:<name>}`) and one sending account's campaign counters
(`{cmpa:<account>}`). Their cluster-wide indexes are `Keyspace`'s."""

from __future__ import annotations

from dataclasses import dataclass


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
