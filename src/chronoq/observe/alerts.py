"""The alert engine: evaluates the rules against one snapshot, applies the
transitions in Redis, and notifies the channels of the ones this evaluator won.

Every worker (and `chronoq scheduler`) runs `AlertEngine.run` every `interval`
seconds (15 by default). Each round reads one `Snapshot` (the same cheap read as
`chronoq health`), samples the queues' counters (for the windowed rules), and
sends one `alert_transition.lua` call per (rule, subject) it observed, plus one
"not breached" for each stored state it no longer observes (a queue or worker that
went away resolves). The script compares-and-sets the state and tells exactly one
caller to notify, so N evaluators give one notification per firing and one per
resolution. A notification is sent after the state changed: an evaluator that
dies in between loses that one (at most once).

The success rate comes from the rollups (`chronoq.observe.rollups.window` over
the rule's window: succeeded / (succeeded + failed) attempts), so one owner computes
it. Dead-letter growth comes from the queues' lifetime `dead` counter's growth over
the window, against samples the evaluators store (`AlertStore.sample`): the rollups
do not count jobs dead-lettered by a claim (a bad record, `on_locked="fail"`); lost
locks likewise, from the lock families' lifetime `lost` counts. The schedule,
long-run, limit and lock rules' reads are `chronoq.observe.alert_inputs`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator, Mapping, Sequence

from chronoq.core.alerts import (
    DEFAULT_RULES,
    INTERVAL,
    AlertRule,
    Channel,
    Notification,
    RuleKind,
    merge_rules,
)
from chronoq.core.ids import created_ms
from chronoq.observe.alert_inputs import (
    LOCKS,
    InputReader,
    Inputs,
    Reading,
    lock_losses,
    readings,
    success_rate,
)
from chronoq.observe.channels import deliver
from chronoq.observe.health import FiringAlert, Level, consumers
from chronoq.redis.alerts import AlertStore, Observation, Transition
from chronoq.redis.backend import Backend
from chronoq.redis.errors import REDIS_FAULTS
from chronoq.redis.snapshot import QueueState, Snapshot

log = logging.getLogger("chronoq.alerts")

MB = 1_000_000
Baselines = Mapping[tuple[str, float], Mapping[str, int]]


def observe(
    rules: Sequence[AlertRule], snapshot: Snapshot, baselines: Baselines, inputs: Inputs
) -> list[Observation]:
    """Every enabled rule's observations in `snapshot` and `inputs` (pure)."""
    found: list[Observation] = []
    for rule in rules:
        if rule.enabled:
            found.extend(_observe(rule, snapshot, baselines, inputs))
    return found


def _observe(
    rule: AlertRule, snapshot: Snapshot, baselines: Baselines, inputs: Inputs
) -> Iterator[Observation]:
    kind, limit = rule.kind, rule.limit
    if kind.per_queue:
        serving = consumers(snapshot)
        for q in snapshot.queues:
            if not rule.watches(q.name):
                continue
            if kind is RuleKind.SUCCESS_RATE:
                reading = success_rate(rule, q.name, inputs)
            else:
                reading = _queue_reading(rule, q, serving.get(q.name, 0), inputs.now_ms, baselines)
            if reading is not None:
                breached, value, message = reading
                yield Observation(rule.name, q.name, breached, value, message, rule.level)
    elif kind is RuleKind.WORKER_MEMORY:
        for worker in snapshot.workers:
            rss = worker.info.get("rss")
            if worker.alive and rss and rss.isdigit():
                mb = int(rss) / MB
                message = f"worker {worker.id} uses {mb:.0f} MB (limit {limit:g} MB)"
                yield Observation(rule.name, worker.id, mb > limit, round(mb, 1), message,
                                  rule.level)  # fmt: skip
    elif kind in (RuleKind.REDIS_MEMORY, RuleKind.REDIS_EVICTION):
        yield from _server_readings(rule, snapshot)
    elif kind is RuleKind.LOCK_LOST:
        yield from lock_losses(rule, inputs, baselines.get((LOCKS, rule.window)))
    else:
        yield from readings(rule, inputs)


def _server_readings(rule: AlertRule, snapshot: Snapshot) -> Iterator[Observation]:
    kind, limit = rule.kind, rule.limit
    if kind is RuleKind.REDIS_MEMORY:
        memory = snapshot.info.get("memory", {})
        used, cap = memory.get("used_memory"), memory.get("maxmemory")
        if used is not None and cap:
            ratio = int(used) / int(cap)
            message = f"Redis uses {ratio:.0%} of maxmemory (limit {limit:.0%})"
            yield Observation(rule.name, "redis", ratio > limit, round(ratio, 4), message,
                              rule.level)  # fmt: skip
    elif kind is RuleKind.REDIS_EVICTION:
        policy = snapshot.info.get("memory", {}).get("maxmemory_policy")
        if policy is not None:
            message = f"maxmemory-policy is {policy}: Redis may evict queue and lease keys"
            if policy == "noeviction":
                message = "maxmemory-policy is noeviction"
            yield Observation(rule.name, "redis", policy != "noeviction", None, message,
                              rule.level)  # fmt: skip


def _queue_reading(
    rule: AlertRule, q: QueueState, workers: int, now_ms: int, baselines: Baselines
) -> Reading | None:
    kind, limit, waiting = rule.kind, rule.limit, q.sizes.get("queued", 0)
    if kind is RuleKind.QUEUE_LENGTH:
        return waiting > limit, waiting, f"{waiting} job(s) waiting in {q.name} (limit {limit:g})"
    if kind is RuleKind.OLDEST_JOB_AGE:
        born = created_ms(q.head_id) if q.head_id else None
        age = max(0.0, (now_ms - born) / 1000) if born is not None else 0.0
        message = f"the next job in {q.name} has waited {age:.0f} s (limit {limit:g} s)"
        return age > limit, round(age, 1), message
    if kind is RuleKind.NO_CONSUMERS:
        message = f"{waiting} job(s) waiting in {q.name} and {workers} live worker(s) consume it"
        return bool(waiting) and not workers, workers, message
    base = baselines.get((q.name, rule.window))
    return None if base is None else _dead_growth(rule, q, base)


def _dead_growth(rule: AlertRule, q: QueueState, base: Mapping[str, int]) -> Reading:
    """Jobs dead-lettered since `base`: the lifetime counter's growth."""
    limit, span = rule.limit, f"the last {rule.window / 60:g} min"
    dead = max(0, q.counters.get("dead", 0) - base.get("dead", 0))
    return dead > limit, dead, f"{dead} job(s) of {q.name} dead in {span} (limit {limit:g})"


class AlertEngine:
    """One evaluator. Rules: the defaults, replaced by `declared` ones (the app's
    code), replaced by those stored at runtime; channels: `declared` and stored."""

    def __init__(
        self,
        backend: Backend,
        *,
        rules: Mapping[str, AlertRule] | None = None,
        channels: Mapping[str, Channel] | None = None,
        app: str = "",
        interval: float = INTERVAL,
    ) -> None:
        self.backend = backend
        self.store: AlertStore = backend.alerts
        self.declared_rules = rules if rules is not None else {}  # read each round
        self.declared_channels = channels if channels is not None else {}
        self.app = app
        self.interval = interval
        self.sent: list[tuple[Transition, str]] = []  # what this evaluator notified, and where
        self.inputs = InputReader(backend)

    async def rules(self) -> list[AlertRule]:
        return merge_rules(DEFAULT_RULES, self.declared_rules, await self.store.rules())

    async def channels(self) -> dict[str, Channel]:
        return {**self.declared_channels, **await self.store.channels()}

    async def evaluate(self) -> list[Transition]:
        """One round; returns the transitions that this evaluator notified."""
        rules = await self.rules()
        by_name = {r.name: r for r in rules}
        snapshot = await self.backend.snapshots.read()
        now_ms = snapshot.server_ms or int(time.time() * 1000)
        windows = sorted({r.window for r in rules if r.enabled and r.kind.sampled})
        inputs = await self.inputs.read(rules, snapshot, now_ms)
        counters = {q.name: q.counters for q in snapshot.queues}
        if inputs.lock_losses is not None:
            counters[LOCKS] = inputs.lock_losses
        baselines = await self.store.sample(counters, now_ms, windows)
        observations = observe(rules, snapshot, baselines, inputs)
        seen = {(o.rule, o.subject) for o in observations}
        for state in await self.store.states():
            gone = (state.rule, state.subject) not in seen and state.state != "resolved"
            if gone and state.rule in by_name:
                observations.append(Observation(state.rule, state.subject, False, None,
                                                "no longer observed", state.level))  # fmt: skip
        transitions = await self.store.transition(observations, observed_ms=now_ms, rules=by_name)
        won = [t for t in transitions if t.action]
        if won:
            await self._notify(won, by_name, await self.channels())
        return won

    async def _notify(
        self,
        won: Sequence[Transition],
        rules: Mapping[str, AlertRule],
        channels: Mapping[str, Channel],
    ) -> None:
        sends = []
        for t in won:
            o, rule = t.observation, rules[t.observation.rule]
            event = "firing" if t.action == "fire" else "resolved"
            note = Notification(event, o.rule, o.subject, o.level, o.message, o.value,
                                rule.limit, time.time(), self.app)  # fmt: skip
            for name, channel in channels.items():
                if not rule.channels or name in rule.channels:
                    self.sent.append((t, name))
                    sends.append(deliver(channel, note, self.store))
            log.warning("chronoq alert %s %s: %s", event, o.rule, o.message)
        await asyncio.gather(*sends)

    async def run(self, stop: asyncio.Event, *, wait_first: bool = True) -> None:
        """Evaluate every `interval` until `stop`; a Redis fault skips a round.
        `wait_first=False`: the first round at once (its interval was waited out)."""
        wait = wait_first
        while not stop.is_set():
            if wait:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.interval)
            wait = True
            if stop.is_set():
                return
            try:
                await self.evaluate()
            except REDIS_FAULTS as exc:
                log.warning("chronoq alerts: this round was skipped: %s", exc)


class StoredAlerts:
    """`AlertSource` for `check_health`: the firing, unsilenced alerts in Redis."""

    def __init__(self, store: AlertStore) -> None:
        self.store = store

    async def firing(self) -> list[FiringAlert]:
        silenced = {(s.rule, s.subject) for s in await self.store.silences()}
        alerts = []
        for state in await self.store.states():
            quiet = (state.rule, "") in silenced or (state.rule, state.subject) in silenced
            if state.state == "firing" and not quiet:
                level = Level.CRITICAL if state.level == "critical" else Level.WARNING
                alerts.append(FiringAlert(f"{state.rule}:{state.subject}", level, state.message))
        return alerts
