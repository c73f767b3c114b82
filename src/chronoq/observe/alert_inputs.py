"""What the alert rules read beyond the snapshot, and their readings (pure).

The snapshot (`chronoq.redis.snapshot`) covers the queues, workers and server. The
other rules read, once per round and only when an enabled rule needs it:

* `success_rate`: the rollup window (`chronoq.observe.rollups.window`) of the
  rule's `window`, per queue; the rollups own the success rate
  (succeeded / (succeeded + failed) attempts);
* `long_run`: up to `RUNNING_READ` leased jobs per queue and their start times
  (`Inspector.running`), against each (queue, task)'s p95 run time over the last
  24 h of rollups (read again at most every `P95_REFRESH` seconds);
* `schedule_late`: every schedule (`ScheduleStore.all`);
* `rate_limit_utilization` and `quota_exhaustion`: each limit's recently used keys
  (`LimitStore.usage`: at most 50 per limit);
* `lock_lost`: the locks' lifetime loss counts per family (`OpsStore.totals`), whose
  growth over the window is measured against the evaluators' samples, as a queue's
  dead count is (the subject `LOCKS` in the samples: no queue name has a '~').

Subjects stay bounded: queues, tasks, schedules and limits are what the app declared;
lock families are capped (`chronoq.core.ops.FAMILY_CAP`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from chronoq.core.alerts import AlertRule, RuleKind
from chronoq.core.errors import LimitNotFound
from chronoq.core.job import to_millis
from chronoq.core.limits import Kind, Limit
from chronoq.observe.rollups import Rollup, window
from chronoq.redis.alerts import Observation
from chronoq.redis.backend import Backend
from chronoq.redis.inspector import RunningJob
from chronoq.redis.limits import KeyUsage
from chronoq.redis.schedules import ScheduleInfo
from chronoq.redis.snapshot import Snapshot

LOCKS = "~locks"  # the samples' subject of the lock loss counts
LONG_RUN_HOURS = 24.0  # the span of the p95 a long run is measured against
P95_REFRESH = 300.0  # seconds a p95 read is reused

Usage = tuple[Limit, list[KeyUsage]]


@dataclass(slots=True)
class Inputs:
    """One round's reads for the rules the snapshot does not cover."""

    now_ms: int
    rates: dict[float, dict[str, Rollup]] = field(default_factory=dict)  # window -> queue
    run_p95: Mapping[tuple[str, str], float] = field(default_factory=dict)  # (queue, task) -> s
    running: list[RunningJob] = field(default_factory=list)
    schedules: list[ScheduleInfo] = field(default_factory=list)
    limits: list[Usage] = field(default_factory=list)
    lock_losses: dict[str, int] | None = None  # family -> locks lost so far (lock_lost)


class InputReader:
    """Reads `Inputs` for one evaluator (it keeps the last p95 read)."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._p95: tuple[float, dict[tuple[str, str], float]] | None = None

    async def read(self, rules: Sequence[AlertRule], snapshot: Snapshot, now_ms: int) -> Inputs:
        kinds = {r.kind for r in rules if r.enabled}
        inputs = Inputs(now_ms)
        rated = {r.window for r in rules if r.enabled and r.kind is RuleKind.SUCCESS_RATE}
        for seconds in sorted(rated):
            w = await window(self.backend, seconds / 3600, now_ms=now_ms, snapshot=snapshot)
            inputs.rates[seconds] = w.by_queue
        if RuleKind.LONG_RUN in kinds:
            busy = [q.name for q in snapshot.queues if q.sizes.get("running", 0)]
            inputs.running = await self.backend.inspector.running(busy)
            if inputs.running:
                inputs.run_p95 = await self._run_p95(snapshot, now_ms)
        if RuleKind.SCHEDULE_LATE in kinds:
            inputs.schedules = await self.backend.schedules.all()
        if kinds & {RuleKind.RATE_LIMIT_UTILIZATION, RuleKind.QUOTA_EXHAUSTION}:
            inputs.limits = await self._usage()
        if RuleKind.LOCK_LOST in kinds:
            locks = (await self.backend.ops.totals()).get("lock", {})
            inputs.lock_losses = {family: n.get("lost", 0) for family, n in locks.items()}
        return inputs

    async def _run_p95(self, snapshot: Snapshot, now_ms: int) -> dict[tuple[str, str], float]:
        if self._p95 is not None and time.monotonic() - self._p95[0] < P95_REFRESH:
            return self._p95[1]
        w = await window(self.backend, LONG_RUN_HOURS, now_ms=now_ms, snapshot=snapshot)
        found = {(r.queue or "", r.task or ""): r.run.p95 for r in w.rows if r.run.p95}
        self._p95 = (time.monotonic(), found)
        return found

    async def _usage(self) -> list[Usage]:
        found = []
        for limit in await self.backend.limits.all():
            try:
                found.append((limit, await self.backend.limits.usage(limit.name)))
            except LimitNotFound:  # removed since it was listed
                continue
        return found


def lock_losses(
    rule: AlertRule, inputs: Inputs, base: Mapping[str, int] | None
) -> Iterator[Observation]:
    """Per lock family: locks lost since the oldest sample within the window."""
    if inputs.lock_losses is None or base is None:
        return
    span = f"the last {rule.window / 60:g} min"
    for family, total in sorted(inputs.lock_losses.items()):
        lost = max(0, total - base.get(family, 0))
        message = f"{lost} lock(s) of family {family} lost in {span} (limit {rule.limit:g})"
        yield Observation(rule.name, family, lost > rule.limit, lost, message, rule.level)


def readings(rule: AlertRule, inputs: Inputs) -> Iterator[Observation]:
    """The observations of a rule of the kinds read here (not success_rate: per queue)."""
    if rule.kind is RuleKind.SCHEDULE_LATE:
        yield from _schedules(rule, inputs)
    elif rule.kind is RuleKind.LONG_RUN:
        yield from _long_runs(rule, inputs)
    elif rule.kind is RuleKind.RATE_LIMIT_UTILIZATION:
        yield from _limits(rule, inputs, Kind.RATE)
    elif rule.kind is RuleKind.QUOTA_EXHAUSTION:
        yield from _limits(rule, inputs, Kind.QUOTA)


Reading = tuple[bool, float | None, str]  # breached, value, message


def success_rate(rule: AlertRule, queue: str, inputs: Inputs) -> Reading | None:
    """The queue's success rate over the rule's window, from the rollups."""
    rollup = inputs.rates.get(rule.window, {}).get(queue)
    if rollup is None:
        return None
    limit, span = rule.limit, f"the last {rule.window / 60:g} min"
    attempts = rollup.counts["succeeded"] + rollup.counts["failed"]
    rate = rollup.success_rate
    if attempts < rule.min_jobs or rate is None:
        return False, None, f"{attempts} attempt(s) in {queue} in {span}: too few to judge"
    message = (
        f"{rate:.0%} of {attempts} attempt(s) in {queue} succeeded in {span} (limit {limit:.0%})"
    )
    return rate < limit, round(rate, 4), message


def _schedules(rule: AlertRule, inputs: Inputs) -> Iterator[Observation]:
    for info in inputs.schedules:
        d = info.definition
        if info.next_due is None or d.paused:
            continue  # not due at all: nothing to be late for (a state resolves)
        allowed = d.grace if rule.threshold is None else rule.threshold
        late = max(0.0, (inputs.now_ms - to_millis(info.next_due)) / 1000)
        message = (
            f"schedule {d.name} is {late:.0f} s past its due time {info.next_due.isoformat()} "
            f"(allowed {allowed:g} s): no scheduler loop fires it"
        )
        yield Observation(rule.name, d.name, late > allowed, round(late, 1), message, rule.level)


def _long_runs(rule: AlertRule, inputs: Inputs) -> Iterator[Observation]:
    """Per task, its longest running job against N times its p95 run time."""
    worst: dict[str, tuple[float, float, RunningJob]] = {}  # task -> (ratio, seconds, job)
    for job in inputs.running:
        p95 = inputs.run_p95.get((job.queue, job.task))
        if not p95:
            continue  # no finished run in the last 24 h: nothing to compare with
        seconds = max(0.0, (inputs.now_ms - job.started_ms) / 1000)
        ratio = seconds / p95
        if job.task not in worst or ratio > worst[job.task][0]:
            worst[job.task] = (ratio, seconds, job)
    for task, (ratio, seconds, job) in sorted(worst.items()):
        p95 = inputs.run_p95[job.queue, job.task]
        breached = ratio > rule.limit and seconds >= rule.min_run
        message = (
            f"job {job.id} of {task} in {job.queue} has run {seconds:.0f} s, {ratio:.1f}x its "
            f"p95 of {p95:g} s over the last 24 h (limit {rule.limit:g}x, from {rule.min_run:g} s)"
        )
        yield Observation(rule.name, task, breached, round(ratio, 2), message, rule.level)


def _limits(rule: AlertRule, inputs: Inputs, kind: Kind) -> Iterator[Observation]:
    """Per limit of `kind`: its busiest key now (quotas: at or over the share)."""
    for limit, usage in inputs.limits:
        if limit.kind is not kind or not usage:
            continue
        top = max(usage, key=lambda u: u.utilization)
        share = top.utilization
        breached = share >= rule.limit if kind is Kind.QUOTA else share > rule.limit
        what = "account" if kind is Kind.QUOTA else "key"
        message = (
            f"{kind.value} {limit.name}: {what} {top.key} used {top.used} of {top.limit} "
            f"({share:.0%}) this period (limit {rule.limit:.0%})"
        )
        yield Observation(rule.name, limit.name, breached, round(share, 4), message, rule.level)
